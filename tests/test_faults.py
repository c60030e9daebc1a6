"""The fault suite (issue 14): faults injected into a whole deployment this module starts itself.

Its own PostgreSQL cluster (Debian's initdb/pg_ctl), its own redis-server (no persistence: a
restart loses its data), a real Celery worker and a real beat, all with the default recovery
settings. Each case asserts that every accepted document is done, that each was processed
once (finished pipeline runs counted in the workers' logs, not only digest rows), and prints
the time it took to recover (printed, never asserted: tests assert no wall-clock times).

Run alone with ``pytest -s tests/test_faults.py`` to read the figures.
"""

from __future__ import annotations

import glob
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from flask import Flask
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from tests.conftest import APP_PASSWORD, APP_ROLE, ROOT, Services, close_app, make_app
from webapp import embedded
from webapp.config import sqlalchemy_url
from webapp.extensions import db
from webapp.tenancy import tenant_context
from workers.fairness import worker_queues
from workers.setup import REFUSED_EXIT_STATUS

pytestmark = pytest.mark.slow

PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
MINUTES = (ROOT / "tests" / "fixtures" / "meeting_minutes.txt").read_text()
BACKLOG = int(os.environ.get("FAULT_BACKLOG", "300"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(predicate, timeout: float, what: str, interval: float = 0.2):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval)


class Cluster:
    """A PostgreSQL cluster of this test's own, stopped and started at will."""

    def __init__(self, root: Path) -> None:
        self.data = root / "pgdata"
        self.log = root / "postgres.log"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = [f"{PG_BIN[-1]}/{args[0]}", *args[1:]]
        if self.as_root:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def init(self) -> None:
        self.data.mkdir(parents=True)
        self.log.touch()
        if self.as_root:
            shutil.chown(self.data.parent, "postgres")
            shutil.chown(self.data, "postgres")
            shutil.chown(self.log, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -h 127.0.0.1 -k {self.data} -F"
        self._run("pg_ctl", "-D", str(self.data), "-w", "-o", options, "-l", str(self.log), "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "fast", "stop")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"


class RedisServer:
    """A redis-server of this test's own, without persistence: a restart loses its data."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        try:
            _wait(lambda: _pings(client), 10, "redis-server")
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.exceptions.RedisError:
        return False


@dataclass
class Stack:
    """The deployment: database, Redis, the app (for uploads), workers and beat."""

    root: Path
    cluster: Cluster
    redis_server: RedisServer
    services: Services
    app: Flask
    owner: Engine
    logs: list[Path] = field(default_factory=list)
    workers: list[subprocess.Popen] = field(default_factory=list)
    beat: subprocess.Popen | None = None

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            **os.environ,
            "DATABASE_URL": self.services.app_url,
            "REDIS_URL": self.services.redis_url,
            "SECRET_KEY": "test-secret",
            "PYTHONPATH": str(ROOT),
            **overrides,
        }
        env.pop("CELERY_BROKER_URL", None)
        if os.environ.get("TEST_BROKER_URL"):  # RabbitMQ (.ci/run's broker run)
            env["CELERY_BROKER_URL"] = os.environ["TEST_BROKER_URL"]
        return env

    def _spawn(self, args: list[str], name: str, **env: str) -> subprocess.Popen:
        log_path = self.root / f"{name}-{len(self.logs)}.log"
        self.logs.append(log_path)
        with log_path.open("w") as log_file:  # the child keeps its own descriptor
            return subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "celery_app", *args],
                cwd=ROOT,
                env=self.env(**env),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start_worker(self, **env: str) -> subprocess.Popen:
        worker = self._spawn(
            ["worker", "--concurrency=2", "--pool=prefork", "--without-gossip"]
            + ["--without-mingle", "--loglevel=INFO", "-Q", worker_queues("docs")]
            + ["-n", f"faults-{len(self.logs)}@localhost"],
            "worker",
            **env,
        )
        self.workers.append(worker)
        log = self.logs[-1]
        _wait(lambda: "ready." in log.read_text() or worker.poll() is not None, 90, "worker")
        return worker

    def kill_workers(self, sig: int = signal.SIGTERM) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                os.killpg(worker.pid, sig)
        for worker in self.workers:
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)
        self.workers.clear()

    def start_beat(self) -> None:
        schedule = self.root / "beat-schedule"
        self.beat = self._spawn(["beat", "-s", str(schedule), "--loglevel=INFO"], "beat")

    def stop_beat(self) -> None:
        if self.beat is not None and self.beat.poll() is None:
            os.killpg(self.beat.pid, signal.SIGTERM)
            self.beat.wait(timeout=30)
        self.beat = None

    def log_text(self) -> str:
        return "".join(path.read_text() for path in self.logs)

    def runs(self, ids: list[str]) -> tuple[Counter, Counter]:
        """(pipeline runs started, pipeline runs finished) per document, from the logs."""
        text_ = self.log_text()
        started = Counter(re.findall(r"document ([0-9a-f-]{36}): attempt \d+ by", text_))
        finished = Counter(re.findall(r"document ([0-9a-f-]{36}): done by", text_))
        return Counter({i: started[i] for i in ids}), Counter({i: finished[i] for i in ids})

    def make_org(self, slots: int | None = None) -> uuid.UUID:
        from webapp.auth import services as auth_services

        tag = uuid.uuid4().hex[:8]
        with self.app.app_context():
            user = auth_services.register_organization(
                f"Faults {tag}", "Owner", f"faults-{tag}@example.com", f"pw-{tag}-long-enough"
            )
            db.session.remove()
        overrides = {"documents_per_month": 100000}
        if slots is not None:
            overrides["worker_slots"] = slots
        with self.owner.begin() as conn:
            conn.execute(
                text("UPDATE organizations SET quota_overrides = CAST(:q AS jsonb) WHERE id = :o"),
                {"q": json.dumps(overrides), "o": user.organization_id},
            )
        return user.organization_id

    def upload(self, org_id: uuid.UUID, content: str, name: str = "note.txt") -> str:
        from webapp.documents import services as document_services

        body = f"{content}\nRef {uuid.uuid4().hex}\n".encode()
        with self.app.app_context(), tenant_context(org_id):
            document = document_services.upload_document(io.BytesIO(body), name, None)
            db.session.remove()
        return str(document.id)

    def statuses(self, ids: list[str]) -> dict[str, tuple[str, int]]:
        with self.owner.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id::text, status, attempts FROM documents "
                    "WHERE id = ANY(CAST(:ids AS uuid[]))"
                ),
                {"ids": ids},
            ).all()
        return {row[0]: (row[1], row[2]) for row in rows}

    def done_count(self, ids: list[str]) -> int:
        return sum(1 for status, _ in self.statuses(ids).values() if status == "done")

    def wait_all_done(self, ids: list[str], timeout: float) -> float:
        """Seconds until every document is done (fails if one fails or time runs out)."""
        started = time.monotonic()

        def all_done() -> bool:
            found = self.statuses(ids)
            failed = [i for i, (status, _) in found.items() if status == "failed"]
            assert not failed, f"failed: {failed}"
            return len(found) == len(ids) and all(s == "done" for s, _ in found.values())

        _wait(all_done, timeout, f"{len(ids)} documents done", interval=0.25)
        return time.monotonic() - started

    def assert_processed_once(self, ids: list[str], allowed_twice: set[str] = frozenset()) -> None:
        started, finished = self.runs(ids)
        assert set(finished.values()) == {1}, f"finished runs: {finished}"
        for document_id in ids:
            limit = 2 if document_id in allowed_twice else 1
            assert 1 <= started[document_id] <= limit, (document_id, started[document_id])
        attempts = {i: a for i, (_, a) in self.statuses(ids).items()}
        assert attempts == dict(started), "attempts counts the real runs"


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    if not PG_BIN or not shutil.which("redis-server"):
        pytest.fail("the fault suite needs Debian's PostgreSQL binaries and redis-server")
    # Not under pytest's base temporary directory: that one is private to this user, and
    # PostgreSQL runs as its own user when the tests run as root.
    root = Path(tempfile.mkdtemp(prefix="pmdi-faults-"))
    root.chmod(0o755)
    cluster = Cluster(root / "pg")
    cluster.init()
    cluster.start()
    redis_server = RedisServer()
    redis_server.start()
    owner_url = embedded.ensure_database(cluster.url, "pmdi_faults")
    services = Services(
        owner_url=owner_url,
        app_url=embedded.with_role(owner_url, APP_ROLE, APP_PASSWORD),
        redis_url=redis_server.url,
    )
    config = {"CELERY": {"task_default_queue": "default"}, "DOCUMENT_QUEUE_PREFIX": "docs"}
    migrator = make_app(services, MIGRATION_DATABASE_URL=owner_url, **config)
    from flask_migrate import upgrade

    with migrator.app_context():
        upgrade()
    owner = create_engine(sqlalchemy_url(owner_url), pool_pre_ping=True)
    built = Stack(root, cluster, redis_server, services, make_app(services, **config), owner)
    built.start_beat()
    built.start_worker()
    try:
        yield built
    finally:
        built.kill_workers()
        built.stop_beat()
        for app in (migrator, built.app):
            close_app(app)
        owner.dispose()
        redis_server.stop()
        cluster.stop()
        if os.environ.get("FAULT_KEEP_LOGS"):
            print(f"\nfault suite logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def _report(case: str, **figures: float) -> None:
    shown = ", ".join(f"{name.replace('_', ' ')} {value:.1f} s" for name, value in figures.items())
    print(f"\nFAULT {case}: {shown}")


def test_postgres_stopped_during_processing(stack: Stack) -> None:
    """12 tasks meet a stopped database: they retry with backoff, none is dropped or failed,
    all are done soon after it returns."""
    org = stack.make_org(slots=4)
    celery = stack.app.extensions["celery"]
    real_send = celery.send_task
    celery.send_task = lambda *a, **k: None  # stored only: published once the database is down
    try:
        ids = [stack.upload(org, f"{MINUTES}\nItem {i}.") for i in range(12)]
    finally:
        celery.send_task = real_send
    stack.cluster.stop()
    stopped = time.monotonic()
    for document_id in ids:
        celery.send_task(
            "workers.tasks.process_document",
            args=[str(org), document_id],
            queue="docs-free",
            ignore_result=True,
        )
    _wait(lambda: stack.log_text().count("OperationalError") >= 12, 60, "the tasks to meet it")
    time.sleep(max(0.0, 15 - (time.monotonic() - stopped)))
    stack.cluster.start()
    down = time.monotonic() - stopped
    recovered = stack.wait_all_done(ids, timeout=120)
    _report("postgres down", down=down, all_12_done_after_its_return=recovered)
    stack.assert_processed_once(ids)


def test_redis_restarted_with_its_data_lost(stack: Stack) -> None:
    """A backlog parked behind one slot when Redis restarts empty: the reconciler rebuilds the
    parked list from PostgreSQL and processing resumes; every document runs once."""
    org = stack.make_org(slots=1)
    stack.kill_workers()  # the backlog builds up behind the one slot
    ids = [stack.upload(org, f"Status {i}: Maria to send the budget.") for i in range(BACKLOG)]
    slots = stack.app.extensions["fairness"]
    assert slots.parked(str(org)) == BACKLOG - 1
    stack.start_worker()
    _wait(lambda: stack.done_count(ids) >= 3, 120, "the backlog to start")
    stack.redis_server.stop()
    time.sleep(2)
    stack.redis_server.start()
    back = time.monotonic()
    # Resumed: a document still waiting when Redis came back is done (not one in flight).
    waiting = [i for i, (status, _) in stack.statuses(ids).items() if status == "queued"]
    _wait(lambda: stack.done_count(waiting) > 0, 120, "processing to resume")
    resumed = time.monotonic() - back
    finished = stack.wait_all_done(ids, timeout=900) + resumed
    _report(
        f"redis restarted empty, {BACKLOG} parked behind one slot",
        processing_resumed_after=resumed,
        all_done_after=finished,
    )
    stack.assert_processed_once(ids)


def test_a_worker_killed_mid_document_three_times(stack: Stack) -> None:
    """SIGKILL the worker while it analyses a long document, three times: each time the
    organization's parked documents go on once the dead worker's lease expires."""
    org = stack.make_org(slots=1)
    long_text = "\n".join(f"{MINUTES}\nSection {i} {uuid.uuid4().hex}." for i in range(400))
    ids, longs = [], []
    for round_ in range(3):
        longs.append(stack.upload(org, long_text, f"long-{round_}.txt"))
        ids += [longs[-1]] + [stack.upload(org, f"Note {round_}.{i}") for i in range(3)]
    resumed = []
    for long_id in longs:
        _wait(
            lambda long_id=long_id: stack.statuses([long_id])[long_id][0] == "analysing",
            180,
            "a long document being analysed",
            interval=0.05,
        )
        done_before = stack.done_count(ids)
        killed = time.monotonic()
        stack.kill_workers(signal.SIGKILL)
        stack.start_worker()
        _wait(lambda done_before=done_before: stack.done_count(ids) > done_before, 120, "resume")
        resumed.append(time.monotonic() - killed)
    stack.wait_all_done(ids, timeout=300)
    _report(
        "worker SIGKILLed mid-document",
        **{f"kill_{n + 1}_parked_work_resumed_after": s for n, s in enumerate(resumed)},
    )
    stack.assert_processed_once(ids, allowed_twice=set(longs))


def test_worker_down_with_a_backlog(stack: Stack) -> None:
    """Beat keeps sending housekeeping while no worker consumes: the runs expire instead of
    piling up, nothing is sent twice, every document runs once."""
    org = stack.make_org(slots=1)
    stack.kill_workers()
    down = time.monotonic()
    ids = [stack.upload(org, f"Backlog {i}: risk of delay.") for i in range(30)]
    time.sleep(max(0.0, 60 - (time.monotonic() - down)))
    runs_before = len(re.findall(r"reconcile_documents\[[^\]]+\] succeeded", stack.log_text()))
    back = time.monotonic()
    stack.start_worker()
    stack.wait_all_done(ids, timeout=300)
    finished = time.monotonic() - back
    log = stack.log_text()
    expired = log.count("Discarding revoked task: workers.tasks.reconcile_documents")
    ran = len(re.findall(r"reconcile_documents\[[^\]]+\] succeeded", log)) - runs_before
    _report("worker down 60 s with 30 parked", all_done_after_its_return=finished)
    print(f"  reconciler runs sent while it was down and expired unrun: {expired}; run: {ran}")
    assert expired >= 1, "runs sent while no worker consumed were discarded"
    stack.assert_processed_once(ids)
    with stack.owner.connect() as conn:
        requeued = conn.scalar(
            text(
                "SELECT count(*) FROM audit_events WHERE organization_id = :o "
                "AND action = 'document.requeued'"
            ),
            {"o": org},
        )
    assert requeued == 0, "a document waiting its turn is never sent again"


def test_redis_down_during_an_eight_file_upload(stack: Stack) -> None:
    """The API answers at once for all eight files; they are processed when Redis returns."""
    from webapp.api import tokens
    from webapp.models import User

    org = stack.make_org()
    with stack.app.app_context(), tenant_context(org):
        user = db.session.scalars(select(User)).one()
        token = tokens.create_token(user, "faults").plaintext
        db.session.remove()
    fields = MultiDict()
    for i in range(8):
        body = f"{MINUTES}\nFile {i} {uuid.uuid4().hex}".encode()
        fields.add("file", FileStorage(io.BytesIO(body), filename=f"file-{i}.txt"))
    boundary, body = encode_multipart(fields)
    stack.redis_server.stop()
    try:
        started = time.monotonic()
        response = stack.app.test_client().post(
            "/api/v1/documents",
            data=body,
            content_type=f"multipart/form-data; boundary={boundary}",
            headers={"Authorization": f"Bearer {token}"},
        )
        answered = time.monotonic() - started
    finally:
        stack.redis_server.start()
    back = time.monotonic()
    assert response.status_code == 202, response.get_data(as_text=True)
    results = response.get_json()["results"]
    assert [r["http_status"] for r in results] == [202] * 8
    ids = [r["document"]["id"] for r in results]
    finished = stack.wait_all_done(ids, timeout=120)
    _report(
        "redis down during an 8-file API upload",
        answered_in=answered,
        all_done_after_redis_returned=time.monotonic() - back if finished else 0,
    )
    stack.assert_processed_once(ids)


def test_a_worker_started_as_the_superuser_exits_non_zero(stack: Stack) -> None:
    worker = stack._spawn(  # noqa: SLF001
        ["worker", "--concurrency=1", "--without-gossip", "--without-mingle", "-Q", "nothing"],
        "superuser-worker",
        DATABASE_URL=stack.services.owner_url,
    )
    status = worker.wait(timeout=90)
    log = stack.logs[-1].read_text()
    assert status == REFUSED_EXIT_STATUS, log[-2000:]
    assert "refuses to start" in log and "ready." not in log
