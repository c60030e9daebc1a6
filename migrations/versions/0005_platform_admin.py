"""Platform administration: admin accounts, the platform audit log, and the admin door.

* ``platform_admins`` is a global table (no ``organization_id``: an admin belongs to no
  organization). The runtime role may read it (log-in), insert into it (``flask admin
  create-admin`` runs as the runtime role, the only role the app's processes hold) and update
  only ``name``, ``password_hash`` and ``last_login_at`` (log-in stamps and re-hashes). It may
  not delete an admin or change an admin's id or e-mail.
* ``platform_audit_events`` is global and append-only: the runtime role may INSERT and SELECT
  it, never UPDATE or DELETE. It has no ``organization_id`` column on purpose (the organization
  an event concerns is its ``target_id``), so it is not a tenant table.
* The door (DESIGN.md §3): cross-tenant reads and writes of platform administration are
  ``SECURITY DEFINER`` functions owned by the migration role with ``SET search_path = ''``,
  executable by the runtime role only. Every caller audits each use (webapp/admin/services.py).
  ``plans`` stays SELECT-only for the runtime role; a plan changes through
  ``app_admin_update_plan`` alone.

Revision ID: 0005_platform_admin
Revises: 0004_usage
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import app_role, grant

revision = "0005_platform_admin"
down_revision = "0004_usage"
branch_labels = None
depends_on = None

LIMIT_COLUMNS = (
    ("requests_per_minute", "integer"),
    ("uploads_per_hour", "integer"),
    ("documents_per_month", "integer"),
    ("storage_bytes", "bigint"),
    ("members", "integer"),
    ("max_file_bytes", "bigint"),
    ("worker_slots", "integer"),
)

FUNCTIONS = (
    "app_admin_list_organizations(text, integer, integer)",
    "app_admin_get_organization(uuid, text)",
    "app_admin_update_organization(uuid, text, text, jsonb)",
    "app_admin_update_plan(text, jsonb)",
)

# What the list and the detail return for one organization (counts read past RLS).
ORG_COLUMNS = (
    "id uuid, name text, slug text, plan_id text, status text, quota_overrides jsonb, "
    "created_at timestamptz, member_count bigint, document_count bigint"
)
ORG_SELECT = (
    "o.id, o.name::text, o.slug::text, o.plan_id::text, o.status::text, o.quota_overrides, "
    "o.created_at, "
    "(SELECT count(*) FROM public.users u WHERE u.organization_id = o.id), "
    "(SELECT count(*) FROM public.documents d WHERE d.organization_id = o.id)"
)


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=None if nullable else sa.func.now(),
    )


def upgrade() -> None:
    op.create_table(
        "platform_admins",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        _timestamp("created_at"),
        _timestamp("last_login_at", nullable=True),
    )
    op.create_index(
        "uq_platform_admins_email", "platform_admins", [sa.text("lower(email)")], unique=True
    )
    grant("SELECT, INSERT", "platform_admins")
    grant("UPDATE (name, password_hash, last_login_at)", "platform_admins")

    op.create_table(
        "platform_audit_events",
        sa.Column("id", sa.Uuid, primary_key=True),
        _timestamp("created_at"),
        sa.Column("actor_admin_id", sa.Uuid),
        sa.Column("actor", sa.String(254), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_type", sa.String(32)),
        sa.Column("target_id", sa.String(64)),
        sa.Column("old_value", postgresql.JSONB),
        sa.Column("new_value", postgresql.JSONB),
        sa.Column("ip", sa.String(45)),
        sa.Column("user_agent", sa.Text),
        sa.Column("request_id", sa.String(64)),
    )
    op.create_index("ix_platform_audit_events_created", "platform_audit_events", ["created_at"])
    op.create_index(
        "ix_platform_audit_events_target",
        "platform_audit_events",
        ["target_type", "target_id", "created_at"],
    )
    # Append-only: the runtime role may add and read events, never change or remove them.
    grant("SELECT, INSERT", "platform_audit_events")

    op.execute(
        f"""
        CREATE FUNCTION app_admin_list_organizations(
            p_search text, p_limit integer, p_offset integer
        ) RETURNS TABLE ({ORG_COLUMNS}, total bigint)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
            SELECT {ORG_SELECT}, count(*) OVER ()
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
        RETURNS TABLE ({ORG_COLUMNS})
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
            SELECT {ORG_SELECT}
            FROM public.organizations o
            WHERE (p_id IS NOT NULL AND o.id = p_id)
               OR (p_id IS NULL AND o.slug = p_slug)
        $$
        """
    )
    # NULL arguments leave a field as it is. Returns the row before and after, under a row
    # lock, so the caller's audit records exactly what changed.
    op.execute(
        """
        CREATE FUNCTION app_admin_update_organization(
            p_id uuid, p_plan_id text, p_status text, p_overrides jsonb
        ) RETURNS TABLE (old_value jsonb, new_value jsonb)
        LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
        DECLARE
            v_old public.organizations%ROWTYPE;
            v_new public.organizations%ROWTYPE;
        BEGIN
            IF p_overrides IS NOT NULL AND jsonb_typeof(p_overrides) <> 'object' THEN
                RAISE EXCEPTION 'quota overrides must be a JSON object';
            END IF;
            SELECT * INTO v_old FROM public.organizations WHERE id = p_id FOR UPDATE;
            IF NOT FOUND THEN
                RETURN;
            END IF;
            UPDATE public.organizations SET
                plan_id = coalesce(p_plan_id, plan_id),
                status = coalesce(p_status, status),
                quota_overrides = coalesce(p_overrides, quota_overrides)
            WHERE id = p_id
            RETURNING * INTO v_new;
            RETURN QUERY SELECT
                jsonb_build_object('plan_id', v_old.plan_id, 'status', v_old.status,
                                   'quota_overrides', v_old.quota_overrides),
                jsonb_build_object('plan_id', v_new.plan_id, 'status', v_new.status,
                                   'quota_overrides', v_new.quota_overrides);
        END
        $$
        """
    )
    known = ", ".join(f"'{name}'" for name, _ in LIMIT_COLUMNS)
    assignments = ",\n".join(
        f"{name} = CASE WHEN p_limits ? '{name}' "
        f"THEN (p_limits ->> '{name}')::{kind} ELSE {name} END"
        for name, kind in LIMIT_COLUMNS
    )
    limits_json = ", ".join(f"'{name}', p.{name}" for name, _ in LIMIT_COLUMNS)
    op.execute(
        f"""
        CREATE FUNCTION app_admin_update_plan(p_id text, p_limits jsonb)
        RETURNS TABLE (old_value jsonb, new_value jsonb)
        LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
        DECLARE
            v_old jsonb;
            v_new jsonb;
            v_bad text;
        BEGIN
            IF jsonb_typeof(p_limits) <> 'object' THEN
                RAISE EXCEPTION 'plan limits must be a JSON object';
            END IF;
            SELECT k INTO v_bad FROM jsonb_object_keys(p_limits) k
            WHERE k NOT IN ({known}) LIMIT 1;
            IF v_bad IS NOT NULL THEN
                RAISE EXCEPTION 'unknown plan limit %', v_bad;
            END IF;
            SELECT k INTO v_bad FROM jsonb_each(p_limits) e(k, v)
            WHERE jsonb_typeof(v) = 'number' AND (v::text)::numeric < 0 LIMIT 1;
            IF v_bad IS NOT NULL THEN
                RAISE EXCEPTION 'plan limit % must not be negative', v_bad;
            END IF;
            SELECT jsonb_build_object({limits_json}) INTO v_old
            FROM public.plans p WHERE p.id = p_id FOR UPDATE;
            IF NOT FOUND THEN
                RETURN;
            END IF;
            UPDATE public.plans SET
            {assignments}
            WHERE id = p_id;
            SELECT jsonb_build_object({limits_json}) INTO v_new
            FROM public.plans p WHERE p.id = p_id;
            RETURN QUERY SELECT v_old, v_new;
        END
        $$
        """
    )
    for function in FUNCTIONS:
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {app_role()}")


def downgrade() -> None:
    for function in reversed(FUNCTIONS):
        op.execute(f"DROP FUNCTION {function}")
    op.drop_table("platform_audit_events")
    op.drop_table("platform_admins")
