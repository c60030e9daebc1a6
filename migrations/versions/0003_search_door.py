"""Search through a door function, so the GIN index works under row-level security.

PostgreSQL does not treat the full-text match operator (``ts_match_vq``) as leakproof, so
under RLS it refuses to push ``search_vector @@ q`` into the GIN index and instead checks
every row of the organization. ``app_search_documents`` runs as its owner (which bypasses
RLS), applies the same tenant predicate itself — ``organization_id = app_current_org()`` —
and returns only ids and ranks of the current organization's documents. No context, no rows.

Revision ID: 0003_search_door
Revises: 0002_documents
Create Date: 2026-11-28
"""

from alembic import op

from migrations.rls import app_role

revision = "0003_search_door"
down_revision = "0002_documents"
branch_labels = None
depends_on = None

SIGNATURE = "app_search_documents(tsquery, text, text, integer, integer, integer, integer)"


def upgrade() -> None:
    # Two ways to find the newest p_candidates matches, chosen per query by what is found:
    # * dense queries (common words), and every query of an organization with fewer than
    #   p_window documents, find them among the newest p_window documents, read newest first
    #   through (organization_id, created_at) and stopped early;
    # * otherwise the GIN index intersects the query with the organization's lexeme, and only
    #   this organization's matches are read.
    # The planner cannot choose between them itself: it takes the lexeme and organization_id
    # as independent and underestimates an organization's matches a hundredfold.
    op.execute(
        """
        CREATE FUNCTION app_search_documents(
            p_query tsquery, p_status text, p_type text,
            p_limit integer, p_offset integer, p_candidates integer, p_window integer
        ) RETURNS TABLE (id uuid, rank real)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
            WITH recent AS MATERIALIZED (
                SELECT w.id, w.search_vector, w.created_at
                FROM (
                    SELECT d.id, d.search_vector, d.created_at, d.status, d.detected_type
                    FROM public.documents d
                    WHERE d.organization_id = public.app_current_org()
                    ORDER BY d.created_at DESC
                    LIMIT p_window
                ) w
                WHERE w.search_vector @@ p_query
                  AND (p_status IS NULL OR w.status = p_status)
                  AND (p_type IS NULL OR w.detected_type = p_type)
                LIMIT p_candidates
            ),
            -- Enough when the newest documents held p_candidates matches, or when they were
            -- all of the organization's documents (a small organization is read whole).
            dense AS (
                SELECT count(*) >= p_candidates OR (
                    SELECT count(*) < p_window FROM (
                        SELECT 1 FROM public.documents d
                        WHERE d.organization_id = public.app_current_org()
                        LIMIT p_window
                    ) everything
                ) AS enough
                FROM recent
            ),
            sparse AS MATERIALIZED (
                SELECT d.id, d.search_vector, d.created_at
                FROM public.documents d
                WHERE NOT (SELECT enough FROM dense)
                  AND d.organization_id = public.app_current_org()
                  AND d.search_vector @@ (p_query && to_tsquery('simple',
                        'org' || replace(public.app_current_org()::text, '-', '')))
                  AND (p_status IS NULL OR d.status = p_status)
                  AND (p_type IS NULL OR d.detected_type = p_type)
                ORDER BY d.created_at DESC
                LIMIT p_candidates
            ),
            candidates AS (
                SELECT * FROM recent WHERE (SELECT enough FROM dense)
                UNION ALL
                SELECT * FROM sparse
            )
            SELECT c.id, ts_rank_cd(c.search_vector, p_query) AS rank
            FROM candidates c
            ORDER BY rank DESC, c.created_at DESC, c.id
            LIMIT p_limit OFFSET p_offset
        $$
        """
    )
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO {app_role()}")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {SIGNATURE}")
