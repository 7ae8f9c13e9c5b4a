"""audit trail retention: a recorded cut may remove the oldest rows

The triggers of 0008 refuse every DELETE of audit_events. The trail now has
a retention setting (CONSENTRY_AUDIT_RETENTION_DAYS, service.audit.cut): its
oldest rows may go, but only rows a recorded cut covers. So DELETE is
refused unless the row's id is at most the highest ``removed_through_id`` in
audit_cuts (the cut is inserted first, in the same transaction); UPDATE and
TRUNCATE stay refused. audit_cuts itself is append-only: a cut, once
recorded, is neither changed nor removed (its anchor is what the kept part
of the chain is verified from).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 20:30:00.000000
"""
from collections.abc import Sequence

from alembic import op

REFUSAL = "audit_events is append-only"
CUT_REFUSAL = "audit_cuts is append-only"
COVERED = "(SELECT COALESCE(MAX(removed_through_id), 0) FROM audit_cuts)"

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _postgresql():
        op.execute("DROP TRIGGER audit_events_no_change ON audit_events")
        op.execute(
            "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_refuse()"
        )
        op.execute(
            "CREATE FUNCTION audit_events_refuse_uncut() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN IF OLD.id <= {COVERED} THEN RETURN OLD; END IF; "
            f"RAISE EXCEPTION '{REFUSAL}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_uncut()"
        )
        op.execute(
            "CREATE FUNCTION audit_cuts_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{CUT_REFUSAL}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_cuts_no_change BEFORE UPDATE OR DELETE ON audit_cuts "
            "FOR EACH ROW EXECUTE FUNCTION audit_cuts_refuse()"
        )
        op.execute(
            "CREATE TRIGGER audit_cuts_no_truncate BEFORE TRUNCATE ON audit_cuts "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_cuts_refuse()"
        )
        return
    op.execute("DROP TRIGGER audit_events_no_delete")
    op.execute(
        "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
        f"WHEN OLD.id > {COVERED} "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
    )
    for name, statement in {
        "audit_cuts_no_update": "UPDATE",
        "audit_cuts_no_delete": "DELETE",
    }.items():
        op.execute(
            f"CREATE TRIGGER {name} BEFORE {statement} ON audit_cuts "
            f"BEGIN SELECT RAISE(ABORT, '{CUT_REFUSAL}'); END"
        )


def downgrade() -> None:
    if _postgresql():
        op.execute("DROP TRIGGER audit_cuts_no_truncate ON audit_cuts")
        op.execute("DROP TRIGGER audit_cuts_no_change ON audit_cuts")
        op.execute("DROP FUNCTION audit_cuts_refuse()")
        op.execute("DROP TRIGGER audit_events_no_delete ON audit_events")
        op.execute("DROP FUNCTION audit_events_refuse_uncut()")
        op.execute("DROP TRIGGER audit_events_no_update ON audit_events")
        op.execute(
            "CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_refuse()"
        )
        return
    op.execute("DROP TRIGGER audit_cuts_no_delete")
    op.execute("DROP TRIGGER audit_cuts_no_update")
    op.execute("DROP TRIGGER audit_events_no_delete")
    op.execute(
        "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
    )
