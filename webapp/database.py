"""Pooled database connections, checked before use only when they may have gone stale.

SQLAlchemy's ``pool_pre_ping`` pings at every checkout: a round trip for every transaction,
three per processed document, even for a connection returned a millisecond before. A
connection that was just used is alive; one that sat in the pool may have been closed by a
database restart, a failover or an idle timeout. So a connection is pinged (with the
dialect's own ping) only when it has been idle for ``DATABASE_PING_AFTER_IDLE_SECONDS``. A
dead one is discarded and the pool hands out a fresh connection instead (raising
``DisconnectionError`` from a checkout listener is how the pool is told: it retries).

What this gives up: a connection that breaks in the second after it was last used fails its
next transaction once, where ``pool_pre_ping`` would have replaced it.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import psycopg
from flask import Flask
from psycopg import pq
from psycopg._column import Column
from sqlalchemy import Engine, Select, event, exc

_CHECKED_IN_AT = "pmdi_checked_in_at"

# Engines of the platform role (the "platform" bind; see webapp/config.py and README "Roles by
# trust"): the tenancy hooks set no organization context on their connections.
_platform_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def init_app(app: Flask) -> None:
    """Install the idle-connection ping on every engine of the app; note the platform one.

    Two engines: the default one is the tenant role (DATABASE_URL), ``db.engines["platform"]``
    the platform role (PLATFORM_DATABASE_URL). One session spans both: models of platform
    tables and every door call go to the platform engine, the rest to the tenant engine.
    """
    from webapp.extensions import db

    idle_seconds = float(app.config["DATABASE_PING_AFTER_IDLE_SECONDS"])
    extra = connect_args(app.config)
    with app.app_context():
        for key, engine in db.engines.items():
            if key == "platform":
                _platform_engines.add(engine)
            elif engine.dialect.driver == "psycopg" and app.config["DATABASE_FOLD_CONTEXT"]:
                fold_transaction_start(engine, implicit_reads=app.config["DATABASE_IMPLICIT_READS"])
            ping_when_idle(engine, idle_seconds)
            if engine.dialect.driver == "psycopg":
                describe_lazily(engine)
            if extra:
                _connect_with(engine, extra)


def connect_args(config: Mapping[str, Any]) -> dict[str, Any]:
    """psycopg arguments every connection of the app takes (its own engines, the probes').

    ``prepare_threshold=None`` when DATABASE_PREPARED_STATEMENTS is off: behind PgBouncer's
    transaction mode a statement prepared on one server connection is not there on the next.
    """
    if config.get("DATABASE_PREPARED_STATEMENTS", True):
        return {}
    return {"prepare_threshold": None}


def _connect_with(engine: Engine, extra: dict[str, Any]) -> None:
    @event.listens_for(engine, "do_connect")
    def _extra_arguments(dialect: Any, conn_rec: Any, cargs: Any, cparams: dict) -> None:
        cparams.update(extra)


def is_platform(engine: Engine) -> bool:
    """Whether ``engine`` connects as the platform role."""
    return engine in _platform_engines


def ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping a connection at checkout if it was checked in more than ``idle_seconds`` ago.

    The listeners belong to the pool's dispatch, which survives ``engine.dispose()``.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get(_CHECKED_IN_AT)
        if since is None or time.monotonic() - since < idle_seconds:
            return  # new (its info is cleared on reconnect), or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # noqa: BLE001 - any failure means: not usable
            raise exc.DisconnectionError(f"stale pooled connection: {error}") from error


# --- Descriptions made when read (issue 15) ------------------------------------------------
#
# SQLAlchemy asks for ``cursor.description`` after every statement, and psycopg builds a
# Column object per field each time (39 for the token list's two statements). For a cached
# statement SQLAlchemy only checks that there is one: the columns it keeps were read the first
# time. So the description is a sequence whose columns are made on first use, from the result
# it was asked for (not whatever result the cursor holds by then).

_ROW_STATUSES = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.SINGLE_TUPLE, pq.ExecStatus.TUPLES_CHUNK)


class _ResultFields:
    """What psycopg's Column reads from its cursor, held for one result."""

    __slots__ = ("pgresult", "_encoding", "adapters")

    def __init__(self, pgresult: Any, encoding: str, adapters: Any) -> None:
        self.pgresult, self._encoding, self.adapters = pgresult, encoding, adapters


class LazyDescription(Sequence[Column]):
    """A result's description: its length at once, its Column objects when first read."""

    __slots__ = ("_fields", "_count", "_columns")

    def __init__(self, fields: _ResultFields, count: int) -> None:
        self._fields, self._count = fields, count
        self._columns: list[Column] | None = None

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: Any) -> Any:
        if self._columns is None:
            self._columns = [Column(self._fields, i) for i in range(self._count)]  # type: ignore[arg-type]
        return self._columns[index]

    def __eq__(self, other: object) -> bool:
        return list(self) == other

    __hash__ = None  # type: ignore[assignment]


class LazyDescriptionCursor(psycopg.Cursor):
    """psycopg's cursor, with ``description`` as a ``LazyDescription``."""

    __slots__ = ()

    @property
    def description(self) -> LazyDescription | None:  # type: ignore[override]
        result = self.pgresult
        if result and (result.nfields or result.status in _ROW_STATUSES):
            fields = _ResultFields(result, self._encoding, self.adapters)
            return LazyDescription(fields, result.nfields)
        return None


def describe_lazily(engine: Engine) -> None:
    """Give every connection of ``engine`` cursors that describe their results lazily."""

    @event.listens_for(engine, "connect")
    def _lazy_cursors(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.cursor_factory = LazyDescriptionCursor


# --- One round trip for the tenant context (issue 15) --------------------------------------
#
# psycopg sends BEGIN as a round trip of its own before a transaction's first statement, the
# tenant context (``app_enter_org``) was a second one, and every request ended with a
# ROLLBACK it waited for: three round trips around a request's own statements. On the tenant
# engine instead:
#
# * psycopg's connections run in autocommit, so psycopg itself never sends BEGIN;
# * the first statement of a transaction is sent in one pipeline (one network write, one
#   Sync) behind ``BEGIN`` and the context statement, which the tenancy module queues with
#   ``set_context`` when the session's transaction begins: one round trip for all three, and
#   the transaction is a real one (``BEGIN`` ... ``COMMIT``/``ROLLBACK``) as before;
# * a ROLLBACK of a healthy transaction is sent without waiting for its reply; the reply is
#   read when the connection is next used (at checkout, or before its next statement), by
#   which time it has long arrived. A transaction in error is rolled back as psycopg does.
#
# The context's security is unchanged: the same ``app_enter_org(org, proof)`` runs first in
# the same transaction; it only shares the network write with the statement after it.
#
# **Reads in implicit transactions (issue 15, DATABASE_IMPLICIT_READS).** Until a session's
# transaction writes, its reads need no transaction of their own: under READ COMMITTED each
# statement takes its own snapshot anyway. So a plain SELECT on an idle connection goes out as
# one pipeline of two statements, the context and the SELECT, with no BEGIN: in the extended
# protocol the statements up to a Sync run as one implicit transaction, which PostgreSQL ends
# at the Sync (a failed context skips the SELECT and rolls back). The context is sent again
# with each such read (the mark names each implicit transaction's start, so it never outlives
# it) and the request ends with no ROLLBACK at all. The first statement that is not a plain
# SELECT (a write, a SELECT ... FOR UPDATE, any text() SQL, a server-side cursor) opens a real
# transaction as above, and every later statement runs in it. What the reads before it give
# up: the row locks they never took anyway, and sharing one ``now()`` with the write after.

_PENDING_CONTEXT = "pmdi_pending_context"
_PENDING_REPLY = "pmdi_pending_reply"
_IMPLICIT_READS = "pmdi_implicit_reads"


def set_context(connection: Any, sql: str, params: Callable[[], tuple[Any, ...]]) -> bool:
    """Queue ``sql`` to open the transaction of ``connection`` (a SQLAlchemy Connection).

    ``params`` makes the statement's parameters when it is sent (an entry proof is good for
    minutes: reads in implicit transactions send it again, possibly much later).
    True when it was queued (sent with the transaction's first statement); False when the
    transaction has already started on the server, and the caller must run it now.
    """
    fairy = connection.connection
    if not fairy.info.get(_FOLDED) or _transaction_started(fairy):
        return False
    fairy.info[_PENDING_CONTEXT] = (sql, params)
    return True


_FOLDED = "pmdi_folded"


def _plain_read(context: Any) -> bool:
    """Whether a statement is a plain SELECT built with SQLAlchemy (no FOR UPDATE/SHARE):
    one that may run in an implicit transaction of its own. text() SQL never is."""
    if context.isinsert or context.isupdate or context.isdelete or context.executemany:
        return False
    compiled = getattr(context, "compiled", None)
    statement = getattr(compiled, "statement", None)
    return isinstance(statement, Select) and statement._for_update_arg is None  # noqa: SLF001


def _transaction_started(fairy: Any) -> bool:
    raw = fairy.dbapi_connection
    _collect_reply(fairy.info, raw)
    return raw.pgconn.transaction_status != pq.TransactionStatus.IDLE


def _collect_reply(info: dict, raw: Any) -> None:
    """Read the reply of a ROLLBACK sent without waiting (it arrived long ago)."""
    if not info.pop(_PENDING_REPLY, False):
        return
    pgconn = raw.pgconn
    failure = None
    while (result := pgconn.get_result()) is not None:
        if result.status != pq.ExecStatus.COMMAND_OK:
            failure = (result.error_message or b"").decode(errors="replace")
    if failure is not None or pgconn.transaction_status != pq.TransactionStatus.IDLE:
        raise exc.DisconnectionError(f"deferred ROLLBACK failed: {failure}")


def _record_info(connection: Any) -> dict | None:
    """The pool record's info of a pooled connection (None for anything else)."""
    try:
        info = connection.info
    except (AttributeError, NotImplementedError):
        return None
    return info if isinstance(info, dict) else None


def _with_prologue(execute: Any) -> Any:
    """``execute`` (a dialect's do_execute*), preceded in one pipeline by BEGIN and the
    queued context when the connection is not in a transaction yet."""

    def run_pipelined(cursor: Any, statement: str, *args: Any) -> None:
        info = _record_info(args[-1].root_connection.connection)
        if info is None or not info.get(_FOLDED):
            return execute(cursor, statement, *args)  # the dialect's first connect
        raw = cursor.connection
        _collect_reply(info, raw)
        if not raw.autocommit:  # an isolation level was asked for: psycopg begins itself
            pending = info.pop(_PENDING_CONTEXT, None)
            if pending is not None:
                raw.execute(pending[0], pending[1]())
            return execute(cursor, statement, *args)
        if raw.pgconn.transaction_status != pq.TransactionStatus.IDLE:
            return execute(cursor, statement, *args)
        server_side = isinstance(cursor, psycopg.ServerCursor)
        pending = info.get(_PENDING_CONTEXT)
        if (
            pending is not None
            and info.get(_IMPLICIT_READS)
            and not server_side
            and _plain_read(args[-1])
        ):
            # One implicit transaction: the context, then the read; kept for the next one.
            with raw.pipeline():
                raw.execute(pending[0], pending[1]())
                return execute(cursor, statement, *args)
        info.pop(_PENDING_CONTEXT, None)
        with raw.pipeline():  # leaving it sends one Sync: the one round trip
            raw.execute("BEGIN")
            if pending is not None:
                raw.execute(pending[0], pending[1]())
            if not server_side:
                return execute(cursor, statement, *args)
        # A named (server-side) cursor cannot run in a pipeline: it follows on its own.
        return execute(cursor, statement, *args)

    return run_pipelined


def fold_transaction_start(engine: Engine, implicit_reads: bool = True) -> None:
    """Send BEGIN and the queued context with each transaction's first statement, and (with
    ``implicit_reads``) the context with each plain read before it, BEGIN-less (above)."""

    @event.listens_for(engine, "connect")
    def _autocommit(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection.pgconn.transaction_status != pq.TransactionStatus.IDLE:
            dbapi_connection.rollback()
        dbapi_connection.autocommit = True  # BEGIN is ours to send, with the first statement
        record.info[_FOLDED] = True
        record.info[_IMPLICIT_READS] = implicit_reads

    @event.listens_for(engine, "checkout")
    def _read_reply(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        try:
            _collect_reply(record.info, dbapi_connection)
        except exc.DisconnectionError:
            raise
        except Exception as error:  # noqa: BLE001 - a connection we cannot read is dead
            raise exc.DisconnectionError(f"deferred ROLLBACK unread: {error}") from error

    @event.listens_for(engine, "checkin")
    def _forget_context(dbapi_connection: Any, record: Any) -> None:
        record.info.pop(_PENDING_CONTEXT, None)

    # The prologue goes out inside the dialect's execute, so a failure (a dead connection,
    # say) is reported and handled by SQLAlchemy like the statement's own.
    dialect = engine.dialect
    for name in ("do_execute", "do_execute_no_params", "do_executemany"):
        setattr(dialect, name, _with_prologue(getattr(dialect, name)))

    plain_rollback = dialect.do_rollback

    def do_rollback(dbapi_connection: Any) -> None:
        info = _record_info(dbapi_connection)
        raw = getattr(dbapi_connection, "dbapi_connection", dbapi_connection)
        if not isinstance(info, dict) or not info.get(_FOLDED):
            return plain_rollback(dbapi_connection)
        if info.get(_PENDING_REPLY):
            return None  # already rolled back (the pool's reset after the session's)
        info.pop(_PENDING_CONTEXT, None)
        status = raw.pgconn.transaction_status
        if status == pq.TransactionStatus.INTRANS and raw._pipeline is None:  # noqa: SLF001
            try:
                raw.pgconn.send_query(b"ROLLBACK")
                raw.pgconn.flush()
            except psycopg.Error:
                return plain_rollback(dbapi_connection)  # raises as psycopg would
            info[_PENDING_REPLY] = True
            return None
        return plain_rollback(dbapi_connection)

    engine.dialect.do_rollback = do_rollback  # type: ignore[method-assign]

    plain_commit = engine.dialect.do_commit

    def do_commit(dbapi_connection: Any) -> None:
        info = _record_info(dbapi_connection)
        if isinstance(info, dict):
            info.pop(_PENDING_CONTEXT, None)
            _collect_reply(info, getattr(dbapi_connection, "dbapi_connection", dbapi_connection))
        plain_commit(dbapi_connection)

    engine.dialect.do_commit = do_commit  # type: ignore[method-assign]
