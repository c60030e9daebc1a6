"""Helpers the migrations share: the runtime role, grants and row-level security.

Kept beside the versions so every migration that adds a tenant table applies the three walls
the same way (DESIGN.md §3).
"""

from alembic import op
from flask import current_app


def quote_ident(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote an SQL string literal (standard_conforming_strings is on)."""
    return "'" + value.replace("'", "''") + "'"


def app_role() -> str:
    """The runtime role, quoted; its name comes from DATABASE_URL."""
    return quote_ident(current_app.config["APP_DB_ROLE"])


def enable_tenant_rls(table: str, column: str = "organization_id") -> None:
    """ENABLE and FORCE RLS, with one policy whose USING and WITH CHECK name the tenant."""
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING ({column} = (SELECT app_current_org())) "
        f"WITH CHECK ({column} = (SELECT app_current_org()))"
    )


def grant(privileges: str, table: str) -> None:
    """Grant the runtime role exactly these privileges on a table."""
    op.execute(f"GRANT {privileges} ON {table} TO {app_role()}")


def platform_role() -> str:
    """The platform role, quoted; its name comes from PLATFORM_DATABASE_URL (or its default)."""
    return quote_ident(current_app.config["PLATFORM_DB_ROLE"])


def ensure_login_role(name: str, password: str | None) -> None:
    """Create a login role that owns nothing and cannot bypass RLS (and keep it so).

    Both runtime roles are made this way: the tenant role (DATABASE_URL) and the platform role
    (PLATFORM_DATABASE_URL). Each may connect to this database and use the public schema;
    every table and function privilege is granted one by one.
    """
    role = quote_ident(name)
    op.execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
        f"{quote_literal(name)}) THEN CREATE ROLE {role} LOGIN; END IF; END $$"
    )
    op.execute(
        f"ALTER ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE "
        + (f"PASSWORD {quote_literal(password)}" if password else "")
    )
    database = op.get_bind().exec_driver_sql("SELECT current_database()").scalar()
    op.execute(f"GRANT CONNECT ON DATABASE {quote_ident(database)} TO {role}")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")


def grant_door(signature: str, role: str = "platform") -> None:
    """Make a SECURITY DEFINER function executable by exactly one runtime role.

    ``role`` is ``"platform"`` (log-in and sign-up lookups, /admin, ``flask admin``,
    housekeeping: anything that crosses organizations) or ``"tenant"`` (only for a function
    that acts on ``app_current_org()`` alone, like the search door). PUBLIC loses its
    default EXECUTE, and the other role is revoked explicitly, so re-granting an existing
    door to the other role moves it. ``flask tenancy check`` holds every door to this matrix
    (``webapp.tenancy_check.TENANT_DOORS`` / ``PLATFORM_DOORS``): a new door joins one list.
    """
    grantee, other = (
        (platform_role(), app_role()) if role == "platform" else (app_role(), platform_role())
    )
    op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM {other}")
    op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {grantee}")
