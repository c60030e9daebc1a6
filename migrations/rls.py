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
