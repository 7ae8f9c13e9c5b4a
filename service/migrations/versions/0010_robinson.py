"""robinson: the do-not-call register's extracts and their numbers' keyed hashes

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 00:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate names sqlmodel's column types)
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No backfill: contacts.phone_hash (0001) is already the keyed hash the
    # numbers are matched on.
    op.create_table('robinson_extracts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('extract_date', sa.Date(), nullable=False),
    sa.Column('loaded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('file_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('number_count', sa.Integer(), nullable=False),
    sa.Column('loaded_by_user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['loaded_by_user_id'], ['users.id'], name=op.f('fk_robinson_extracts_loaded_by_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_robinson_extracts'))
    )
    with op.batch_alter_table('robinson_extracts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_robinson_extracts_loaded_at'), ['loaded_at'], unique=False)

    op.create_table('robinson_numbers',
    sa.Column('extract_id', sa.Integer(), nullable=False),
    sa.Column('phone_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['extract_id'], ['robinson_extracts.id'], name=op.f('fk_robinson_numbers_extract_id_robinson_extracts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('extract_id', 'phone_hash', name=op.f('pk_robinson_numbers'))
    )
    with op.batch_alter_table('robinson_numbers', schema=None) as batch_op:
        batch_op.create_index('ix_robinson_numbers_phone_hash', ['phone_hash'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('robinson_numbers', schema=None) as batch_op:
        batch_op.drop_index('ix_robinson_numbers_phone_hash')

    op.drop_table('robinson_numbers')
    with op.batch_alter_table('robinson_extracts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_robinson_extracts_loaded_at'))

    op.drop_table('robinson_extracts')
