"""Tenant isolation, wall 1 and the hooks that feed wall 2 (see DESIGN.md §3).

* The current organization lives in a context variable, set from the authenticated identity
  (session cookie, API token) or by ``tenant_context`` in CLI commands and tasks.
* Every ORM query on a ``TenantScoped`` model (and on ``Organization``) is filtered by it,
  and raises ``TenantContextMissing`` when there is none: a bug is loud, not a leak.
* New tenant rows are stamped with it; a row of another organization is refused at flush.
* Every transaction of the tenant role begins with one statement,
  ``SELECT app_enter_org(:org, :proof)``, so PostgreSQL's row-level security sees the same
  organization — transaction-local, and cleared when there is none, so nothing lingers on a
  pooled connection. It is sent in one network write with ``BEGIN`` and the transaction's
  first statement (``database.set_context``): no round trip of its own. Plain reads before a
  session's first write each run in an implicit transaction of their own (no BEGIN), so the
  context goes out again, freshly signed, in front of each of them.

**The verified context (issue 11).** Row-level security used to trust whatever
``app.current_org_id`` held, so one SQL injection could ``set_config`` another
organization's id and read it. Now:

* ``app_enter_org`` (SECURITY DEFINER) checks an entry proof,
  ``<unix seconds>.<HMAC(key, "enter:<org>:<seconds>")>`` at most five minutes old, then marks
  the session: ``setval`` of the sequence ``app_context_marks`` to the first 64 bits of
  ``sha256(<org> || <transaction start>)`` (migration 0017). The tenant role may read that
  sequence's per-session ``currval`` but not move it (no USAGE or UPDATE).
* ``app_current_org()`` (what every policy calls, once per statement, inlined by the planner)
  returns ``app.current_org_id`` only if ``currval`` is the mark of that organization and this
  transaction's start; otherwise NULL: no rows, and every write refused by WITH CHECK.
* The process signs entry proofs in Python with the key, which it reads once through
  ``app_context_key()`` — a door only the platform role may execute. The tenant role can
  execute neither that nor any other door that would reveal the key.

Threat model: an attacker who found an SQL injection in tenant code runs any statements as the
tenant role, inside a transaction whose context is their own organization A. They cannot
``set_config`` B (the session's mark is A's: reads as no organization), cannot mark B (no
privilege to move the sequence; no key to make a proof), and cannot reuse A's mark later (it
names this transaction's start, so it is dead after COMMIT, and it lives in this backend's
session only). A mark made for B on another backend is invisible to them; one made on this
backend before their transaction was replaced by their own transaction's entry. Entry
proofs are sent as bind parameters (never in statement text, so not in ``pg_stat_activity``)
and are never stored; one that leaked elsewhere (a log) opens its organization for at most
five minutes and only to someone who can also run SQL as the tenant role. The proof does not
name the backend on purpose: behind a transaction-pooling proxy the client cannot know it.

Not covered: the key and the platform role's password are in every process's memory and
environment, so code execution in the app (not SQL) gets everything, as before. Session state
that outlives a transaction on a pooled connection (a replaced prepared statement, for one)
could run an attacker's SQL inside another organization's later transaction; temporary
objects are refused (TEMPORARY is revoked in migration 0010), prepared statements are not.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import date, datetime

from flask import Flask, has_app_context
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, with_loader_criteria
from sqlalchemy.sql.util import find_tables

from webapp import database
from webapp.models import Organization, TenantScoped

_current_org: ContextVar[uuid.UUID | None] = ContextVar("current_org", default=None)

# The one statement that opens every tenant-role transaction (with org and proof NULL: none).
ENTER_ORG_SQL = text("SELECT app_enter_org(CAST(:org AS uuid), :proof)")
# The same, as the driver sends it in front of a transaction's first statement (database.py).
ENTER_ORG_DRIVER_SQL = "SELECT app_enter_org(%s::uuid, %s)"
CONTEXT_KEY_SQL = text("SELECT app_context_key()")


class TenantContextMissing(RuntimeError):
    """A tenant query or write ran without a current organization."""


class CrossTenantWrite(RuntimeError):
    """A row of another organization was about to be written."""


def as_org_id(value: object) -> uuid.UUID:
    """Parse an organization id, refusing anything that is not a UUID."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or not value:
        raise TenantContextMissing(f"not an organization id: {value!r}")
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise TenantContextMissing(f"not an organization id: {value!r}") from exc


def current_org_id() -> uuid.UUID | None:
    """The organization in context, or None."""
    return _current_org.get()


def current_organization() -> Organization:
    """The organization in context (RLS shows it only its own row); raises without one."""
    from webapp.extensions import db

    org = db.session.get(Organization, require_org_id())
    if org is None:  # RLS would hide it only if the database context were wrong
        raise TenantContextMissing("the organization in context is not visible")
    return org


def require_org_id() -> uuid.UUID:
    """The organization in context; raises when there is none."""
    org_id = _current_org.get()
    if org_id is None:
        raise TenantContextMissing("no organization in context")
    return org_id


def set_current_org(org_id: object | None) -> Token:
    """Set the organization for the rest of this request; returns a token for ``reset``."""
    token = _current_org.set(None if org_id is None else as_org_id(org_id))
    _sync_open_transaction()
    return token


def reset_current_org(token: Token) -> None:
    """Undo ``set_current_org``."""
    _current_org.reset(token)
    _sync_open_transaction()


@contextmanager
def tenant_context(org_id: object) -> Iterator[uuid.UUID]:
    """Run a block as one organization (CLI commands, tasks, tests)."""
    token = set_current_org(as_org_id(org_id))
    try:
        yield _current_org.get()  # type: ignore[misc]
    finally:
        reset_current_org(token)


@contextmanager
def no_tenant_context() -> Iterator[None]:
    """Run a block with no organization in context (sign-up before the org exists)."""
    token = set_current_org(None)
    try:
        yield
    finally:
        reset_current_org(token)


def _sync_open_transaction() -> None:
    """Re-apply the database setting when the context changes inside an open transaction."""
    if not has_app_context():
        return
    from webapp.extensions import db

    session = db.session()
    if session.in_transaction():
        for connection in _session_connections(session):
            _apply(connection)


def _session_connections(session: Session) -> list[Connection]:
    transaction = session.get_transaction()
    if transaction is None:
        return []
    return [conn for conn, *_ in transaction._connections.values()]  # noqa: SLF001


def _apply(connection: Connection) -> None:
    if database.is_platform(connection.engine):
        return  # the platform role reads no tenant table: it has no context to set
    org_id = _current_org.get()
    key = None if org_id is None else context_key()

    def params() -> tuple[str | None, str | None]:
        # Signed when sent: reads in implicit transactions send it again, maybe minutes later.
        if org_id is None:
            return (None, None)
        return (str(org_id), entry_proof(key, org_id))  # type: ignore[arg-type]

    # Sent with the transaction's first statement when it has not started yet (one round
    # trip for both), and with each read before it in an implicit transaction; run now when
    # it has started (the context changed inside a transaction).
    if not database.set_context(connection, ENTER_ORG_DRIVER_SQL, params):
        enter_org(connection, org_id, key)


@event.listens_for(Session, "after_begin")
def _set_database_context(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    """Wall 2: tell PostgreSQL which organization this transaction belongs to."""
    _apply(connection)


# --- The signed context: proofs for app_enter_org (migration 0010) -------------------------

# By platform engine (one per app): looked up at every transaction, so no URL is rendered.
_keys: weakref.WeakKeyDictionary[Engine, bytes] = weakref.WeakKeyDictionary()
_keys_lock = threading.Lock()


def context_key() -> bytes:
    """The key that signs entry proofs, read once per process through the platform role."""
    from webapp.extensions import db

    engine = db.engines["platform"]
    key = _keys.get(engine)
    if key is None:
        with _keys_lock:
            key = _keys.get(engine) or read_context_key(engine)
            _keys[engine] = key
    return key


def read_context_key(platform_engine: Engine) -> bytes:
    """Read the key through ``app_context_key()``, which only the platform role may run."""
    with platform_engine.connect() as conn:
        key = conn.scalar(CONTEXT_KEY_SQL)
        conn.rollback()
        # Read once per process: close this connection rather than keep it idle in the pool
        # (a process that serves no log-in or admin page never needs another one).
        conn.invalidate()
    if not key:
        raise RuntimeError("app_context_key() returned no key (is migration 0010 applied?)")
    return bytes(key)


def entry_proof(key: bytes, org_id: uuid.UUID, issued: int | None = None) -> str:
    """``<unix seconds>.<hex HMAC-SHA256(key, "enter:<org>:<seconds>")>`` for app_enter_org."""
    issued = int(time.time()) if issued is None else issued
    digest = hmac.new(key, f"enter:{org_id}:{issued}".encode(), hashlib.sha256).hexdigest()
    return f"{issued}.{digest}"


def enter_org(connection: Connection, org_id: uuid.UUID | None, key: bytes | None) -> None:
    """Set (or, with None, clear) the verified context on a tenant-role connection."""
    if org_id is None:
        connection.execute(ENTER_ORG_SQL, {"org": None, "proof": None})
        return
    assert key is not None, "a key is needed to enter an organization"
    connection.execute(ENTER_ORG_SQL, {"org": str(org_id), "proof": entry_proof(key, org_id)})


def _is_guarded(cls: type) -> bool:
    return issubclass(cls, TenantScoped) or cls is Organization


@functools.cache
def _tenant_table_names() -> frozenset[str]:
    from webapp.models import Base

    return frozenset(
        mapper.local_table.name for mapper in Base.registry.mappers if _is_guarded(mapper.class_)
    )


def _guarded_tables(statement: object) -> set[str]:
    """Tenant tables a statement reads that no ORM entity names (``select_from(Model)``)."""
    names = _tenant_table_names()
    return {table.name for table in find_tables(statement) if table.name in names}


@event.listens_for(Session, "do_orm_execute")
def _filter_by_tenant(state: ORMExecuteState) -> None:
    """Wall 1: scope every ORM statement on tenant models to the current organization."""
    if not (state.is_select or state.is_update or state.is_delete):
        return
    guarded = sorted(m.class_.__name__ for m in state.all_mappers if _is_guarded(m.class_))
    if not guarded:
        guarded = sorted(_guarded_tables(state.statement))
    if not guarded:
        return
    org_id = _current_org.get()
    if org_id is None:
        raise TenantContextMissing(f"query on {', '.join(guarded)} with no organization context")
    if state.is_column_load or state.is_relationship_load:
        return  # the criteria below already propagate to these loads
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantScoped,
            lambda cls: cls.organization_id == org_id,
            include_aliases=True,
        ),
        with_loader_criteria(Organization, Organization.id == org_id, include_aliases=True),
    )


@event.listens_for(Session, "before_flush")
def _stamp_and_check(session: Session, flush_context: object, instances: object) -> None:
    """Wall 1 on writes: stamp new tenant rows, refuse rows of another organization."""
    org_id = _current_org.get()
    for obj in session.new:
        if isinstance(obj, TenantScoped):
            if org_id is None:
                raise TenantContextMissing(f"new {type(obj).__name__} with no organization")
            if obj.organization_id is None:
                obj.organization_id = org_id
            elif obj.organization_id != org_id:
                raise CrossTenantWrite(f"new {type(obj).__name__} for another organization")
        elif isinstance(obj, Organization) and (org_id is None or obj.id != org_id):
            raise CrossTenantWrite("an organization may only be created in its own context")
    for obj in list(session.dirty) + list(session.deleted):
        owner = getattr(obj, "organization_id", None) if isinstance(obj, TenantScoped) else None
        if isinstance(obj, Organization):
            owner = obj.id
        if _is_guarded(type(obj)) and owner != org_id:
            raise CrossTenantWrite(f"{type(obj).__name__} of another organization")


def init_app(app: Flask) -> None:
    """Tie the request lifecycle to the tenant context (identity sets it; teardown clears it)."""
    from webapp import tenancy_check

    @app.before_request
    def _start_without_tenant() -> None:
        # Each request starts with no organization; the authenticated identity sets one.
        set_current_org(None)
        tenancy_check.verify_runtime_role_once(app)

    @app.teardown_request
    def _end_tenant(exc: BaseException | None) -> None:
        _current_org.set(None)


# --- The door: the only cross-tenant reads, through SECURITY DEFINER functions -------------
#
# Every door below runs on the platform role's connection (the session's "platform" bind);
# the tenant role may not execute any of them. The caller's transaction holds both
# connections, so a door's change and its audit commit together with the rest.


def _platform(statement: object, params: dict | None = None):  # type: ignore[no-untyped-def]
    from webapp.extensions import db

    return db.session.execute(
        statement,  # type: ignore[arg-type]
        params or {},
        bind_arguments={"bind": db.engines["platform"]},
    )


@dataclass(frozen=True)
class LoginCandidate:
    """What the log-in door returns for an e-mail: where the account lives, and its secret."""

    organization_id: uuid.UUID
    user_id: uuid.UUID
    password_hash: str
    user_status: str
    org_status: str


def login_lookup(email: str) -> LoginCandidate | None:
    """Find the account for an e-mail across organizations (callers audit the outcome)."""

    row = _platform(text("SELECT * FROM app_login_lookup(:email)"), {"email": email}).one_or_none()
    return None if row is None else LoginCandidate(*row)


def email_exists(email: str) -> bool:
    """Whether any organization already has an account with this e-mail."""

    return bool(_platform(text("SELECT app_email_exists(:email)"), {"email": email}).scalar())


def pending_outbox(older_than_seconds: float, limit: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(organization, message) pairs never dispatched, oldest first — for the outbox relay."""
    return _door_pairs("app_outbox_pending", older_than_seconds, limit)


def expired_leases(limit: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(organization, document) pairs whose worker stopped renewing its lease — reconciler."""
    from webapp.extensions import db

    rows = _platform(
        text("SELECT organization_id, id FROM app_expired_leases(:n)"), {"n": limit}
    ).all()
    db.session.rollback()  # end the context-free transaction before acting per organization
    return [(row[0], row[1]) for row in rows]


@dataclass(frozen=True)
class WaitingOrganization:
    """An active organization with documents to process, as the reconciler sees it."""

    id: uuid.UUID
    plan_id: str
    worker_slots: int
    queued: int  # queued for longer than the settling time
    running: int


def waiting_organizations(settled_seconds: float, limit: int) -> list[WaitingOrganization]:
    """Active organizations with documents to process — for the reconciler.

    ``queued`` counts only documents queued for longer than ``settled_seconds`` (an upload
    being dispatched right now is not yet expected in Redis).
    """
    from webapp.extensions import db

    rows = _platform(
        text(
            "SELECT organization_id, plan_id, worker_slots, queued, running "
            "FROM app_waiting_organizations(make_interval(secs => :s), :n)"
        ),
        {"s": settled_seconds, "n": limit},
    ).all()
    db.session.rollback()
    return [WaitingOrganization(r[0], r[1], int(r[2]), int(r[3]), int(r[4])) for r in rows]


def trash_due(grace_seconds: float, limit: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(organization, document) pairs in the trash longer than the grace period — purge."""
    return _door_pairs("app_trash_due", grace_seconds, limit)


def _door_pairs(function: str, older_than_seconds: float, limit: int) -> list:
    from webapp.extensions import db

    rows = _platform(
        text(f"SELECT organization_id, id FROM {function}(make_interval(secs => :s), :n)"),
        {"s": older_than_seconds, "n": limit},
    ).all()
    db.session.rollback()  # end the context-free transaction before acting per organization
    return [(row[0], row[1]) for row in rows]


# --- The platform-admin door (webapp/admin): callers audit every use -----------------------


@dataclass(frozen=True)
class OrganizationRecord:
    """One organization as platform administration sees it, counts included."""

    id: uuid.UUID
    name: str
    slug: str
    plan_id: str
    status: str
    quota_overrides: dict
    created_at: datetime
    member_count: int
    document_count: int
    storage_bytes: int
    documents_this_month: int


def admin_list_organizations(
    search: str | None, limit: int, offset: int
) -> tuple[list[OrganizationRecord], int]:
    """A page of organizations (newest first) whose name contains ``search``, and the total."""

    rows = _platform(
        text("SELECT * FROM app_admin_list_organizations(:search, :limit, :offset)"),
        {"search": search or None, "limit": limit, "offset": offset},
    ).all()
    total = rows[0].total if rows else 0
    return [OrganizationRecord(*row[:-1]) for row in rows], total


def admin_organizations_page(
    search: str | None, limit: int, after: tuple[datetime, uuid.UUID] | None
) -> list[OrganizationRecord]:
    """Up to ``limit`` organizations (newest first) after the ``(created_at, id)`` cursor.

    Keyset pagination, counts kept in ``usage_totals``, names searched through a trigram
    index (migration 0018): the cost of a page does not grow with the number of
    organizations, nor with how far back the page is.
    """
    created, last_id = after if after is not None else (None, None)
    rows = _platform(
        text(
            "SELECT * FROM app_admin_organizations_page("
            ":search, :limit, CAST(:created AS timestamptz), CAST(:last_id AS uuid))"
        ),
        {"search": search or None, "limit": limit, "created": created, "last_id": last_id},
    ).all()
    return [OrganizationRecord(*row) for row in rows]


def admin_get_organization(
    org_id: uuid.UUID | None = None, slug: str | None = None
) -> OrganizationRecord | None:
    """One organization by id (or, when no id is given, by slug)."""

    row = _platform(
        text("SELECT * FROM app_admin_get_organization(:id, :slug)"), {"id": org_id, "slug": slug}
    ).one_or_none()
    return None if row is None else OrganizationRecord(*row)


def admin_update_organization(
    org_id: uuid.UUID,
    plan_id: str | None = None,
    status: str | None = None,
    overrides: dict | None = None,
) -> tuple[dict, dict] | None:
    """Change an organization's plan, status or overrides (None = unchanged): (old, new).

    Runs in the caller's transaction, which also writes the audit; None when there is no
    such organization.
    """

    row = _platform(
        text(
            "SELECT * FROM app_admin_update_organization("
            "CAST(:id AS uuid), :plan, :status, CAST(:overrides AS jsonb))"
        ),
        {
            "id": org_id,
            "plan": plan_id,
            "status": status,
            "overrides": None if overrides is None else json.dumps(overrides),
        },
    ).one_or_none()
    return None if row is None else (row.old_value, row.new_value)


def admin_update_plan(plan_id: str, limits: dict) -> tuple[dict, dict] | None:
    """Change some of a plan's limits (None = unlimited): (old, new), None if no such plan."""

    row = _platform(
        text("SELECT * FROM app_admin_update_plan(:id, CAST(:limits AS jsonb))"),
        {"id": plan_id, "limits": json.dumps(limits)},
    ).one_or_none()
    return None if row is None else (row.old_value, row.new_value)


@dataclass(frozen=True)
class UsageMonth:
    """One calendar month of an organization's uploads (migration 0016's door)."""

    period: date
    documents_uploaded: int
    bytes_uploaded: int


def admin_usage_history(org_id: uuid.UUID, months: int = 12) -> list[UsageMonth]:
    """One organization's monthly usage, newest first, at most ``months`` months."""

    rows = _platform(
        text("SELECT * FROM app_admin_usage_history(:id, :months)"),
        {"id": org_id, "months": months},
    ).all()
    return [UsageMonth(*row) for row in rows]


# --- Organization lifecycle (migration 0007): export enumeration and the purge door --------


# Every public table with an organization_id column: the tables RLS must guard.
TENANT_TABLES_SQL = text(
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'organization_id' "
    "AND NOT a.attisdropped WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') "
    "ORDER BY c.relname"
)


def tenant_table_names() -> list[str]:
    """Every tenant table, read from the live catalog.

    The export walks these (inside the organization's context, so RLS scopes every row), and
    a table added by a later migration joins the export without a code change.
    """
    from webapp.extensions import db

    return list(db.session.scalars(TENANT_TABLES_SQL))


def organizations_due_for_purge(grace_seconds: float, limit: int) -> list[uuid.UUID]:
    """Ids (only) of organizations pending deletion whose grace period has ended."""
    from webapp.extensions import db

    ids = list(
        _platform(
            text("SELECT id FROM app_organizations_due_for_purge(make_interval(secs => :s), :n)"),
            {"s": grace_seconds, "n": limit},
        ).scalars()
    )
    db.session.rollback()  # end the context-free transaction before purging one by one
    return ids


def organizations_with_overdue(today: date, limit: int) -> list[uuid.UUID]:
    """Ids (only) of active organizations with an overdue open action owned by a member
    (the daily overdue digest; migration 0014's door)."""
    from webapp.extensions import db

    ids = list(
        _platform(
            text("SELECT organization_id FROM app_organizations_with_overdue(:d, :n)"),
            {"d": today, "n": limit},
        ).scalars()
    )
    db.session.rollback()  # end the context-free transaction before publishing
    return ids


def purge_organization(org_id: uuid.UUID, grace_seconds: float) -> dict[str, int]:
    """Delete every row of one organization whose grace period ended: {table: rows}.

    Empty when the organization is not (or no longer) due — restored in the meantime, say.
    Runs in the caller's transaction, which also writes the platform audit event.
    """

    rows = _platform(
        text(
            "SELECT table_name, deleted FROM app_purge_organization(:id, make_interval(secs => :s))"
        ),
        {"id": org_id, "s": grace_seconds},
    ).all()
    return {row.table_name: int(row.deleted) for row in rows}


def create_platform_admin(email: str, name: str, password_hash: str) -> uuid.UUID:
    """Insert a platform admin through ``app_create_platform_admin`` (no role may INSERT)."""
    return _platform(
        text("SELECT app_create_platform_admin(:email, :name, :hash)"),
        {"email": email, "name": name, "hash": password_hash},
    ).scalar_one()
