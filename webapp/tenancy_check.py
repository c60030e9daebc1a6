"""``flask tenancy check``: read the live catalog and list every broken isolation invariant.

Besides the three walls of every tenant table, it holds both runtime roles to the privilege
matrix of README "Roles by trust" (migration 0010):

* which SECURITY DEFINER function each role may execute: the tenant role exactly
  ``TENANT_DOORS``, the platform role exactly ``PLATFORM_DOORS``, nobody else anything;
* which privileges each role holds on each table: on tenant tables the tenant role at most
  SELECT/INSERT/UPDATE/DELETE (never TRUNCATE, which ignores RLS) and the platform role
  nothing; on every other table exactly ``GLOBAL_TABLE_PRIVILEGES`` (a table missing there is
  a violation as soon as either role holds anything on it);
* neither role may create objects (schema CREATE, database CREATE or TEMPORARY) or be a member
  of another role;
* the verified context (0017): ``app_current_org()`` a plain SQL function of the tenant role's
  own, and the sequence of context marks readable by it but not settable (no USAGE, UPDATE);
* and, live: as the tenant role, a plain ``set_config`` of an existing organization's id (and a
  forged signature, and one made after validly entering another organization) reads no row of
  any tenant table and updates nothing.

Also the start-up guard: the app refuses to serve when either of its database roles could
bypass row-level security (superuser, BYPASSRLS, or owner of a table).

A migration that adds a door adds it to one of the two sets below (and grants it with
``migrations.rls.grant_door``); one that adds a global table adds its row to
``GLOBAL_TABLE_PRIVILEGES``.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import text
from sqlalchemy.engine import Connection

from webapp.extensions import db
from webapp.tenancy import TENANT_TABLES_SQL, context_key, enter_org

# Tables guarded by RLS on a column other than organization_id.
SELF_KEYED_TABLES = {"organizations": "id"}
# SECURITY DEFINER functions the tenant role may execute: those acting on app_current_org()
# alone, and the one that sets the verified context. (``app_current_org()`` itself is no door
# since 0017: a plain SQL function the planner inlines; see ``_check_context``.)
TENANT_DOORS = frozenset({"app_enter_org", "app_search_documents"})
# The doors across organizations, for the platform role only.
PLATFORM_DOORS = frozenset(
    {
        "app_context_key",
        "app_login_lookup",
        "app_email_exists",
        "app_outbox_pending",
        "app_stuck_documents",
        "app_expired_leases",
        "app_waiting_organizations",
        "app_admin_list_organizations",
        "app_admin_organizations_page",
        "app_admin_get_organization",
        "app_admin_update_organization",
        "app_admin_update_plan",
        "app_admin_usage_history",
        "app_organizations_due_for_purge",
        "app_purge_organization",
        "app_create_platform_admin",
        "app_operate_backlog",
        "app_trash_due",
        "app_organizations_with_overdue",
    }
)
# Doors that run on every transaction and so skip the cost of ``SET search_path``: every name
# in them is schema-qualified (operators too), which is safe because neither runtime role may
# create objects anywhere (``_check_role_reach``).
QUALIFIED_DOORS = frozenset({"app_enter_org"})
# The verified context (migration 0017): the sequence whose per-session currval is the mark
# app_enter_org sets. The tenant role reads it (currval); setting it (nextval: USAGE or UPDATE,
# setval: UPDATE) would let it mark any organization.
CONTEXT_MARKS = "app_context_marks"
# Every SECURITY DEFINER function: the one narrow door across tenants, and the context.
DOOR_FUNCTIONS = tuple(sorted(TENANT_DOORS | PLATFORM_DOORS))
# Tables without organization_id: exactly what each role holds ("UPDATE(col)" = that column).
GLOBAL_TABLE_PRIVILEGES: dict[str, dict[str, frozenset[str]]] = {
    "plans": {"tenant": frozenset({"SELECT"}), "platform": frozenset({"SELECT"})},
    "platform_admins": {
        "tenant": frozenset(),
        "platform": frozenset(
            {
                "SELECT",
                "UPDATE(last_login_at)",
                "UPDATE(name)",
                "UPDATE(password_hash)",
                "UPDATE(session_version)",
            }
        ),
    },
    "platform_audit_events": {
        "tenant": frozenset(),
        "platform": frozenset({"SELECT", "INSERT"}),
    },
    "app_context_keys": {"tenant": frozenset(), "platform": frozenset()},
    CONTEXT_MARKS: {"tenant": frozenset({"SELECT"}), "platform": frozenset()},
    # /readyz checks, as the tenant role, that the schema is at the migrations' head.
    "alembic_version": {"tenant": frozenset({"SELECT"}), "platform": frozenset()},
}
# What the tenant role may hold on a tenant table (TRUNCATE, for one, ignores RLS).
TENANT_TABLE_MAY_HOLD = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"})
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


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
    """Raise ``UnsafeDatabaseRole`` (once per process and URLs) if the app could bypass RLS."""
    if not app.config.get("TENANCY_VERIFY_ROLE", True):
        return
    url = app.config["SQLALCHEMY_DATABASE_URI"] + " " + app.config["PLATFORM_DATABASE_URL"]
    if url in _verified:
        return
    with _verify_lock:
        if url in _verified:
            return
        verify_runtime_role(app)
        _verified.add(url)


def verify_runtime_role(app: Flask) -> None:
    """Check the roles this app actually connects as (tenant, then platform)."""
    problems: list[Violation] = []
    with app.app_context():
        for engine in (db.engine, db.engines["platform"]):
            with engine.connect() as conn:
                role = conn.scalar(text("SELECT current_user"))
                problems += runtime_role_problems(conn, role)
                if engine is not db.engine:
                    conn.invalidate()  # once per process; not kept idle in the pool
            if problems:
                break  # refuse on the first unfit role
    if problems:
        raise UnsafeDatabaseRole("refusing to serve: " + "; ".join(str(p) for p in problems))


def _tenant_tables(conn: Connection) -> dict[str, str]:
    """Every public table guarded by RLS, mapped to the column that names its tenant."""
    rows = conn.scalars(TENANT_TABLES_SQL)
    tables = {name: "organization_id" for name in rows}
    tables.update(SELF_KEYED_TABLES)
    return tables


def check_catalog(
    conn: Connection, runtime_role: str, platform_role: str | None = None
) -> list[Violation]:
    """Every violation of DESIGN.md §3's invariants in the connected database."""
    violations: list[Violation] = []
    tables = _tenant_tables(conn)
    for table, column in sorted(tables.items()):
        violations += _check_table(conn, table, column, tables)
    violations += runtime_role_problems(conn, runtime_role)
    violations += _check_door(conn)
    violations += _check_context(conn, runtime_role)
    roles = {"tenant": runtime_role}
    if platform_role:
        violations += runtime_role_problems(conn, platform_role)
        roles["platform"] = platform_role
    for kind, role in roles.items():
        violations += _check_role_reach(conn, kind, role)
        violations += _check_function_matrix(conn, kind, role)
        violations += _check_table_matrix(conn, kind, role, tables)
    return violations


def _check_role_reach(conn: Connection, kind: str, role: str) -> list[Violation]:
    """Neither runtime role may create objects or act as another role."""
    where = f"{kind} role {role}"
    row = conn.execute(
        text(
            "SELECT has_schema_privilege(:r, 'public', 'CREATE') AS schema_create, "
            "has_database_privilege(:r, current_database(), 'CREATE') AS db_create, "
            "has_database_privilege(:r, current_database(), 'TEMPORARY') AS db_temp, "
            "ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
            "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = :r ORDER BY 1) AS member_of"
        ),
        {"r": role},
    ).one_or_none()
    if row is None:
        return []
    found = []
    if row.schema_create:
        found.append(Violation(where, "may CREATE in schema public"))
    if row.db_create:
        found.append(Violation(where, "may CREATE schemas in the database"))
    if row.db_temp:
        found.append(Violation(where, "may create TEMPORARY tables (they outlive a transaction)"))
    found += [Violation(where, f"is a member of role {other}") for other in row.member_of]
    return found


def _check_function_matrix(conn: Connection, kind: str, role: str) -> list[Violation]:
    """Exactly the doors of its kind: no more (a reach too far), no fewer (a broken app)."""
    allowed = TENANT_DOORS if kind == "tenant" else PLATFORM_DOORS
    rows = conn.execute(
        text(
            "SELECT p.proname, has_function_privilege(:r, p.oid, 'EXECUTE') AS may "
            "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'public' AND p.prosecdef ORDER BY 1"
        ),
        {"r": role},
    ).all()
    found = []
    for row in rows:
        where = f"function {row.proname}"
        if row.may and row.proname not in allowed:
            found.append(Violation(where, f"is executable by the {kind} role {role}"))
        elif not row.may and row.proname in allowed:
            found.append(Violation(where, f"is not executable by the {kind} role {role}"))
    return found


def _held_privileges(conn: Connection, role: str, table: str) -> set[str]:
    """Table privileges ``role`` holds (directly, through PUBLIC or a membership).

    For a sequence, USAGE too (it allows nextval)."""
    held = set()
    if conn.scalar(
        text("SELECT relkind = 'S' FROM pg_class WHERE oid = CAST(:t AS regclass)"),
        {"t": f"public.{table}"},
    ) and conn.scalar(
        text("SELECT has_sequence_privilege(:r, CAST(:t AS regclass), 'USAGE')"),
        {"r": role, "t": f"public.{table}"},
    ):
        held.add("USAGE")
    for privilege in TABLE_PRIVILEGES:
        if conn.scalar(
            text("SELECT has_table_privilege(:r, CAST(:t AS regclass), :p)"),
            {"r": role, "t": f"public.{table}", "p": privilege},
        ):
            held.add(privilege)
        elif privilege in {"SELECT", "INSERT", "UPDATE", "REFERENCES"}:
            columns = conn.scalars(
                text(
                    "SELECT a.attname FROM pg_attribute a "
                    "WHERE a.attrelid = CAST(:t AS regclass) AND a.attnum > 0 "
                    "AND NOT a.attisdropped "
                    "AND has_column_privilege(:r, a.attrelid, a.attnum, :p) ORDER BY 1"
                ),
                {"r": role, "t": f"public.{table}", "p": privilege},
            ).all()
            held.update(f"{privilege}({column})" for column in columns)
    return held


def _check_table_matrix(
    conn: Connection, kind: str, role: str, tenant_tables: dict[str, str]
) -> list[Violation]:
    names = conn.scalars(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
            "ORDER BY 1"
        )
    ).all()
    found = []
    for table in names:
        held = _held_privileges(conn, role, table)
        if table in tenant_tables:
            allowed = TENANT_TABLE_MAY_HOLD if kind == "tenant" else frozenset()
            extra = held - allowed
        elif table in GLOBAL_TABLE_PRIVILEGES:
            expected = GLOBAL_TABLE_PRIVILEGES[table][kind]
            extra = held - expected
            missing = expected - held
            if missing:
                found.append(
                    Violation(table, f"the {kind} role {role} lacks {', '.join(sorted(missing))}")
                )
        else:
            extra = held
            if held:
                found.append(Violation(table, "is not in the privilege matrix"))
                continue
        if extra:
            found.append(
                Violation(table, f"the {kind} role {role} holds {', '.join(sorted(extra))}")
            )
    return found


def check_forged_context(tenant_conn: Connection, org_id: uuid.UUID) -> list[Violation]:
    """As the tenant role: a plain or forged set_config of ``org_id`` must read and write nothing.

    ``tenant_conn`` is a fresh connection of the tenant role; its transaction is rolled back.
    """
    found = []
    # Only the tenant tables it may read at all (a table it cannot read leaks nothing).
    tables = [
        table
        for table in sorted(_tenant_tables(tenant_conn))
        if tenant_conn.scalar(
            text("SELECT has_table_privilege(CAST(:t AS regclass), 'SELECT')"),
            {"t": f"public.{table}"},
        )
    ]
    tenant_conn.rollback()
    forgeries = {
        "a plain set_config": ("", False),
        "a forged signature": ("0" * 64, False),
        # The mark of 0017: entered (validly) as another organization, then set_config.
        "a set_config after entering another organization": ("0" * 64, True),
    }
    for label, (signature, entered) in forgeries.items():
        with tenant_conn.begin() as transaction:
            if entered:
                enter_org(tenant_conn, uuid.uuid4(), context_key())
            tenant_conn.execute(
                text(
                    "SELECT set_config('app.current_org_id', :o, true), "
                    "set_config('app.current_org_sig', :s, true)"
                ),
                {"o": str(org_id), "s": signature},
            )
            if tenant_conn.scalar(text("SELECT app_current_org()")) is not None:
                found.append(Violation("app_current_org()", f"trusts {label}"))
            for table in tables:
                rows = tenant_conn.scalar(text(f'SELECT count(*) FROM public."{table}"'))
                if rows:
                    found.append(
                        Violation(table, f"{label} of another organization reads {rows} row(s)")
                    )
            changed = tenant_conn.execute(
                text("UPDATE public.organizations SET name = name WHERE id = :o"),
                {"o": org_id},
            ).rowcount
            if changed:
                found.append(Violation("organizations", f"{label} lets the tenant role write"))
            transaction.rollback()
    return found


def _some_organization() -> uuid.UUID:
    """An existing organization's id (through the platform door), else a random one."""
    with db.engines["platform"].connect() as conn:
        found = conn.scalar(text("SELECT id FROM app_admin_list_organizations(NULL, 1, 0)"))
        conn.rollback()
    return found or uuid.uuid4()


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
        pinned = any(c.startswith("search_path=") for c in row.proconfig or [])
        if not pinned and name not in QUALIFIED_DOORS:
            found.append(Violation(where, "does not pin search_path"))
        if not (row.rolsuper or row.rolbypassrls):
            found.append(Violation(where, "its owner cannot see past row-level security"))
    return found


def _check_context(conn: Connection, tenant_role: str) -> list[Violation]:
    """app_current_org(): the tenant role's own (not a door) and executable by it."""
    row = conn.execute(
        text(
            "SELECT p.prosecdef, l.lanname, p.proconfig, "
            "has_function_privilege(:r, p.oid, 'EXECUTE') AS may "
            "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "JOIN pg_language l ON l.oid = p.prolang "
            "WHERE n.nspname = 'public' AND p.proname = 'app_current_org'"
        ),
        {"r": tenant_role},
    ).one_or_none()
    where = "function app_current_org"
    if row is None:
        return [Violation(where, "is missing")]
    found = []
    if row.prosecdef:
        found.append(Violation(where, "is SECURITY DEFINER (0017 made it the caller's own)"))
    if row.lanname != "sql" or row.proconfig:
        found.append(Violation(where, "cannot be inlined (plain SQL, no SET clause)"))
    if not row.may:
        found.append(Violation(where, f"is not executable by the tenant role {tenant_role}"))
    return found


tenancy_cli = AppGroup("tenancy", help="Tenant isolation tools.")


@tenancy_cli.command("check")
def check_command() -> None:
    """Exit 0 when every tenant-isolation invariant holds, else list the violations."""
    config = current_app.config
    with db.engine.connect() as conn:
        violations = check_catalog(conn, config["APP_DB_ROLE"], config["PLATFORM_DB_ROLE"])
    with db.engine.connect() as conn:
        violations += check_forged_context(conn, _some_organization())
    if violations:
        click.echo(f"{len(violations)} tenant-isolation violation(s):", err=True)
        for violation in violations:
            click.echo(f"  - {violation}", err=True)
        raise SystemExit(1)
    click.echo("tenancy check: all invariants hold")


@tenancy_cli.command("citus-plan")
def citus_plan_command() -> None:
    """Print the Citus distribution of the live schema; exit 1 naming what would block it."""
    from webapp.citus_plan import REFERENCE_TENANT_TABLES, citus_plan

    with db.engine.connect() as conn:
        plan = citus_plan(conn)
    if plan.blockers:
        click.echo(
            f"{len(plan.blockers)} obstacle(s) to distributing by organization_id:", err=True
        )
        for blocker in plan.blockers:
            click.echo(f"  - {blocker}", err=True)
        raise SystemExit(1)
    click.echo("-- Citus: run on the coordinator once the schema is migrated (docs/scaling.md).")
    for table, reason in REFERENCE_TENANT_TABLES.items():
        click.echo(f"-- {table} stays a reference table: {reason}.")
    for table in plan.local:
        click.echo(f"-- {table} stays on the coordinator.")
    for line in plan.statements():
        click.echo(line)
