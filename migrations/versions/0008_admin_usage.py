"""Platform administration shows each organization's usage: storage and this month's uploads.

Recreates the two read doors of 0005 with two more columns (a function's result type cannot
be changed in place). Still read-only, still SECURITY DEFINER with a pinned search_path.

Revision ID: 0008_admin_usage
Revises: 0007_org_lifecycle
Create Date: 2026-11-28
"""

from alembic import op

from migrations.rls import app_role

revision = "0008_admin_usage"
down_revision = "0007_org_lifecycle"
branch_labels = None
depends_on = None

BASE_COLUMNS = (
    "id uuid, name text, slug text, plan_id text, status text, quota_overrides jsonb, "
    "created_at timestamptz, member_count bigint, document_count bigint"
)
BASE_SELECT = (
    "o.id, o.name::text, o.slug::text, o.plan_id::text, o.status::text, o.quota_overrides, "
    "o.created_at, "
    "(SELECT count(*) FROM public.users u WHERE u.organization_id = o.id), "
    "(SELECT count(*) FROM public.documents d WHERE d.organization_id = o.id)"
)
USAGE_COLUMNS = ", storage_bytes bigint, documents_this_month bigint"
USAGE_SELECT = (
    ", coalesce((SELECT t.storage_bytes FROM public.usage_totals t "
    "WHERE t.organization_id = o.id), 0)::bigint"
    ", coalesce((SELECT m.documents_uploaded FROM public.usage m WHERE m.organization_id = o.id "
    "AND m.period = date_trunc('month', now() AT TIME ZONE 'UTC')::date), 0)::bigint"
)
LIST = "app_admin_list_organizations(text, integer, integer)"
GET = "app_admin_get_organization(uuid, text)"


def _create(columns: str, select: str) -> None:
    op.execute(
        f"""
        CREATE FUNCTION app_admin_list_organizations(
            p_search text, p_limit integer, p_offset integer
        ) RETURNS TABLE ({columns}, total bigint)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
            SELECT {select}, count(*) OVER ()
            FROM public.organizations o
            WHERE p_search IS NULL OR p_search = ''
               OR strpos(lower(o.name), lower(p_search)) > 0
               OR o.slug = lower(p_search)
            ORDER BY o.created_at DESC, o.id
            LIMIT p_limit OFFSET p_offset
        $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION app_admin_get_organization(p_id uuid, p_slug text)
        RETURNS TABLE ({columns})
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
            SELECT {select}
            FROM public.organizations o
            WHERE (p_id IS NOT NULL AND o.id = p_id)
               OR (p_id IS NULL AND o.slug = p_slug)
        $$
        """
    )
    for function in (LIST, GET):
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {app_role()}")


def upgrade() -> None:
    op.execute(f"DROP FUNCTION {LIST}")
    op.execute(f"DROP FUNCTION {GET}")
    _create(BASE_COLUMNS + USAGE_COLUMNS, BASE_SELECT + USAGE_SELECT)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {LIST}")
    op.execute(f"DROP FUNCTION {GET}")
    _create(BASE_COLUMNS, BASE_SELECT)
