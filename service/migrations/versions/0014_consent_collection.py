"""consent collection: texts archive, signup forms, double opt-in, portal links,
site consent, soft opt-in evidence

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 16:03:11.206604
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate names sqlmodel's column types)
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('public_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('key_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('occurred_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_public_attempts'))
    )
    with op.batch_alter_table('public_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_public_attempts_key', ['kind', 'key_hash', 'occurred_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_public_attempts_occurred_at'), ['occurred_at'], unique=False)

    op.create_table('consent_texts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_consent_texts_created_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_texts')),
    sa.UniqueConstraint('key', 'language', 'version', name='uq_consent_texts_version')
    )
    with op.batch_alter_table('consent_texts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_texts_key'), ['key'], unique=False)

    op.create_table('portal_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('session_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('session_expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_portal_links_contact_id_contacts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_links')),
    sa.UniqueConstraint('session_hash', name=op.f('uq_portal_links_session_hash')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_portal_links_token_hash'))
    )
    with op.batch_alter_table('portal_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_links_contact_id'), ['contact_id'], unique=False)

    op.create_table('signup_forms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('languages', sa.JSON(), nullable=False),
    sa.Column('offers', sa.JSON(), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('notice_version', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('thank_you_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('confirmed_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('origins', sa.JSON(), nullable=False),
    sa.Column('double_opt_in', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_signup_forms_created_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signup_forms')),
    sa.UniqueConstraint('slug', name=op.f('uq_signup_forms_slug'))
    )
    op.create_table('form_versions',
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_form_versions_created_by_user_id_users')),
    sa.ForeignKeyConstraint(['form_id'], ['signup_forms.id'], name=op.f('fk_form_versions_form_id_signup_forms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('form_id', 'version', name=op.f('pk_form_versions'))
    )
    op.create_table('signups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('form_version', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('created_contact', sa.Boolean(), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
    sa.Column('offers', sa.JSON(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('submitted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('submission_ip', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('confirmed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('confirmation_ip', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_signups_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['form_id'], ['signup_forms.id'], name=op.f('fk_signups_form_id_signup_forms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signups')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_signups_token_hash'))
    )
    with op.batch_alter_table('signups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signups_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signups_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_signups_form_id'), ['form_id'], unique=False)

    op.create_table('site_consent_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visitor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('text_id', sa.Integer(), nullable=True),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
    sa.Column('ip_network', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('occurred_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_site_consent_events_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['text_id'], ['consent_texts.id'], name=op.f('fk_site_consent_events_text_id_consent_texts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_consent_events'))
    )
    with op.batch_alter_table('site_consent_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_site_consent_events_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_site_consent_events_occurred_at'), ['occurred_at'], unique=False)
        batch_op.create_index('ix_site_consent_events_visitor', ['visitor', 'category', 'id'], unique=False)

    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('text_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True))
        batch_op.add_column(sa.Column('form_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('form_version', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('submitted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('submission_ip', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_consent_events_form_id_signup_forms'), 'signup_forms', ['form_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_consent_events_text_id_consent_texts'), 'consent_texts', ['text_id'], ['id'])

    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending_since', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))

    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('product_group', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
        batch_op.add_column(sa.Column('address_collected', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('refusal_offered', sa.Boolean(), nullable=False, server_default=sa.false()))



def downgrade() -> None:
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.drop_column('refusal_offered')
        batch_op.drop_column('address_collected')
        batch_op.drop_column('product_group')

    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_column('pending_since')

    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_consent_events_text_id_consent_texts'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_consent_events_form_id_signup_forms'), type_='foreignkey')
        batch_op.drop_column('submission_ip')
        batch_op.drop_column('submitted_at')
        batch_op.drop_column('form_version')
        batch_op.drop_column('form_id')
        batch_op.drop_column('language')
        batch_op.drop_column('text_id')

    with op.batch_alter_table('site_consent_events', schema=None) as batch_op:
        batch_op.drop_index('ix_site_consent_events_visitor')
        batch_op.drop_index(batch_op.f('ix_site_consent_events_occurred_at'))
        batch_op.drop_index(batch_op.f('ix_site_consent_events_contact_id'))

    op.drop_table('site_consent_events')
    with op.batch_alter_table('signups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signups_form_id'))
        batch_op.drop_index(batch_op.f('ix_signups_expires_at'))
        batch_op.drop_index(batch_op.f('ix_signups_contact_id'))

    op.drop_table('signups')
    op.drop_table('form_versions')
    op.drop_table('signup_forms')
    with op.batch_alter_table('portal_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_links_contact_id'))

    op.drop_table('portal_links')
    with op.batch_alter_table('consent_texts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_texts_key'))

    op.drop_table('consent_texts')
    with op.batch_alter_table('public_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_public_attempts_occurred_at'))
        batch_op.drop_index('ix_public_attempts_key')

    op.drop_table('public_attempts')
