"""Operations: what /readyz and /metrics read as the runtime role.

- ``SELECT`` on ``alembic_version``, so the readiness probe can tell that the schema is at
  the migrations' head (the revision names no tenant and holds nothing else);
- the door function ``app_operate_backlog(stuck_after)``, the platform role's: platform-wide
  counts for the metrics, never a row or an id — outbox messages not yet sent and the age of
  the oldest, and documents in a processing state whose lease expired (0012; a row from before
  leases: not moved for ``stuck_after``), read through 0012's ``ix_documents_in_progress``.

Revision ID: 0013_operate
Revises: 0012_leases
Create Date: 2026-12-01
"""

from alembic import op

from migrations.rls import app_role, grant_door

revision = "0013_operate"
down_revision = "0012_leases"
branch_labels = None
depends_on = None

FUNCTION = "app_operate_backlog(interval)"


def upgrade() -> None:
    op.execute(f"GRANT SELECT ON alembic_version TO {app_role()}")
    op.execute(
        "CREATE FUNCTION app_operate_backlog(p_stuck_after interval) "
        "RETURNS TABLE (outbox_pending bigint, outbox_oldest_seconds double precision, "
        "stuck_documents bigint) LANGUAGE sql STABLE SECURITY DEFINER "
        "SET search_path = '' AS $$ "
        "SELECT (SELECT count(*) FROM public.outbox o WHERE o.dispatched_at IS NULL), "
        "(SELECT coalesce(extract(epoch FROM now() - min(o.created_at)), 0)::double precision "
        " FROM public.outbox o WHERE o.dispatched_at IS NULL), "
        "(SELECT count(*) FROM public.documents d "
        " WHERE d.status IN ('extracting', 'analysing') "
        " AND coalesce(d.lease_expires_at, d.updated_at + p_stuck_after) < now()) $$"
    )
    # Counts across organizations: a door of the platform role's (0010, "Roles by trust").
    grant_door(FUNCTION, "platform")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {FUNCTION}")
    op.execute(f"REVOKE SELECT ON alembic_version FROM {app_role()}")
