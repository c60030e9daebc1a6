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
from collections.abc import Mapping
from typing import Any

from flask import Flask
from sqlalchemy import Engine, event, exc

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
            ping_when_idle(engine, idle_seconds)
            if extra:
                _connect_with(engine, extra)
            if key == "platform":
                _platform_engines.add(engine)


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
