"""Announce changed limits: NOTIFY pmdi_limits when a plan, or an organization's plan,
overrides or status, changes.

Web processes remember each API token's windows, so its rate-limit check starts before the
token lookup and a flood is refused without a database query (webapp/remembered.py); they
LISTEN on this channel and forget what they remember the moment any limit changes, however it
was changed (admin page, flask command, or SQL by hand).

Revision ID: 0009_limit_changes
Revises: 0008_admin_usage
Create Date: 2026-12-01
"""

from alembic import op

revision = "0009_limit_changes"
down_revision = "0008_admin_usage"
branch_labels = None
depends_on = None

CHANNEL = "pmdi_limits"


def upgrade() -> None:
    op.execute(
        f"""
        CREATE FUNCTION app_announce_limit_change() RETURNS trigger
        LANGUAGE plpgsql SET search_path = '' AS $$
        BEGIN
            PERFORM pg_catalog.pg_notify('{CHANNEL}', TG_TABLE_NAME);
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER announce_limit_change AFTER UPDATE OR DELETE ON plans "
        "FOR EACH STATEMENT EXECUTE FUNCTION app_announce_limit_change()"
    )
    op.execute(
        "CREATE TRIGGER announce_limit_change "
        "AFTER UPDATE OF plan_id, quota_overrides, status ON organizations FOR EACH ROW "
        "WHEN (OLD.plan_id IS DISTINCT FROM NEW.plan_id "
        "OR OLD.quota_overrides IS DISTINCT FROM NEW.quota_overrides "
        "OR OLD.status IS DISTINCT FROM NEW.status) "
        "EXECUTE FUNCTION app_announce_limit_change()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER announce_limit_change ON organizations")
    op.execute("DROP TRIGGER announce_limit_change ON plans")
    op.execute("DROP FUNCTION app_announce_limit_change()")
