"""audit events are append-only in the database: UPDATE and DELETE refused by triggers

The hash chain detects a rewritten trail; these triggers stop the application's own database
role (and anyone else without the power to disable triggers) from rewriting it at all. On
PostgreSQL a superuser can still bypass them (session_replication_role = replica, or dropping the
trigger): that is what `flask audit verify` and the published chain head are for.

The function is created with OR REPLACE: it outlives `DROP TABLE` (the trigger does not), so a
database whose tables were dropped and migrated again (the test suite, the benchmarks) has it
already.

Revision ID: d5e8a7c41f02
Revises: be4495508aef
Create Date: 2026-11-23 19:05:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd5e8a7c41f02'
down_revision = 'be4495508aef'
branch_labels = None
depends_on = None

MESSAGE = "audit events are append-only: they cannot be changed or deleted"


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'insufficient_privilege';
            END;
            $$
        """)
        op.execute("""
            CREATE TRIGGER audit_events_append_only
            BEFORE UPDATE OR DELETE ON audit_events
            FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()
        """)
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER audit_events_no_{action.lower()}
                BEFORE {action} ON audit_events
                BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END
            """)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION audit_events_append_only()")
    else:
        op.execute("DROP TRIGGER audit_events_no_update")
        op.execute("DROP TRIGGER audit_events_no_delete")
