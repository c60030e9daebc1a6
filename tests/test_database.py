"""Pooled connections are pinged only after sitting idle (webapp/database.py): real PostgreSQL."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from tests.conftest import close_app, make_app
from webapp.extensions import db

IDLE = 0.3  # seconds of idleness after which a connection is pinged, in these tests


@pytest.fixture
def pings(monkeypatch):
    """Count the dialect's pings (the idle check calls the dialect's own ``do_ping``)."""
    calls: list[int] = []

    def counting(app):
        with app.app_context():
            dialect = db.engine.dialect
            original = dialect.do_ping

            def do_ping(dbapi_connection):
                calls.append(1)
                return original(dbapi_connection)

            monkeypatch.setattr(dialect, "do_ping", do_ping)
        return calls

    return counting


def backend_pid(app) -> int:
    """The server process of the connection a new transaction gets (then returned to the pool)."""
    with app.app_context():
        pid = db.session.scalar(text("SELECT pg_backend_pid()"))
        db.session.commit()
        db.session.remove()
    return pid


def test_a_connection_used_a_moment_ago_is_not_pinged_and_an_idle_one_is(services, pings):
    app = make_app(services, DATABASE_PING_AFTER_IDLE_SECONDS=IDLE)
    calls = pings(app)
    first = backend_pid(app)  # a new connection: never pinged
    for _ in range(5):
        assert backend_pid(app) == first  # the same pooled connection, reused at once
    assert calls == [], "no ping for a connection checked in moments ago"
    time.sleep(IDLE + 0.2)
    assert backend_pid(app) == first
    assert calls == [1], "one ping after it sat idle"


def test_an_idle_connection_that_died_is_replaced_before_use(services, owner_engine):
    app = make_app(services, DATABASE_PING_AFTER_IDLE_SECONDS=IDLE)
    first = backend_pid(app)
    with owner_engine.connect() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    time.sleep(IDLE + 0.2)
    second = backend_pid(app)  # no error: the ping found it dead, the pool made a new one
    assert second != first


def test_without_the_ping_a_dead_connection_fails_its_next_transaction(services, owner_engine):
    """The trade-off, shown: a connection killed less than the idle time after its last use
    is not checked, so its next transaction fails once (and the pool then replaces it)."""
    app = make_app(services, DATABASE_PING_AFTER_IDLE_SECONDS=3600)
    first = backend_pid(app)
    with owner_engine.connect() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    time.sleep(0.2)
    with app.app_context(), pytest.raises(OperationalError):
        db.session.scalar(text("SELECT 1"))
    with app.app_context():
        db.session.remove()
    assert backend_pid(app) != first  # the broken connection was discarded


def test_the_ping_survives_dispose_as_a_forked_worker_does(services, owner_engine, pings):
    """Celery's children dispose the inherited pool (workers/setup.py); the check stays."""
    app = make_app(services, DATABASE_PING_AFTER_IDLE_SECONDS=IDLE)
    calls = pings(app)
    with app.app_context():
        db.engine.dispose()
    first = backend_pid(app)
    time.sleep(IDLE + 0.2)
    assert backend_pid(app) == first
    assert calls == [1]


def test_a_lazy_description_describes_its_own_result(owner_engine) -> None:
    """Made on first read, after the cursor has moved on: still the columns it was asked for."""
    import psycopg

    from webapp.database import LazyDescriptionCursor

    raw = owner_engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()
        assert type(cursor) is psycopg.Cursor  # the owner engine is not the app's
        lazy = LazyDescriptionCursor(raw.driver_connection)
        lazy.execute("SELECT 1 AS one, 'x'::text AS two, now() AS three")
        first = lazy.description
        lazy.execute("SELECT 2 AS other")
        assert len(first) == 3
        assert [column.name for column in first] == ["one", "two", "three"]
        assert first[2].type_display == "timestamptz"
        assert [column.name for column in lazy.description] == ["other"]
        lazy.execute("SET LOCAL statement_timeout = 0")
        assert lazy.description is None
    finally:
        raw.rollback()
        raw.close()


def test_the_app_engines_describe_lazily(services) -> None:
    from webapp.database import LazyDescriptionCursor

    app = make_app(services)
    with app.app_context():
        for engine in db.engines.values():
            with engine.connect() as conn:
                assert conn.connection.dbapi_connection.cursor_factory is LazyDescriptionCursor
    close_app(app)
