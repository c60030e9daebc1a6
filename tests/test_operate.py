"""Operations: /healthz and /readyz, /metrics, JSON logs with a request id that reaches the worker.

"Gone" services are made without touching the machine's shared PostgreSQL and Redis: a scratch
app reaches them through a TCP relay this test starts on loopback, and stopping the relay (its
connections included) is the outage; starting it again on the same port is the return. Worker
outages use real worker processes of their own (own queues, own heartbeat key).
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from flask import Flask

from tests.conftest import FIXTURES, ROOT, Services, celery_worker_argv, make_app
from tests.test_ratelimit import api_client, api_token
from webapp import logs
from workers.fairness import worker_queues
from workers.heartbeat import Heartbeat

# --- a TCP relay whose stop is an outage ---------------------------------------------------


class Relay:
    """Forwards a loopback port to a real service until stopped; ``start`` again to return."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()

    def start(self) -> Relay:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1.0)
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    (b if source is a else a).sendall(data)
        except (OSError, ValueError):  # closed under it by ``stop``
            return
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass

    def stop(self) -> None:
        """Close the port and every relayed connection: the service is gone for the app."""
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def through(url: str, relay: Relay) -> str:
    """``url`` with its host and port replaced by the relay's."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{relay.port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


def target_of(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 0


def ready(app: Flask) -> tuple[int, dict[str, str]]:
    response = app.test_client().get("/readyz")
    return response.status_code, response.json["components"]


def wait_for(app: Flask, status: int, timeout: float = 60) -> dict[str, str]:
    """Poll /readyz until it answers ``status``; its components then."""
    deadline = time.monotonic() + timeout
    while True:
        code, components = ready(app)
        if code == status:
            return components
        assert time.monotonic() < deadline, f"/readyz stayed {code}: {components}"
        time.sleep(0.3)


@pytest.fixture(autouse=True)
def _close_scratch_apps() -> Iterator[None]:
    """Close every connection of the scratch apps a test made (the machine's slots are few)."""
    from tests import conftest
    from webapp.extensions import db

    before = len(conftest._APPS)
    yield
    for built in conftest._APPS[before:]:
        built.extensions["readiness"].close()
        built.extensions["ratelimits"].remembered.changes._close()
        with built.app_context():
            for engine in db.engines.values():
                engine.dispose()


@pytest.fixture
def heartbeat_key(services: Services) -> Iterator[str]:
    """A heartbeat set of this test's own, so other runs' workers never count."""
    key = f"test-heartbeat-{uuid.uuid4().hex[:8]}"
    yield key
    redis.Redis.from_url(services.redis_url).delete(key)


def fresh_heartbeat(services: Services, key: str) -> Heartbeat:
    beat = Heartbeat(redis.Redis.from_url(services.redis_url), key, "worker:test:1", 1.0)
    beat.beat()
    return beat


# --- health ----------------------------------------------------------------------------------


def test_healthz_answers_without_touching_anything(services):
    """/healthz needs no service: even an app whose database and Redis are dead answers 200."""
    app = make_app(
        services,
        SQLALCHEMY_DATABASE_URI="postgresql://nobody:x@127.0.0.1:9/none",
        REDIS_URL="redis://127.0.0.1:9/0",
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_is_ready_with_every_component_and_reveals_nothing(services, heartbeat_key):
    app = make_app(services, WORKER_HEARTBEAT_KEY=heartbeat_key, RATELIMIT_ENABLED=True)
    code, components = ready(app)
    assert code == 503 and components["workers"] == "failing"  # no worker has beaten yet
    fresh_heartbeat(services, heartbeat_key)
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.json == {
        "status": "ready",
        "components": {"postgres": "ok", "redis": "ok", "broker": "ok", "workers": "ok"},
    }
    # Never rate-limited, never logged in: a flood of probes from one address all answer.
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "198.51.100.77"
    statuses = {client.get("/readyz").status_code for _ in range(150)}  # over 120/minute
    assert statuses == {200}
    assert "X-RateLimit-Limit" not in client.get("/readyz").headers


def test_readyz_unready_on_a_stale_heartbeat(services, heartbeat_key):
    """A worker killed outright stops beating: its last heartbeat goes stale."""
    app = make_app(services, WORKER_HEARTBEAT_KEY=heartbeat_key, READY_WORKER_HEARTBEAT_SECONDS=30)
    redis.Redis.from_url(services.redis_url).zadd(heartbeat_key, {"worker:x:1": time.time() - 31})
    assert ready(app) == (
        503,
        {"postgres": "ok", "redis": "ok", "broker": "ok", "workers": "failing"},
    )


def test_readyz_unready_when_migrations_are_not_at_head(services, heartbeat_key, owner_engine):
    from sqlalchemy import text

    app = make_app(services, WORKER_HEARTBEAT_KEY=heartbeat_key)
    fresh_heartbeat(services, heartbeat_key)
    assert ready(app)[0] == 200
    with owner_engine.begin() as conn:
        head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        conn.execute(text("UPDATE alembic_version SET version_num = '0001_foundation'"))
    try:
        assert ready(app) == (
            503,
            {"postgres": "failing", "redis": "ok", "broker": "ok", "workers": "ok"},
        )
    finally:
        with owner_engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :h"), {"h": head})
    assert ready(app)[0] == 200


def test_readyz_follows_postgres_going_and_coming_back(services, heartbeat_key):
    relay = Relay(target_of(services.app_url)).start()
    try:
        app = make_app(
            services,
            SQLALCHEMY_DATABASE_URI=through(services.app_url, relay),
            WORKER_HEARTBEAT_KEY=heartbeat_key,
        )
        fresh_heartbeat(services, heartbeat_key)
        assert ready(app)[0] == 200
        relay.stop()
        assert ready(app) == (
            503,
            {"postgres": "failing", "redis": "ok", "broker": "ok", "workers": "ok"},
        )
        relay.start()
        fresh_heartbeat(services, heartbeat_key)
        assert ready(app)[0] == 200
    finally:
        relay.stop()


def test_readyz_follows_redis_going_and_coming_back(services, heartbeat_key):
    relay = Relay(target_of(services.redis_url)).start()
    try:
        app = make_app(
            services,
            REDIS_URL=through(services.redis_url, relay),
            WORKER_HEARTBEAT_KEY=heartbeat_key,
            READY_TIMEOUT_SECONDS=0.5,
        )
        fresh_heartbeat(services, heartbeat_key)
        assert ready(app)[0] == 200
        relay.stop()
        # The broker is the same Redis here, and heartbeats live there: all three fail.
        assert ready(app) == (
            503,
            {"postgres": "ok", "redis": "failing", "broker": "failing", "workers": "failing"},
        )
        relay.start()
        fresh_heartbeat(services, heartbeat_key)
        assert ready(app)[0] == 200
    finally:
        relay.stop()


def spawn_worker(services: Services, prefix: str, log_path: Path, **env: str) -> subprocess.Popen:
    """A real Celery worker on queues of its own (``prefix``), logging to ``log_path``."""
    environment = {
        **os.environ,
        "DATABASE_URL": services.app_url,
        "REDIS_URL": services.redis_url,
        "SECRET_KEY": "test-secret",
        "PYTHONPATH": str(ROOT),
        "DOCUMENT_QUEUE_PREFIX": prefix,
        **env,
    }
    environment.pop("CELERY_BROKER_URL", None)
    with log_path.open("a") as log_file:
        return subprocess.Popen(
            celery_worker_argv(
                worker_queues(prefix, default=f"{prefix}-default"), f"{prefix}@localhost"
            ),
            cwd=ROOT,
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


def stop_worker(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.mark.slow
def test_readyz_follows_every_worker_going_and_coming_back(services, heartbeat_key, tmp_path):
    prefix = f"ops-{uuid.uuid4().hex[:6]}"
    settings = {"WORKER_HEARTBEAT_KEY": heartbeat_key, "READY_WORKER_HEARTBEAT_SECONDS": "6"}
    app = make_app(services, WORKER_HEARTBEAT_KEY=heartbeat_key, READY_WORKER_HEARTBEAT_SECONDS=6)
    assert ready(app)[1]["workers"] == "failing"
    log_path = tmp_path / "worker.log"
    worker = spawn_worker(services, prefix, log_path, **settings)
    try:
        assert wait_for(app, 200)["workers"] == "ok", log_path.read_text()[-2000:]
        stop_worker(worker)  # a clean stop withdraws its heartbeat at once
        assert ready(app) == (
            503,
            {"postgres": "ok", "redis": "ok", "broker": "ok", "workers": "failing"},
        )
        worker = spawn_worker(services, prefix, log_path, **settings)
        assert wait_for(app, 200)["workers"] == "ok"
    finally:
        stop_worker(worker)


def test_the_liveness_command_reads_this_hosts_heartbeat(services, heartbeat_key):
    """``python -m workers.heartbeat worker|beat``: docker-compose's check for worker and beat."""
    from workers.heartbeat import key_for, member_name

    env = {
        **os.environ,
        "REDIS_URL": services.redis_url,
        "WORKER_HEARTBEAT_KEY": heartbeat_key,
        "PYTHONPATH": str(ROOT),
    }

    def check(kind: str) -> int:
        command = [sys.executable, "-m", "workers.heartbeat", kind]
        return subprocess.run(command, env=env, capture_output=True, cwd=ROOT).returncode

    assert check("worker") == 1 and check("beat") == 1
    client = redis.Redis.from_url(services.redis_url)
    beat = Heartbeat(client, key_for("beat", heartbeat_key), member_name("beat"), 1.0)
    beat.beat()
    try:
        assert check("beat") == 0 and check("worker") == 1  # each kind its own set
    finally:
        beat.stop()
        client.delete(key_for("beat", heartbeat_key))
    assert check("beat") == 1  # a clean stop withdraws at once


# --- metrics ---------------------------------------------------------------------------------

SAMPLE_RE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<v>\S+)$")
LABEL_RE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def scrape(app: Flask, **kwargs: Any) -> str:
    response = app.test_client().get("/metrics", **kwargs)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    found = []
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        match = SAMPLE_RE.match(line)
        assert match, line
        found.append(
            (match["name"], dict(LABEL_RE.findall(match["labels"] or "")), float(match["v"]))
        )
    return found


def value(text: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include ``labels``."""
    return sum(
        v
        for n, found, v in samples(text)
        if n == name and all(found.get(k) == want for k, want in labels.items())
    )


ALLOWED_LABELS = {"route", "method", "status", "plan", "window", "outcome", "reason", "quota"}
ALLOWED_LABELS |= {"task", "queue", "le", "version", "implementation", "major", "minor"}
ALLOWED_LABELS |= {"patchlevel", "generation"}


@pytest.fixture(scope="module")
def limited_app(services: Services) -> Flask:
    return make_app(services, RATELIMIT_ENABLED=True, RATELIMIT_BURST_SECONDS=0)


def test_metrics_count_a_refused_request_under_its_plan_and_never_an_organization(
    limited_app, make_org, owner_engine
):
    org = make_org()
    route = "/api/v1/documents"
    before = scrape(limited_app)
    client, token, auth = api_client(limited_app, owner_engine, org, requests_per_minute=2)
    statuses = [client.get(route, headers=auth).status_code for _ in range(5)]
    assert statuses == [200, 200, 429, 429, 429]  # the last two refused before Flask
    # An upload accepted, and the same file again refused as a duplicate.
    body = (FIXTURES / "meeting_minutes.txt").read_bytes() + uuid.uuid4().hex.encode()
    set_overrides_for_uploads = {"requests_per_minute": 100}
    from tests.test_ratelimit import set_overrides_and_wait

    set_overrides_and_wait(limited_app, owner_engine, org, **set_overrides_for_uploads)
    for expected in (202, 409):
        sent = client.post(route, headers=auth, data={"file": (io.BytesIO(body), "minutes.txt")})
        assert sent.status_code == expected, sent.json
    after = scrape(limited_app)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    count = "pmdi_http_request_duration_seconds_count"
    assert delta(count, route=route, method="GET", status="429", plan="free") >= 3
    assert delta(count, route=route, method="GET", status="200", plan="free") >= 2
    refused = delta("pmdi_ratelimit_checks_total", plan="free", outcome="refused")
    assert refused >= 3
    assert delta("pmdi_ratelimit_checks_total", plan="free", window="requests_per_minute") >= 5
    assert delta("pmdi_uploads_total", plan="free", outcome="accepted") >= 1
    assert delta("pmdi_uploads_total", plan="free", outcome="refused", reason="duplicate") >= 1
    # Figures read at scrape time, through the door function as the runtime role.
    for name in ("pmdi_outbox_pending", "pmdi_outbox_oldest_age_seconds", "pmdi_stuck_documents"):
        assert any(n == name for n, _, _ in samples(after)), name
    assert {labels["queue"] for n, labels, _ in samples(after) if n == "pmdi_queue_depth"} == {
        "enterprise",
        "pro",
        "free",
        "default",
    }
    # No organization id anywhere, in any form, nor a label that could carry one.
    for form in (str(org.org_id), org.org_id.hex, str(org.user_id), token):
        assert form not in after
    assert {k for _, labels, _ in samples(after) for k in labels} <= ALLOWED_LABELS


def test_quota_refusals_are_counted_by_plan_and_quota(app, make_org, owner_engine, login_as):
    from tests.conftest import upload
    from tests.test_ratelimit import set_overrides

    org = make_org()
    set_overrides(owner_engine, org, documents_per_month=0)
    before = scrape(app)
    response = upload(
        login_as(org), (b"a small note\n" + uuid.uuid4().bytes.hex().encode(), "n.txt")
    )
    assert response.status_code == 400
    after = scrape(app)
    name = "pmdi_quota_refusals_total"
    assert value(after, name, plan="free") - value(before, name, plan="free") == 1
    reason = {"plan": "free", "outcome": "refused", "reason": "quota_exceeded"}
    assert (
        value(after, "pmdi_uploads_total", **reason) - value(before, "pmdi_uploads_total", **reason)
        == 1
    )


def test_fail_open_events_are_counted(services, make_org):
    app = make_app(services, RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="redis://127.0.0.1:9/0")
    before = value(scrape(app), "pmdi_ratelimit_fail_open_total")
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "198.51.100.91"
    assert [client.get("/login").status_code for _ in range(3)] == [200] * 3
    assert value(scrape(app), "pmdi_ratelimit_fail_open_total") - before >= 3


def test_metrics_need_the_token_when_one_is_set_and_loopback_otherwise(services):
    app = make_app(services, METRICS_TOKEN="s3cret-metrics")
    client = app.test_client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    assert "pmdi_http_request_duration_seconds" in scrape(
        app, headers={"Authorization": "Bearer s3cret-metrics"}
    )
    open_app = make_app(services)
    assert open_app.test_client().get("/metrics").status_code == 200  # from loopback
    remote = open_app.test_client()
    remote.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    assert remote.get("/metrics").status_code == 404


# --- logs ------------------------------------------------------------------------------------


class _Capture(logging.StreamHandler):
    """A handler of the test's own (JSON set-up replaces only basicConfig's plain one)."""


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The web process's log lines as JSON, captured; the root logger restored after."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    captured = io.StringIO()
    handler = _Capture(captured)
    logs.use_json(handler)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield captured
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line that is a JSON object (a worker also prints a non-JSON banner first)."""
    found = []
    for line in text.splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


def test_json_access_line_has_the_request_context(services, make_org, json_logs, owner_engine):
    app = make_app(services, LOG_FORMAT="json")
    org = make_org()
    token = api_token(app, org)
    rid = f"rid-{uuid.uuid4().hex}"
    client = app.test_client()
    response = client.get(
        "/api/v1/documents", headers={"Authorization": f"Bearer {token}", "X-Request-ID": rid}
    )
    assert response.status_code == 200 and response.headers["X-Request-ID"] == rid
    (line,) = [
        entry for entry in json_lines(json_logs.getvalue()) if entry.get("request_id") == rid
    ]
    assert line["logger"] == "pmdi.access" and line["level"] == "INFO"
    assert line["organization_id"] == str(org.org_id) and line["user_id"] == str(org.user_id)
    assert line["route"] == "/api/v1/documents" and line["status"] == 200
    assert line["method"] == "GET" and line["duration_ms"] > 0 and line["time"]


def test_the_access_line_written_directly_is_the_json_handlers_own_line():
    """With ``LOG_FORMAT=json``'s handler the only one, the access line skips logging's
    record and goes straight to that handler's stream: the same line, field for field, as
    logging's own path writes once any other handler (a test's, an operator's) is attached."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    root.handlers[:] = []  # pytest's capture handlers too: the process's set-up alone
    try:
        logs.configure(logging.INFO, "json")
        (handler,) = root.handlers
        written = io.StringIO()
        handler.setStream(written)  # type: ignore[attr-defined]
        access = logging.getLogger(logs.ACCESS_LOGGER)
        assert logs._only_json_handler(access) is handler
        fields = {
            "request_id": "rid-1",
            "organization_id": str(uuid.uuid4()),
            "user_id": None,
            "method": "GET",
            "route": "/api/v1/documents",
            "status": 200,
            "duration_ms": 1.25,
            "plan": "free",
        }
        logs.write_access_line(access, fields, ("GET", "/api/v1/documents", "200"))
        other = logging.StreamHandler(io.StringIO())
        root.addHandler(other)
        assert logs._only_json_handler(access) is None
        logs.write_access_line(access, fields, ("GET", "/api/v1/documents", "200"))
        direct, through_logging = [json.loads(line) for line in written.getvalue().splitlines()]
        assert other.stream.getvalue() == "GET /api/v1/documents 200\n"
        assert direct.pop("time") and through_logging.pop("time")
        assert list(direct.items()) == list(through_logging.items())
        assert (
            direct["logger"] == "pmdi.access" and direct["message"] == "GET /api/v1/documents 200"
        )
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


@pytest.mark.slow
def test_one_request_id_in_the_upload_line_and_its_task_lines(
    services, make_org, json_logs, tmp_path
):
    """The id of the upload's request is the id on the worker's lines for that document."""
    prefix = f"opslog-{uuid.uuid4().hex[:6]}"
    log_path = tmp_path / "worker.log"
    worker = spawn_worker(services, prefix, log_path, LOG_FORMAT="json")
    try:
        app = make_app(
            services,
            LOG_FORMAT="json",
            DOCUMENT_QUEUE_PREFIX=prefix,
            CELERY={"task_default_queue": f"{prefix}-default"},
        )
        celery = app.extensions["celery"]
        deadline = time.monotonic() + 60
        while not celery.control.ping(destination=[f"{prefix}@localhost"], timeout=0.5):
            assert worker.poll() is None and time.monotonic() < deadline, log_path.read_text()
        org = make_org()
        auth = {"Authorization": f"Bearer {api_token(app, org)}"}
        rid = f"upload-{uuid.uuid4().hex}"
        body = (FIXTURES / "meeting_minutes.txt").read_bytes() + rid.encode()
        client = app.test_client()
        sent = client.post(
            "/api/v1/documents",
            headers={**auth, "X-Request-ID": rid},
            data={"file": (io.BytesIO(body), "minutes.txt")},
        )
        assert sent.status_code == 202, sent.json
        document_id = sent.json["id"]
        deadline = time.monotonic() + 90
        while client.get(f"/api/v1/documents/{document_id}", headers=auth).json["status"] != "done":
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.3)
        deadline = time.monotonic() + 10
        while True:  # the closing line is written just after the document is done
            task_lines = [e for e in json_lines(log_path.read_text()) if e.get("request_id") == rid]
            if any(e["message"].endswith("success") for e in task_lines):
                break
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.2)
    finally:
        stop_worker(worker)
    (web_line,) = [
        e
        for e in json_lines(json_logs.getvalue())
        if e.get("request_id") == rid and e["logger"] == "pmdi.access"
    ]
    assert web_line["route"] == "/api/v1/documents" and web_line["status"] == 202
    assert web_line["organization_id"] == str(org.org_id)
    mine = [e for e in task_lines if e.get("task") == "workers.tasks.process_document"]
    assert [e["message"].rsplit(" ", 1)[1] for e in mine] == ["started", "success"]
    for entry in mine:
        assert entry["organization_id"] == str(org.org_id) and entry["time"] and entry["level"]
    assert mine[1]["plan"] == "free" and mine[1]["duration_ms"] > 0


def test_queue_depth_counts_messages_waiting_on_the_broker(services):
    """Redis (LLEN) or RabbitMQ (a passive declare, TEST_BROKER_URL=amqp://…): the messages
    waiting in a plan's queue with no worker, per plan; a queue never used reads 0."""
    prefix = f"depth-{uuid.uuid4().hex[:8]}"
    built = make_app(services, DOCUMENT_QUEUE_PREFIX=prefix)
    celery = built.extensions["celery"]
    queue = f"{prefix}-pro"
    for _ in range(3):
        celery.send_task("workers.tasks.census_of_nothing", args=[], queue=queue)
    try:
        text = scrape(built)
        assert value(text, "pmdi_queue_depth", queue="pro") == 3
        assert value(text, "pmdi_queue_depth", queue="free") == 0
    finally:
        with celery.connection_for_write() as connection:
            connection.default_channel.queue_delete(queue)


def test_the_request_metrics_fast_updates_write_what_the_library_would():
    """``metrics.observer`` and ``metrics.counter`` (the per-request updates, without the
    library's per-call checks) leave the same samples as ``observe`` and ``inc``, values on
    a bucket's bound included."""
    from prometheus_client import CollectorRegistry, Counter, Histogram

    from webapp import metrics

    samples = []
    for fast in (False, True):
        registry = CollectorRegistry()
        histogram = Histogram(
            "t_seconds", "t", ["route"], buckets=(0.01, 0.1, 1.0), registry=registry
        )
        counted = Counter("t_checks", "t", ["plan"], registry=registry)
        child, counter = histogram.labels("/x"), counted.labels("free")
        observe = metrics.observer(child) if fast else child.observe
        count = metrics.counter(counter) if fast else counter.inc
        for value in (0.0, 0.005, 0.01, 0.0100001, 0.1, 0.5, 1.0, 2.0, 99.0):
            observe(value)
            count()
        samples.append(
            sorted(
                (s.name, tuple(sorted(s.labels.items())), s.value)
                for metric in registry.collect()
                for s in metric.samples
                if not s.name.endswith("_created")
            )
        )
    assert samples[0] == samples[1]
    buckets = {dict(labels)["le"]: value for name, labels, value in samples[1] if "bucket" in name}
    assert buckets == {"0.01": 3.0, "0.1": 5.0, "1.0": 7.0, "+Inf": 9.0}
