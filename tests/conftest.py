"""Fixtures: a migrated PostgreSQL database, Redis, the app, clients, organizations, a worker.

Services come from TEST_DATABASE_URL (a role that can create databases and roles) and
TEST_REDIS_URL; without them an embedded PostgreSQL and Redis start under instance/.
Tests isolate by giving each test its own organizations, never by sharing one.
"""

from __future__ import annotations

import atexit
import io
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from webapp import create_app, embedded
from webapp.auth import services as auth_services
from webapp.extensions import db
from workers.fairness import worker_queues

ROOT = Path(__file__).resolve().parents[1]
TEST_DATABASE = f"pmdi_test_{os.getpid()}"
TEST_QUEUE = f"test-{os.getpid()}"
WORKER_NAME = f"{TEST_QUEUE}@localhost"
WORKER_QUEUES = worker_queues(f"{TEST_QUEUE}-docs", default=TEST_QUEUE)
# Roles are cluster-wide: parallel runs on one server (helpers, a benchmark) name their own.
APP_ROLE = os.environ.get("TEST_APP_ROLE", "pmdi_test_app")
APP_PASSWORD = "test-app-password"
# What webapp.config derives when PLATFORM_DATABASE_URL is not set (the tests rely on it).
PLATFORM_ROLE = APP_ROLE + "_platform"


@dataclass(frozen=True)
class Services:
    """Where the test database and Redis are."""

    owner_url: str  # the migration/owner role (bypasses RLS; used only to arrange and inspect)
    app_url: str  # the tenant role the app connects as (DATABASE_URL)
    redis_url: str
    platform_url: str = ""  # the platform role (PLATFORM_DATABASE_URL's default)


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    """Start or reach PostgreSQL and Redis, create and migrate a fresh test database.

    The database and the Celery queue are named after this process, so several test runs on
    one machine (CI, a developer, a benchmark) never drop or drain each other's.
    """
    keep: list[Any] = []
    admin_url = os.environ.get("TEST_DATABASE_URL")
    if not admin_url:
        server, admin_url = embedded.start_postgres(ROOT / "instance" / "test-pg")
        keep.append(server)
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        embedded_redis = embedded.start_redis(ROOT / "instance" / "test-redis.db")
        keep.append(embedded_redis)
        redis_url = embedded_redis.url
    if os.environ.get("TEST_BROKER_URL"):
        # Another Celery broker (RabbitMQ: amqp://…) for the app, the worker fixture and every
        # worker a test starts (they inherit the environment); Redis keeps the rest.
        os.environ["CELERY_BROKER_URL"] = os.environ["TEST_BROKER_URL"]
    _drop_abandoned_databases(admin_url)
    owner_url = embedded.ensure_database(admin_url, TEST_DATABASE, recreate=True)
    app_url = embedded.with_role(owner_url, APP_ROLE, APP_PASSWORD)
    platform_url = embedded.with_role(owner_url, PLATFORM_ROLE, APP_PASSWORD)
    bouncer = None
    if os.environ.get("TEST_PGBOUNCER") == "1":
        # The app, its workers and the raw role engines go through PgBouncer (transaction
        # mode); migrations and the owner's arranging stay direct, as in a deployment.
        bouncer = PgBouncer.start(owner_url, [app_url, platform_url])
        atexit.register(bouncer.stop)  # also when the session fails before its teardown
        os.environ["LISTEN_DATABASE_URL"] = app_url
        os.environ["DATABASE_PREPARED_STATEMENTS"] = "0"
        app_url, platform_url = bouncer.route(app_url), bouncer.route(platform_url)
    found = Services(
        owner_url=owner_url, app_url=app_url, redis_url=redis_url, platform_url=platform_url
    )
    migrator = make_app(found, MIGRATION_DATABASE_URL=owner_url)
    from flask_migrate import upgrade

    with migrator.app_context():
        upgrade()
    yield found
    for built in _APPS:
        close_app(built)
    if bouncer is not None:
        bouncer.stop()
    embedded.drop_database(admin_url, TEST_DATABASE)
    for server in keep:  # the embedded Redis is not left running (PostgreSQL stops at exit)
        if isinstance(server, embedded.EmbeddedRedis):
            server.stop()


@dataclass(frozen=True)
class PgBouncer:
    """PgBouncer started by scripts/pgbouncer on a free loopback port, for this test run."""

    directory: Path
    port: int

    @classmethod
    def start(cls, postgres_url: str, role_urls: list[str]) -> PgBouncer:
        """Listen in front of ``postgres_url``'s server, letting in the roles of ``role_urls``."""
        import socket
        import tempfile

        from sqlalchemy.engine import make_url

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = make_url(postgres_url)
        users = [f"{make_url(u).username}:{make_url(u).password or ''}" for u in role_urls]
        directory = Path(tempfile.mkdtemp(prefix="pmdi-pgbouncer-"))
        subprocess.run(
            [str(ROOT / "scripts" / "pgbouncer"), "start", str(directory), str(port),
             server.host or "127.0.0.1", str(server.port or 5432), *users],
            check=True,
        )  # fmt: skip
        return cls(directory, port)

    def route(self, url: str) -> str:
        """The same role and database, reached through PgBouncer."""
        from sqlalchemy.engine import make_url

        routed = make_url(url).set(host="127.0.0.1", port=self.port)
        return routed.render_as_string(hide_password=False)

    def stop(self) -> None:
        subprocess.run(
            [str(ROOT / "scripts" / "pgbouncer"), "stop", str(self.directory)], check=False
        )


# What the app's own engines take (webapp/database.py): prepared statements off through
# PgBouncer, for the raw role engines below too.
RAW_ENGINE_ARGS: dict[str, Any] = (
    {"connect_args": {"prepare_threshold": None}} if os.environ.get("TEST_PGBOUNCER") == "1" else {}
)


def close_app(built: Flask) -> None:
    """Close every connection an app holds: its pools, its LISTEN connection, its Redis."""
    with built.app_context():
        for engine in db.engines.values():
            engine.dispose()
    limiter = built.extensions.get("ratelimits")
    remembered = getattr(limiter, "remembered", None)
    if remembered is not None:
        remembered.changes.close()
    slots = built.extensions.get("fairness")
    if slots is not None:
        slots.client.close()


def _drop_abandoned_databases(admin_url: str) -> None:
    """Drop test databases left by runs whose process is gone (a crash, a kill)."""
    for name in embedded.list_databases(admin_url, "pmdi_test_%"):
        pid = name.rsplit("_", 1)[-1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            embedded.drop_database(admin_url, name)


_APPS: list[Flask] = []


def make_app(services: Services, **overrides: Any) -> Flask:
    """An app on the test services; ``overrides`` are config keys."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": services.app_url,
        "REDIS_URL": services.redis_url,
        # High enough that the suite's own log-ins from one address never trip it.
        "LOGIN_LIMIT_PER_IP": "100000/minute",
        "CELERY": {"task_default_queue": TEST_QUEUE},
        "DOCUMENT_QUEUE_PREFIX": f"{TEST_QUEUE}-docs",
    }
    config.update(overrides)
    built = create_app(config)
    _APPS.append(built)  # its pool is closed when the session ends
    return built


@pytest.fixture(autouse=True)
def _broker_not_remembered_down() -> Iterator[None]:
    """A test that fails a publish on purpose must not make the next tests skip the broker."""
    from webapp.documents import services as document_services

    yield
    document_services._broker_down_until = 0.0  # noqa: SLF001


@pytest.fixture(autouse=True)
def _celery_app_restored() -> Iterator[None]:
    """A test that builds its own app (a dead broker, other settings) makes that app's Celery the
    current and default one; put back the one before it, so tasks called by name later in the
    run (``process_document.delay``) publish through the session app's broker."""
    from celery import _state

    current, default = _state._tls.current_app, _state.default_app  # noqa: SLF001
    yield
    if current is not None:
        current.set_current()
    if default is not None:
        default.set_default()


@pytest.fixture(scope="session")
def app(services: Services) -> Flask:
    """The application, as the runtime role."""
    return make_app(services)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def owner_engine(services: Services) -> Iterator[Engine]:
    """The owner role, which bypasses RLS: to arrange data and to count what RLS could hide."""
    engine = create_engine(services.owner_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def app_engine(services: Services) -> Iterator[Engine]:
    """Raw connections as the tenant role, for probing row-level security directly."""
    engine = create_engine(services.app_url, **RAW_ENGINE_ARGS)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def platform_engine(services: Services) -> Iterator[Engine]:
    """Raw connections as the platform role, for probing the doors directly."""
    engine = create_engine(services.platform_url, **RAW_ENGINE_ARGS)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def context_key(platform_engine: Engine) -> bytes:
    """The key that signs entry proofs, read as the app reads it (through the platform role)."""
    from webapp.tenancy import read_context_key

    return read_context_key(platform_engine)


@pytest.fixture
def enter_org(context_key: bytes):  # type: ignore[no-untyped-def]
    """``enter_org(conn, org_id)``: the app's verified context on a raw tenant-role connection."""
    from webapp import tenancy

    def enter(conn, org_id) -> None:  # type: ignore[no-untyped-def]
        tenancy.enter_org(conn, None if org_id is None else uuid.UUID(str(org_id)), context_key)

    return enter


@dataclass(frozen=True)
class OrgFixture:
    """An organization created through sign-up, with its owner's credentials."""

    org_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    password: str
    name: str


@pytest.fixture
def make_org(app: Flask):  # type: ignore[no-untyped-def]
    """Factory: a new organization (through the sign-up service) and its owner."""

    def factory(name: str | None = None) -> OrgFixture:
        tag = uuid.uuid4().hex[:8]
        name = name or f"Org {tag}"
        email = f"owner-{tag}@example.com"
        password = f"pw-{tag}-long-enough"
        with app.app_context():
            user = auth_services.register_organization(name, f"Owner {tag}", email, password)
            org = OrgFixture(user.organization_id, user.id, email, password, name)
            db.session.remove()
        return org

    return factory


CSRF_RE = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')


@contextmanager
def statements_on(app: Flask, seen: list[str] | None = None) -> Iterator[list[str]]:
    """The SQL the app's engine runs meanwhile, appended to ``seen`` (a new list if none)."""
    with app.app_context():
        engine = db.engine
    seen = [] if seen is None else seen

    def record(conn, cursor, statement, *args: Any) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def csrf_token(client: FlaskClient, path: str) -> str:
    """The CSRF token from the form on ``path``."""
    page = client.get(path)
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path} (status {page.status_code})"
    return match.group(1)


def login(client: FlaskClient, email: str, password: str, **kwargs: Any):  # type: ignore[no-untyped-def]
    """Log in through the form, CSRF token included."""
    token = csrf_token(client, "/login")
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}, **kwargs
    )


@pytest.fixture
def login_as(app: Flask):  # type: ignore[no-untyped-def]
    """Factory: a client logged in as an organization's owner."""

    def factory(org: OrgFixture) -> FlaskClient:
        client = app.test_client()
        response = login(client, org.email, org.password)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return factory


def celery_worker_argv(
    queues: str, name: str, concurrency: int = 1, loglevel: str = "INFO"
) -> list[str]:
    """The command line of a real test worker: prefork, no gossip or mingle, these queues."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "celery_app",
        "worker",
        f"--concurrency={concurrency}",
        "--pool=prefork",
        "--without-gossip",
        "--without-mingle",
        f"--loglevel={loglevel}",
        "-Q",
        queues,
        "-n",
        name,
    ]


@contextmanager
def running_worker(
    services: Services,
    app: Flask,
    queues: str,
    name: str,
    log_path: Path,
    extra_env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen]:
    """A real Celery worker process (prefork, one child) on the test database and Redis,
    consuming ``queues`` (what waits in them is purged first); ``extra_env`` adds to its
    environment (``MAIL_DIR``, ``PUBLIC_URL`` as a web process of the test has them)."""
    env = {
        **os.environ,
        "DATABASE_URL": services.app_url,
        "REDIS_URL": services.redis_url,
        "SECRET_KEY": "test-secret",
        "PYTHONPATH": str(ROOT),
        "DOCUMENT_QUEUE_PREFIX": f"{TEST_QUEUE}-docs",
        # No reconciliation at start: tests leave documents queued on purpose.
        "RECONCILE_ON_START": "0",
        **(extra_env or {}),
    }
    env.pop("CELERY_BROKER_URL", None)
    if os.environ.get("TEST_BROKER_URL"):
        env["CELERY_BROKER_URL"] = os.environ["TEST_BROKER_URL"]
    log_path.parent.mkdir(exist_ok=True)
    log_file = log_path.open("w")
    process = subprocess.Popen(
        celery_worker_argv(queues, name),
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    celery = app.extensions["celery"]
    # Uploads made by earlier tests queued messages that no worker was there to take.
    purge_queues(celery, queues.split(","))
    deadline = time.monotonic() + 60
    while not celery.control.ping(destination=[name], timeout=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait(timeout=10)
            log_file.close()
            raise RuntimeError("worker did not start:\n" + log_path.read_text()[-3000:])
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log_file.close()


@pytest.fixture(scope="session")
def worker(services: Services, app: Flask) -> Iterator[subprocess.Popen]:
    """A real Celery worker process (prefork, one child) on the test database and Redis."""
    log_path = ROOT / "instance" / f"test-worker-{os.getpid()}.log"
    with running_worker(services, app, WORKER_QUEUES, WORKER_NAME, log_path) as process:
        yield process


def run_published(app: Flask, queue: str, timeout: float = 5.0) -> list[Any]:
    """Take the task messages waiting in ``queue`` (at least one, waiting up to ``timeout``)
    and run each task's body in this process, as a worker would but with ``app`` (its
    ``MAIL_SENDER``): what each returned. The queue must be one no real worker consumes."""
    import workers.tasks  # noqa: F401 - registers the tasks by name

    celery = app.extensions["celery"]
    results: list[Any] = []
    with celery.connection_for_read() as connection, connection.SimpleQueue(queue) as waiting:
        wait = timeout
        while True:
            try:
                message = waiting.get(block=True, timeout=wait)
            except waiting.Empty:
                break
            args, kwargs, _ = message.decode()
            task = celery.tasks[message.headers["task"]]
            message.ack()
            with app.app_context():
                results.append(task.run(*args, **kwargs))
                db.session.remove()
            wait = 0.2  # what was published together is there already
    assert results, f"nothing was published to {queue}"
    return results


FIXTURES = ROOT / "tests" / "fixtures"
INVITATION_LINK_RE = re.compile(r'id="invitation-link" readonly value="([^"]+)"')


def purge_queues(celery: Any, queues: list[str]) -> None:
    """Drop the messages waiting in ``queues``; on RabbitMQ a queue never declared is skipped
    (asking for it closes the channel asked on, so each gets a channel of its own)."""
    with celery.connection_for_write() as connection:
        for queue in queues:
            channel = connection.channel()
            try:
                channel.queue_purge(queue)
            except connection.channel_errors:
                pass  # no such queue: nothing waits in it
            finally:
                try:
                    channel.close()
                except Exception:  # noqa: BLE001 - closed by the broker already
                    pass


def invite(client: FlaskClient, email: str, role: str) -> str:
    """Invite ``email`` through the members page; the link it shows."""
    token = csrf_token(client, "/settings/members")
    response = client.post(
        "/settings/members/invite", data={"email": email, "role": role, "csrf_token": token}
    )
    match = INVITATION_LINK_RE.search(response.get_data(as_text=True))
    assert match, f"no invitation link ({response.status_code})"
    return match.group(1)


def upload(client: FlaskClient, *files: tuple[bytes, str]):  # type: ignore[no-untyped-def]
    """POST files (content, filename) through the upload page, CSRF token included."""
    token = csrf_token(client, "/documents/upload")
    fields = MultiDict([("csrf_token", token)])
    for content, name in files:
        fields.add("files", FileStorage(io.BytesIO(content), filename=name))
    # Encoded in memory: Werkzeug's test builder would spool a large body to a temporary file
    # that it never closes.
    boundary, body = encode_multipart(fields)
    return client.post(
        "/documents/upload", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def uploaded_ids(response) -> list[str]:  # type: ignore[no-untyped-def]
    """Ids of the documents an upload page links to."""
    return re.findall(r'/documents/([0-9a-f-]{36})"', response.get_data(as_text=True))


@dataclass(frozen=True)
class PopulatedOrg:
    """An organization with a processed document, so every tenant table holds its rows."""

    org: OrgFixture
    client: FlaskClient
    document_id: str
    secret_word: str
    api_token: str
    invitation_link: str = ""  # a pending invitation's link (the invitations table)
    export_id: str = ""  # a finished export (the exports and export_chunks tables)
    feed_token: str = ""  # a calendar feed's secret URL token (the calendar_feeds table)


def process_now(app: Flask, org_id: uuid.UUID, document_id: str) -> str:
    """Run the pipeline in-process for one document (the worker tests use a real worker).

    If the session's real worker took the document first (an upload published it), its lease
    is waited out: the document is then settled and the in-process run changes nothing.
    """
    from webapp.tenancy import tenant_context
    from workers import pipeline

    deadline = time.monotonic() + 120
    while True:
        with app.app_context(), tenant_context(org_id):
            try:
                return pipeline.process(document_id)
            except pipeline.LeaseHeld:
                if time.monotonic() > deadline:
                    raise
            finally:
                db.session.remove()
        time.sleep(0.1)


def build_export_now(app: Flask, org: OrgFixture) -> str:
    """An export of the organization built in-process (no broker message a worker could race)."""
    from webapp.models import Export
    from webapp.tenancy import tenant_context
    from workers.export import build_export

    with app.app_context(), tenant_context(org.org_id):
        export = Export(requested_by=org.user_id)
        db.session.add(export)
        db.session.commit()
        export_id = str(export.id)
        assert build_export(export_id) == "done"
        db.session.remove()
    return export_id


@pytest.fixture
def populate_org(app: Flask, make_org, login_as):  # type: ignore[no-untyped-def]
    """Factory: an organization with a processed document whose text holds a unique word."""

    def factory() -> PopulatedOrg:
        org = make_org()
        client = login_as(org)
        secret = "zq" + uuid.uuid4().hex[:10]
        text = (FIXTURES / "meeting_minutes.txt").read_text()
        text += f"\nThe codename for this workstream is {secret}.\n"
        response = upload(client, (text.encode(), f"minutes-{secret}.txt"))
        assert response.status_code == 200, response.get_data(as_text=True)
        (document_id,) = set(uploaded_ids(response))
        assert process_now(app, org.org_id, document_id) == "done"
        from webapp.api import tokens
        from webapp.models import User
        from webapp.tenancy import tenant_context

        with app.app_context(), tenant_context(org.org_id):
            issued = tokens.create_token(db.session.get(User, (org.org_id, org.user_id)), "ci")
            db.session.remove()
        with app.app_context(), tenant_context(org.org_id):
            # The workspace's tables: a calendar feed, an owner link, mail preferences (the
            # digest items and a notification come from processing).
            from webapp.workspace import exports, items, notify

            feed = exports.create_feed(org.user_id)
            items.link_owner("tom brennan", org.user_id)
            db.session.commit()
            notify.save_preferences(org.user_id, mail_on=True, overdue_digest=True)
            db.session.remove()
        link = invite(client, f"invitee-{secret}@example.com", "member")
        from webapp.auth import account_links

        with app.app_context():  # a pending reset link (the account_tokens table)
            account_links.send_password_reset(org.email, None)
            db.session.remove()
        export_id = build_export_now(app, org)
        return PopulatedOrg(
            org,
            client,
            document_id,
            secret,
            issued.plaintext,
            link,
            export_id=export_id,
            feed_token=feed,
        )

    return factory


@dataclass
class RoundTrips:
    """What the app sent PostgreSQL meanwhile: round trips it waited for, and statements."""

    count: int = 0
    statements: list[str] = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.statements = []


@contextmanager
def round_trips() -> Iterator[RoundTrips]:
    """Count the round trips psycopg waits for, in this process, while the block runs.

    A round trip is one exchange the client waits on: a statement outside a pipeline (and the
    BEGIN psycopg sends before it when not in autocommit), a pipeline's Sync (however many
    statements it carries), a COMMIT or ROLLBACK psycopg sends and waits for, a server-side
    cursor's fetch. A ROLLBACK sent without waiting for its reply (webapp/database.py) is
    not one: nobody waits for it. ``statements`` lists every SQL text sent, in order.
    """
    import psycopg
    from psycopg import pq

    seen = RoundTrips()
    idle = pq.TransactionStatus.IDLE
    originals: list[tuple[type, str, Any]] = []

    def wrap(cls: type, name: str, before) -> None:  # type: ignore[no-untyped-def]
        original = getattr(cls, name)
        originals.append((cls, name, original))

        def wrapper(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            before(self, *args)
            return original(self, *args, **kwargs)

        setattr(cls, name, wrapper)

    def on_execute(cursor, query, *args) -> None:  # type: ignore[no-untyped-def]
        conn = cursor.connection
        seen.statements.append(str(query))
        if conn._pipeline is None:  # noqa: SLF001
            seen.count += 1
            if not conn.autocommit and conn.pgconn.transaction_status == idle:
                seen.count += 1  # psycopg's own BEGIN, waited for before the statement
                seen.statements.append("BEGIN")

    def on_end(command: str):  # type: ignore[no-untyped-def]
        def before(conn, *args) -> None:  # type: ignore[no-untyped-def]
            if conn.pgconn.transaction_status != idle:
                seen.count += 1
                seen.statements.append(command)

        return before

    def on_sync(pipeline, *args) -> None:  # type: ignore[no-untyped-def]
        if pipeline.level == 1:
            seen.count += 1

    def on_fetch(cursor, *args) -> None:  # type: ignore[no-untyped-def]
        seen.count += 1

    wrap(psycopg.Cursor, "execute", on_execute)
    wrap(psycopg.Cursor, "executemany", on_execute)
    wrap(psycopg.ServerCursor, "execute", on_execute)
    for name in ("fetchone", "fetchmany", "fetchall"):
        wrap(psycopg.ServerCursor, name, on_fetch)
    wrap(psycopg.Connection, "commit", on_end("COMMIT"))
    wrap(psycopg.Connection, "rollback", on_end("ROLLBACK"))
    wrap(psycopg.Pipeline, "__exit__", on_sync)
    wrap(psycopg.Pipeline, "sync", lambda pipeline: setattr(seen, "count", seen.count + 1))
    try:
        yield seen
    finally:
        for cls, name, original in reversed(originals):
            setattr(cls, name, original)
