"""Foundation: plans, organizations, users, audit log; runtime role, grants, RLS, the door.

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from flask import current_app
from sqlalchemy.dialects import postgresql

from migrations.rls import app_role, enable_tenant_rls, grant, quote_literal

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None

GIB = 1024**3
MIB = 1024**2
# DESIGN.md §5 defaults; NULL means unlimited.
PLANS = [
    ("free", "Free", 60, 20, 50, 1 * GIB, 3, 10 * MIB, 1),
    ("pro", "Pro", 600, 200, 500, 50 * GIB, 20, 50 * MIB, 4),
    ("enterprise", "Enterprise", 6000, 2000, None, None, None, 100 * MIB, 16),
]


def _create_app_role() -> None:
    """The runtime role: can log in, nothing more; it owns nothing and cannot bypass RLS."""
    name = current_app.config["APP_DB_ROLE"]
    password = current_app.config.get("APP_DB_PASSWORD")
    op.execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
        f"{quote_literal(name)}) THEN CREATE ROLE {app_role()} LOGIN; END IF; END $$"
    )
    op.execute(
        f"ALTER ROLE {app_role()} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE "
        + (f"PASSWORD {quote_literal(password)}" if password else "")
    )
    op.execute(f"GRANT CONNECT ON DATABASE {_database()} TO {app_role()}")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {app_role()}")


def _database() -> str:
    return '"' + op.get_bind().exec_driver_sql("SELECT current_database()").scalar() + '"'


def upgrade() -> None:
    _create_app_role()
    op.execute(
        "CREATE FUNCTION app_current_org() RETURNS uuid LANGUAGE sql STABLE AS "
        "$$ SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid $$"
    )
    op.execute(f"GRANT EXECUTE ON FUNCTION app_current_org() TO {app_role()}")

    plans = op.create_table(
        "plans",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("requests_per_minute", sa.Integer, nullable=False),
        sa.Column("uploads_per_hour", sa.Integer, nullable=False),
        sa.Column("documents_per_month", sa.Integer),
        sa.Column("storage_bytes", sa.BigInteger),
        sa.Column("members", sa.Integer),
        sa.Column("max_file_bytes", sa.BigInteger, nullable=False),
        sa.Column("worker_slots", sa.Integer, nullable=False),
    )
    columns = [c.name for c in plans.columns]
    op.bulk_insert(plans, [dict(zip(columns, row, strict=True)) for row in PLANS])
    grant("SELECT", "plans")

    op.create_table(
        "organizations",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("slug", sa.String(80), nullable=False),
        sa.Column("plan_id", sa.String(32), sa.ForeignKey("plans.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        sa.Column("settings", postgresql.JSONB, nullable=False, server_default="{}"),
        sa.Column("quota_overrides", postgresql.JSONB, nullable=False, server_default="{}"),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.UniqueConstraint("slug", name="uq_organizations_slug"),
        sa.CheckConstraint("status IN ('active', 'suspended')", name="status"),
    )
    enable_tenant_rls("organizations", column="id")
    grant("SELECT, INSERT, UPDATE", "organizations")

    op.create_table(
        "users",
        sa.Column(
            "organization_id",
            sa.Uuid,
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("last_login_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("organization_id", "id", name="pk_users"),
        sa.CheckConstraint("role IN ('owner', 'admin', 'member', 'viewer')", name="role"),
        sa.CheckConstraint("status IN ('active', 'disabled')", name="status"),
    )
    op.create_index("uq_users_email", "users", [sa.text("lower(email)")], unique=True)
    op.create_index("ix_users_org_created", "users", ["organization_id", "created_at"])
    enable_tenant_rls("users")
    grant("SELECT, INSERT, UPDATE, DELETE", "users")

    op.create_table(
        "audit_events",
        sa.Column(
            "organization_id",
            sa.Uuid,
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("actor_user_id", sa.Uuid),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_type", sa.String(32)),
        sa.Column("target_id", sa.String(64)),
        sa.Column("ip", sa.String(45)),
        sa.Column("user_agent", sa.Text),
        sa.Column("request_id", sa.String(64)),
        sa.Column("details", postgresql.JSONB, nullable=False, server_default="{}"),
        sa.PrimaryKeyConstraint("organization_id", "id", name="pk_audit_events"),
    )
    op.create_index(
        "ix_audit_events_org_created", "audit_events", ["organization_id", "created_at"]
    )
    op.create_index(
        "ix_audit_events_org_action", "audit_events", ["organization_id", "action", "created_at"]
    )
    enable_tenant_rls("audit_events")
    # Append-only: the runtime role may add and read events, never change or remove them.
    grant("SELECT, INSERT", "audit_events")

    # The door (DESIGN.md §3): the only cross-tenant reads, as SECURITY DEFINER functions
    # owned by the migration role, with a pinned search_path. Callers audit each use.
    op.execute(
        "CREATE FUNCTION app_login_lookup(p_email text) RETURNS TABLE ("
        "organization_id uuid, user_id uuid, password_hash text, user_status text, "
        "org_status text) LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$ "
        "SELECT u.organization_id, u.id, u.password_hash::text, u.status::text, o.status::text "
        "FROM public.users u JOIN public.organizations o ON o.id = u.organization_id "
        "WHERE lower(u.email) = lower(p_email) $$"
    )
    op.execute(
        "CREATE FUNCTION app_email_exists(p_email text) RETURNS boolean "
        "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$ "
        "SELECT EXISTS (SELECT 1 FROM public.users WHERE lower(email) = lower(p_email)) $$"
    )
    for function in ("app_login_lookup(text)", "app_email_exists(text)"):
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {app_role()}")


def downgrade() -> None:
    op.execute("DROP FUNCTION app_email_exists(text)")
    op.execute("DROP FUNCTION app_login_lookup(text)")
    op.drop_table("audit_events")
    op.drop_table("users")
    op.drop_table("organizations")
    op.drop_table("plans")
    op.execute("DROP FUNCTION app_current_org()")
    # The role is cluster-wide and may serve other databases: it is left in place.
