"""Operations: what /readyz and /metrics read as the runtime role.

- ``SELECT`` on ``alembic_version``, so the readiness probe can tell that the schema is at
  the migrations' head (the revision names no tenant and holds nothing else);
- the door function ``app_operate_backlog(stuck_after)``: platform-wide counts for the
  metrics, never a row or an id — outbox messages not yet sent and the age of the oldest,
  and documents in a processing state for longer than ``stuck_after``;
- a partial index on unfinished documents by ``updated_at``, so that count (and the reaper's
  door) reads only unfinished documents, however many are done.

Revision ID: 0014_operate
Revises: 0009_limit_changes
Create Date: 2026-12-01
"""

from alembic import op

from migrations.rls import app_role

revision = "0014_operate"
down_revision = "0009_limit_changes"
branch_labels = None
depends_on = None

FUNCTION = "app_operate_backlog(interval)"


def upgrade() -> None:
    op.execute(f"GRANT SELECT ON alembic_version TO {app_role()}")
    op.execute(
        "CREATE INDEX ix_documents_unfinished ON documents (updated_at) "
        "WHERE status IN ('queued', 'extracting', 'analysing')"
    )
    op.execute(
        "CREATE FUNCTION app_operate_backlog(p_stuck_after interval) "
        "RETURNS TABLE (outbox_pending bigint, outbox_oldest_seconds double precision, "
        "stuck_documents bigint) LANGUAGE sql STABLE SECURITY DEFINER "
        "SET search_path = '' AS $$ "
        "SELECT (SELECT count(*) FROM public.outbox o WHERE o.dispatched_at IS NULL), "
        "(SELECT coalesce(extract(epoch FROM now() - min(o.created_at)), 0)::double precision "
        " FROM public.outbox o WHERE o.dispatched_at IS NULL), "
        "(SELECT count(*) FROM public.documents d "
        " WHERE d.status IN ('queued', 'extracting', 'analysing') "
        " AND d.updated_at < now() - p_stuck_after) $$"
    )
    op.execute(f"REVOKE ALL ON FUNCTION {FUNCTION} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {FUNCTION} TO {app_role()}")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {FUNCTION}")
    op.execute("DROP INDEX ix_documents_unfinished")
    op.execute(f"REVOKE SELECT ON alembic_version FROM {app_role()}")
