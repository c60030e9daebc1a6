"""Nothing grows with the number of organizations on the platform admin's list (issue 15).

* ``usage_totals`` keeps each organization's member and document counts, maintained by
  triggers on ``users`` and ``documents`` (in the writing transaction, under RLS like the
  write itself), so the list reads one row per organization instead of counting per row;
  existing organizations are backfilled here (a missing totals row is created with its
  stored bytes, as ``webapp.quotas`` would).
* ``organizations (created_at DESC, id DESC)`` serves the list's keyset pagination; a
  partial index on organizations pending deletion serves the purge's door (the other
  housekeeping doors already had theirs: ``tests/test_housekeeping_plans.py`` checks each).
* ``pg_trgm`` (a contrib extension, created by the owner) and a trigram GIN index on
  ``lower(name)`` serve the name search (``LIKE '%…%'``) — when the server offers the
  extension; the embedded pgserver of the one-command run does not, and searches unindexed.
* ``app_admin_organizations_page(search, limit, after_created, after_id)``: the new read
  door for the list, newest first, a page after a (created_at, id) cursor, counts from
  ``usage_totals``; executable by the platform role only. The old offset door stays for
  anything that still calls it.

Revision ID: 0018_floor
Revises: 0014_workspace
Create Date: 2026-12-01
"""

from alembic import op

from migrations.rls import grant_door

revision = "0018_floor"
down_revision = "0014_workspace"
branch_labels = None
depends_on = None

PAGE = "app_admin_organizations_page(text, integer, timestamptz, uuid)"
PAGE_MAX = 200
# The cursor, or "before everything" for the first page: one row comparison that is always an
# index condition (``cursor IS NULL OR ...`` would make it a filter in the function's generic
# plan, and the last page would read every organization before it).
AFTER = (
    "coalesce(p_after_created, 'infinity'::timestamptz), "
    "coalesce(p_after_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)"
)
COUNT_TRIGGERS = {
    "users": ("app_count_members", "member_count"),
    "documents": ("app_count_documents", "document_count"),
}


def trigram_available() -> bool:
    """Whether the server offers pg_trgm (contrib; the embedded pgserver does not)."""
    found = op.get_bind().exec_driver_sql(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"
    )
    return found.scalar() is not None


def upgrade() -> None:
    trigram = trigram_available()
    if trigram:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        "ALTER TABLE usage_totals ADD COLUMN member_count bigint NOT NULL DEFAULT 0, "
        "ADD COLUMN document_count bigint NOT NULL DEFAULT 0"
    )
    op.execute(
        """
        INSERT INTO usage_totals (organization_id, storage_bytes, member_count, document_count)
        SELECT o.id,
               coalesce((SELECT sum(d.size_bytes) FROM documents d
                         WHERE d.organization_id = o.id), 0),
               (SELECT count(*) FROM users u WHERE u.organization_id = o.id),
               (SELECT count(*) FROM documents d WHERE d.organization_id = o.id)
        FROM organizations o
        ON CONFLICT (organization_id) DO UPDATE
        SET member_count = excluded.member_count, document_count = excluded.document_count
        """
    )
    for table, (function, column) in COUNT_TRIGGERS.items():
        # A new row counts up (creating the totals row if missing: a new organization's
        # first member); a deleted one counts down only where a totals row still exists
        # (the purge deletes the totals row with the rest).
        op.execute(
            f"""
            CREATE FUNCTION {function}() RETURNS trigger
            LANGUAGE plpgsql SET search_path = '' AS $$
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    INSERT INTO public.usage_totals (organization_id, {column})
                    VALUES (NEW.organization_id, 1)
                    ON CONFLICT (organization_id)
                    DO UPDATE SET {column} = public.usage_totals.{column} + 1;
                    RETURN NEW;
                END IF;
                UPDATE public.usage_totals SET {column} = {column} - 1
                WHERE organization_id = OLD.organization_id;
                RETURN OLD;
            END
            $$
            """
        )
        op.execute(f"REVOKE ALL ON FUNCTION {function}() FROM PUBLIC")
        op.execute(
            f"CREATE TRIGGER {table}_counted AFTER INSERT OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()"
        )
    op.execute("CREATE INDEX ix_organizations_newest ON organizations (created_at DESC, id DESC)")
    # The purge's door looks for organizations pending deletion: few, whatever the total.
    op.execute(
        "CREATE INDEX ix_organizations_pending_deletion ON organizations "
        "(deletion_requested_at) WHERE status = 'pending_deletion'"
    )
    if trigram:
        op.execute(
            "CREATE INDEX ix_organizations_name_trgm ON organizations "
            "USING gin (lower(name) public.gin_trgm_ops)"
        )
    # Without pg_trgm (the embedded PostgreSQL of the one-command run) the same search reads
    # every name: right, and fine at that scale; production servers ship contrib.
    # Two branches, one pruned at execution by its one-time filter: without a search, a walk
    # down ix_organizations_newest from the cursor; with one, the matching names first
    # (trigram or slug index; OFFSET 0 keeps the planner from walking the newest-first index
    # hoping to meet matches early, which a generic plan would do for a rare name), then
    # sorted. Either way a page costs what it shows (or what matches), not what precedes it.
    op.execute(
        f"""
        CREATE FUNCTION app_admin_organizations_page(
            p_search text, p_limit integer, p_after_created timestamptz, p_after_id uuid
        ) RETURNS TABLE (
            id uuid, name text, slug text, plan_id text, status text, quota_overrides jsonb,
            created_at timestamptz, member_count bigint, document_count bigint,
            storage_bytes bigint, documents_this_month bigint
        )
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
            WITH page AS (
                (SELECT o.id, o.created_at FROM public.organizations o
                 WHERE coalesce(p_search, '') = ''
                   AND (o.created_at, o.id) < ({AFTER})
                 ORDER BY o.created_at DESC, o.id DESC
                 LIMIT LEAST(GREATEST(p_limit, 0), {PAGE_MAX}))
                UNION ALL
                (SELECT m.id, m.created_at FROM (
                    SELECT o.id, o.created_at FROM public.organizations o
                    WHERE coalesce(p_search, '') <> ''
                      AND (lower(o.name) LIKE '%' || replace(replace(replace(
                               lower(left(p_search, 120)), '\\', '\\\\'), '%', '\\%'),
                               '_', '\\_') || '%'
                           OR o.slug = lower(p_search))
                    OFFSET 0
                 ) m
                 WHERE (m.created_at, m.id) < ({AFTER})
                 ORDER BY m.created_at DESC, m.id DESC
                 LIMIT LEAST(GREATEST(p_limit, 0), {PAGE_MAX}))
            )
            SELECT o.id, o.name::text, o.slug::text, o.plan_id::text, o.status::text,
                   o.quota_overrides, o.created_at,
                   coalesce(t.member_count, 0), coalesce(t.document_count, 0),
                   coalesce(t.storage_bytes, 0)::bigint,
                   coalesce((SELECT m.documents_uploaded FROM public.usage m
                             WHERE m.organization_id = o.id
                               AND m.period = date_trunc('month', now() AT TIME ZONE 'UTC')::date),
                            0)::bigint
            FROM page p
            JOIN public.organizations o ON o.id = p.id
            LEFT JOIN public.usage_totals t ON t.organization_id = o.id
            ORDER BY o.created_at DESC, o.id DESC
        $$
        """
    )
    grant_door(PAGE)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {PAGE}")
    op.execute("DROP INDEX IF EXISTS ix_organizations_name_trgm")
    op.execute("DROP INDEX ix_organizations_newest")
    op.execute("DROP INDEX ix_organizations_pending_deletion")
    for table, (function, _column) in COUNT_TRIGGERS.items():
        op.execute(f"DROP TRIGGER {table}_counted ON {table}")
        op.execute(f"DROP FUNCTION {function}()")
    op.execute("ALTER TABLE usage_totals DROP COLUMN member_count, DROP COLUMN document_count")
    # pg_trgm stays: other objects of the database may have come to use it.
