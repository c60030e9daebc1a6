"""PgBouncer in transaction mode between the app and PostgreSQL (docs/scaling.md).

Each test starts its own PgBouncer with scripts/pgbouncer in front of the test database.
(.ci/run also runs a smoke selection of the suite with TEST_PGBOUNCER=1, which routes every
app, worker and raw role connection of conftest through one.)
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import PgBouncer, Services, close_app, login, make_app
from webapp.extensions import db


@pytest.fixture
def bouncer(services: Services) -> Iterator[PgBouncer]:
    started = PgBouncer.start(services.owner_url, [services.app_url, services.platform_url])
    yield started
    started.stop()


def _direct(url: str) -> str:
    """``url`` as a psycopg conninfo (no SQLAlchemy driver suffix)."""
    return url.replace("postgresql+psycopg://", "postgresql://")


def _bouncer_app(services: Services, bouncer: PgBouncer, **overrides) -> Flask:  # type: ignore[no-untyped-def]
    return make_app(
        services,
        SQLALCHEMY_DATABASE_URI=bouncer.route(services.app_url),
        PLATFORM_DATABASE_URL=bouncer.route(services.platform_url),
        **overrides,
    )


def _swap_server_connections(url: str, rounds: int, **connect: object) -> None:
    """Two clients, each running one query every round, on swapped server connections.

    In transaction mode a released server connection goes to the next client that begins
    (the most recently released first), so committing A before B each round hands A's next
    transaction B's last server connection.
    """
    a = psycopg.connect(url, **connect)  # type: ignore[arg-type]
    b = psycopg.connect(url, **connect)  # type: ignore[arg-type]
    try:
        for _ in range(rounds):
            # Different queries: psycopg names its prepared statements per client connection
            # (_pg3_0, ...), so the same query on both would find its twin by chance.
            assert a.execute("SELECT count(*) FROM plans WHERE id <> %s", ("x",)).fetchone()
            assert b.execute("SELECT count(*) FROM plans").fetchone()
            a.commit()
            b.commit()
    finally:
        a.close()
        b.close()


def test_prepared_statements_break_transaction_mode_unless_turned_off(services, bouncer):
    """Why DATABASE_PREPARED_STATEMENTS=0: psycopg prepares a query at its 5th run on a client
    connection, and PgBouncer 1.18 runs the next one on another server connection."""
    url = _direct(bouncer.route(services.app_url))
    with pytest.raises(psycopg.Error, match="prepared statement"):
        _swap_server_connections(url, rounds=10)
    _swap_server_connections(url, rounds=10, prepare_threshold=None)


def test_app_through_pgbouncer_signs_up_logs_in_and_lists(services, bouncer):
    """Sign-up (platform role), log-in, pages (tenant role, verified context per transaction)
    all pass through PgBouncer, from several threads, with prepared statements off."""
    built = _bouncer_app(services, bouncer, DATABASE_PREPARED_STATEMENTS=False)
    try:
        with built.app_context():
            assert db.engine.url.port == bouncer.port
            assert db.engines["platform"].url.port == bouncer.port
        from webapp.auth import services as auth_services

        tag = uuid.uuid4().hex[:8]
        email, password = f"bouncer-{tag}@example.com", f"pw-{tag}-long-enough"
        with built.app_context():
            auth_services.register_organization(f"Bouncer {tag}", "Owner", email, password)
            db.session.remove()
        errors: list[BaseException] = []

        def browse() -> None:
            try:
                client = built.test_client()
                assert login(client, email, password).status_code == 302
                for _ in range(8):  # past psycopg's prepare threshold on a shared pool
                    assert client.get("/documents").status_code == 200
            except BaseException as error:  # noqa: BLE001 - reported by the main thread
                errors.append(error)

        threads = [threading.Thread(target=browse) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        with psycopg.connect(
            f"host=127.0.0.1 port={bouncer.port} dbname=pgbouncer "
            f"user={built.config['APP_DB_ROLE']}",
            autocommit=True,
            prepare_threshold=None,
        ) as admin:
            pools = admin.execute("SHOW POOLS").fetchall()
            columns = [c.name for c in admin.cursor().execute("SHOW POOLS").description]
        users = {row[columns.index("user")] for row in pools}
        modes = {row[columns.index("pool_mode")] for row in pools if row[0] != "pgbouncer"}
        assert {built.config["APP_DB_ROLE"], built.config["PLATFORM_DB_ROLE"]} <= users
        assert modes == {"transaction"}
    finally:
        close_app(built)


def test_limit_changes_are_heard_on_the_direct_listen_url(services, bouncer, owner_engine):
    """LISTEN needs a session: with DATABASE_URL through PgBouncer, LISTEN_DATABASE_URL points
    at PostgreSQL itself and a NOTIFY pmdi_limits still reaches the process."""
    built = _bouncer_app(
        services,
        bouncer,
        DATABASE_PREPARED_STATEMENTS=False,
        # PostgreSQL itself (under TEST_PGBOUNCER=1 the suite's app_url is a PgBouncer's too).
        LISTEN_DATABASE_URL=os.environ.get("LISTEN_DATABASE_URL") or services.app_url,
    )
    try:
        changes = built.extensions["ratelimits"].remembered.changes
        before = changes.poll()
        assert before is not None, "no listener"
        # Listening on PostgreSQL's own port (where the owner, always direct, connects).
        direct_port = make_url(services.owner_url).port or 5432
        assert changes._connection.info.port == direct_port  # noqa: SLF001
        with owner_engine.begin() as conn:
            conn.execute(text("NOTIFY pmdi_limits"))
        import time

        deadline = time.monotonic() + 5
        while changes.poll() == before:
            assert time.monotonic() < deadline, "no NOTIFY pmdi_limits arrived"
            time.sleep(0.01)
    finally:
        close_app(built)


def test_readiness_probe_answers_through_pgbouncer(services, bouncer):
    """/readyz's own database probe (startup options dropped by PgBouncer) reads the head."""
    built = _bouncer_app(services, bouncer, DATABASE_PREPARED_STATEMENTS=False)
    try:
        probe = built.extensions["readiness"]
        for _ in range(8):
            assert probe.postgres()
    finally:
        close_app(built)


def test_engine_options_reach_every_engine(services, bouncer):
    """DATABASE_PREPARED_STATEMENTS=False reaches both roles' connections (no prepare)."""
    built = _bouncer_app(services, bouncer, DATABASE_PREPARED_STATEMENTS=False)
    try:
        with built.app_context():
            for engine in (db.engine, db.engines["platform"]):
                with engine.connect() as conn:
                    assert conn.connection.driver_connection.prepare_threshold is None
    finally:
        close_app(built)
    plain = create_engine(services.app_url)
    with plain.connect() as conn:
        assert conn.connection.driver_connection.prepare_threshold == 5
    plain.dispose()
