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
from typing import Any

from flask import Flask
from sqlalchemy import Engine, event, exc

_CHECKED_IN_AT = "pmdi_checked_in_at"


def init_app(app: Flask) -> None:
    """Install the idle-connection ping on every engine of the app."""
    from webapp.extensions import db

    idle_seconds = float(app.config["DATABASE_PING_AFTER_IDLE_SECONDS"])
    with app.app_context():
        for engine in db.engines.values():
            ping_when_idle(engine, idle_seconds)


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
