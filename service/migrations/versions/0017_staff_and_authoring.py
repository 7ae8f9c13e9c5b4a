"""staff administration and campaign authoring

Staff: the UI language each member chooses (existing members get Finnish),
the last sign-in, and one-time set-password links (invitations and resets,
only the token's hash kept). Authoring: saved MJML layouts, and per
campaign how its body is written (HTML or Markdown, the Markdown kept as
``body_source``), whether its text part was written by hand, and its layout.
Existing campaigns keep what they were: HTML, a text part as written, no
layout.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 23:47:02.960915
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate names sqlmodel's column types)
from alembic import op


revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('layouts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('mjml', sa.Text(), nullable=False),
    sa.Column('html', sa.Text(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_layouts_created_by_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_layouts')),
    sa.UniqueConstraint('name', name=op.f('uq_layouts_name'))
    )
    op.create_table('staff_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=14), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_staff_links_created_by_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_staff_links_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_staff_links_token_hash'))
    )
    with op.batch_alter_table('staff_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_links_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('body_format', sa.String(length=16), server_default='html', nullable=False))
        batch_op.add_column(sa.Column('body_source', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('text_written', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('layout_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_campaigns_layout_id'), ['layout_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_campaigns_layout_id_layouts'), 'layouts', ['layout_id'], ['id'], ondelete='RESTRICT')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=2), server_default='fi', nullable=False))
        batch_op.add_column(sa.Column('last_sign_in_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('last_sign_in_at')
        batch_op.drop_column('language')

    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_campaigns_layout_id_layouts'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_campaigns_layout_id'))
        batch_op.drop_column('layout_id')
        batch_op.drop_column('text_written')
        batch_op.drop_column('body_source')
        batch_op.drop_column('body_format')

    with op.batch_alter_table('staff_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_links_user_id'))

    op.drop_table('staff_links')
    op.drop_table('layouts')
