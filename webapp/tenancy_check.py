"""``flask tenancy check``: read the live catalog and list every broken isolation invariant.

Also the start-up guard: the app refuses to serve when its own database role could bypass
row-level security (superuser, BYPASSRLS, or owner of a table).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import text
from sqlalchemy.engine import Connection

from webapp.extensions import db
from webapp.tenancy import TENANT_TABLES_SQL

# Tables guarded by RLS on a column other than organization_id.
SELF_KEYED_TABLES = {"organizations": "id"}
# SECURITY DEFINER functions: the one narrow door across tenants.
DOOR_FUNCTIONS = (
    "app_login_lookup",
    "app_email_exists",
    "app_outbox_pending",
    "app_stuck_documents",
    "app_search_documents",
    "app_admin_list_organizations",
    "app_admin_get_organization",
    "app_admin_update_organization",
    "app_admin_update_plan",
    "app_organizations_due_for_purge",
    "app_purge_organization",
    "app_operate_backlog",
)


class UnsafeDatabaseRole(RuntimeError):
    """The runtime role could read or write across organizations."""


@dataclass(frozen=True)
class Violation:
    """One broken invariant: where, and what is wrong."""

    table: str
    problem: str

    def __str__(self) -> str:
        return f"{self.table}: {self.problem}"


def runtime_role_problems(conn: Connection, role: str) -> list[Violation]:
    """What makes ``role`` unfit to be the runtime role (empty when it is fit)."""
    row = conn.execute(
        text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :role"),
        {"role": role},
    ).one_or_none()
    if row is None:
        return [Violation(f"role {role}", "does not exist")]
    problems = []
    if row.rolsuper:
        problems.append(Violation(f"role {role}", "is a superuser (bypasses row-level security)"))
    if row.rolbypassrls:
        problems.append(Violation(f"role {role}", "has BYPASSRLS"))
    owned = conn.scalars(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') "
            "AND pg_get_userbyid(c.relowner) = :role ORDER BY 1"
        ),
        {"role": role},
    ).all()
    problems += [Violation(t, f"is owned by the runtime role {role}") for t in owned]
    return problems


_verified: set[str] = set()
_verify_lock = threading.Lock()


def verify_runtime_role_once(app: Flask) -> None:
    """Raise ``UnsafeDatabaseRole`` (once per process and URL) if the app could bypass RLS."""
    if not app.config.get("TENANCY_VERIFY_ROLE", True):
        return
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url in _verified:
        return
    with _verify_lock:
        if url in _verified:
            return
        verify_runtime_role(app)
        _verified.add(url)


def verify_runtime_role(app: Flask) -> None:
    """Check the role this app actually connects as."""
    with app.app_context(), db.engine.connect() as conn:
        role = conn.scalar(text("SELECT current_user"))
        problems = runtime_role_problems(conn, role)
    if problems:
        raise UnsafeDatabaseRole("refusing to serve: " + "; ".join(str(p) for p in problems))


def _tenant_tables(conn: Connection) -> dict[str, str]:
    """Every public table guarded by RLS, mapped to the column that names its tenant."""
    rows = conn.scalars(TENANT_TABLES_SQL)
    tables = {name: "organization_id" for name in rows}
    tables.update(SELF_KEYED_TABLES)
    return tables


def check_catalog(conn: Connection, runtime_role: str) -> list[Violation]:
    """Every violation of DESIGN.md §3's invariants in the connected database."""
    violations: list[Violation] = []
    tables = _tenant_tables(conn)
    for table, column in sorted(tables.items()):
        violations += _check_table(conn, table, column, tables)
    violations += runtime_role_problems(conn, runtime_role)
    violations += _check_door(conn)
    return violations


def _check_table(
    conn: Connection, table: str, column: str, tables: dict[str, str]
) -> list[Violation]:
    found: list[Violation] = []
    rls = conn.execute(
        text(
            "SELECT c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relname = :t"
        ),
        {"t": table},
    ).one_or_none()
    if rls is None:
        return [Violation(table, "table is missing")]
    if not rls.relrowsecurity:
        found.append(Violation(table, "row-level security is not enabled"))
    if not rls.relforcerowsecurity:
        found.append(Violation(table, "row-level security is not forced"))
    policies = conn.execute(
        text(
            "SELECT policyname, cmd, qual, with_check FROM pg_policies "
            "WHERE schemaname = 'public' AND tablename = :t"
        ),
        {"t": table},
    ).all()
    needle = f"{column} = ( SELECT app_current_org()"
    full = [
        p
        for p in policies
        if p.cmd == "ALL"
        and p.qual
        and p.with_check
        and needle in " ".join(p.qual.split()).replace("(SELECT", "( SELECT")
        and needle in " ".join(p.with_check.split()).replace("(SELECT", "( SELECT")
    ]
    if not full:
        found.append(
            Violation(table, f"no policy with USING and WITH CHECK on {column} = app_current_org()")
        )
    if column != "organization_id":
        return found
    pk = conn.execute(
        text(
            "SELECT (SELECT attname FROM pg_attribute WHERE attrelid = con.conrelid "
            "AND attnum = con.conkey[1]) AS first_col FROM pg_constraint con "
            "WHERE con.conrelid = CAST(:t AS regclass) AND con.contype = 'p'"
        ),
        {"t": f"public.{table}"},
    ).one_or_none()
    if pk is None:
        found.append(Violation(table, "has no primary key"))
    elif pk.first_col != "organization_id":
        found.append(Violation(table, "primary key does not start with organization_id"))
    fks = conn.execute(
        text(
            "SELECT con.conname, ref.relname AS target, "
            "ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = con.conrelid "
            "AND attnum = ANY(con.conkey)) AS cols, "
            "ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = con.confrelid "
            "AND attnum = ANY(con.confkey)) AS ref_cols "
            "FROM pg_constraint con JOIN pg_class ref ON ref.oid = con.confrelid "
            "WHERE con.conrelid = CAST(:t AS regclass) AND con.contype = 'f'"
        ),
        {"t": f"public.{table}"},
    ).all()
    for fk in fks:
        if fk.target in tables and tables[fk.target] == "organization_id":
            if "organization_id" not in fk.cols or "organization_id" not in fk.ref_cols:
                found.append(
                    Violation(
                        table,
                        f"foreign key {fk.conname} to {fk.target} does not include organization_id",
                    )
                )
    leading = conn.scalar(
        text(
            "SELECT count(*) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = i.indkey[0] WHERE i.indrelid = CAST(:t AS regclass) "
            "AND a.attname = 'organization_id'"
        ),
        {"t": f"public.{table}"},
    )
    if not leading:
        found.append(Violation(table, "no index leads with organization_id"))
    return found


def _check_door(conn: Connection) -> list[Violation]:
    rows = {
        r.proname: r
        for r in conn.execute(
            text(
                "SELECT p.proname, p.prosecdef, p.proconfig, r.rolsuper, r.rolbypassrls "
                "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "JOIN pg_roles r ON r.oid = p.proowner "
                "WHERE n.nspname = 'public' AND p.proname = ANY(:names)"
            ),
            {"names": list(DOOR_FUNCTIONS)},
        )
    }
    found = []
    for name in DOOR_FUNCTIONS:
        row = rows.get(name)
        where = f"function {name}"
        if row is None:
            found.append(Violation(where, "is missing"))
            continue
        if not row.prosecdef:
            found.append(Violation(where, "is not SECURITY DEFINER"))
        if not any(c.startswith("search_path=") for c in row.proconfig or []):
            found.append(Violation(where, "does not pin search_path"))
        if not (row.rolsuper or row.rolbypassrls):
            found.append(Violation(where, "its owner cannot see past row-level security"))
    return found


tenancy_cli = AppGroup("tenancy", help="Tenant isolation tools.")


@tenancy_cli.command("check")
def check_command() -> None:
    """Exit 0 when every tenant-isolation invariant holds, else list the violations."""
    role = current_app.config["APP_DB_ROLE"]
    with db.engine.connect() as conn:
        violations = check_catalog(conn, role)
    if violations:
        click.echo(f"{len(violations)} tenant-isolation violation(s):", err=True)
        for violation in violations:
            click.echo(f"  - {violation}", err=True)
        raise SystemExit(1)
    click.echo("tenancy check: all invariants hold")
