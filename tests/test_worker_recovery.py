"""Recovery in real Celery worker processes: refusals that refuse, a database outage retried.

The faults here are injected without stopping a shared service: a worker pointed at a
superuser or at nothing, and this run's own database closed to the runtime role for a while
(REVOKE CONNECT, its sessions ended), which the worker meets as a dropped connection.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.conftest import APP_ROLE, ROOT, celery_worker_argv
from webapp.documents import services as document_services
from webapp.extensions import db
from webapp.tenancy import tenant_context
from workers.setup import REFUSED_EXIT_STATUS
from workers.tasks import process_document

pytestmark = pytest.mark.slow


def _worker(services, queue: str, log_file, **env_overrides: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": services.app_url,
        "REDIS_URL": services.redis_url,
        "SECRET_KEY": "test-secret",
        "PYTHONPATH": str(ROOT),
        "RECONCILE_ON_START": "0",
        "RETRY_BACKOFF_SECONDS": "0.5",
        "RETRY_BACKOFF_MAX": "2",
        **env_overrides,
    }
    env.pop("CELERY_BROKER_URL", None)
    return subprocess.Popen(
        celery_worker_argv(queue, f"{queue}@localhost"),
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.mark.parametrize("case", ["superuser", "unreachable"])
def test_the_worker_exits_non_zero_when_its_role_is_unsafe_or_unknown(services, tmp_path, case):
    """Not a log line followed by "ready": the process ends, with a failing status."""
    if case == "superuser":
        database_url = services.owner_url  # the owner of the test database: a superuser
    else:
        database_url = make_url(services.app_url).set(port=1).render_as_string(False)
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log_file:
        worker = _worker(services, f"refuse-{os.getpid()}", log_file, DATABASE_URL=database_url)
        try:
            status = worker.wait(timeout=90)
        finally:
            _stop(worker)
    log = log_path.read_text()
    assert status == REFUSED_EXIT_STATUS, log[-3000:]
    assert "refuses to start" in log and "ready." not in log


def _database_closed(owner_engine, database: str, closed: bool) -> None:
    """Close (or reopen) this run's database to the runtime role, ending its sessions."""
    with owner_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if closed:
            conn.execute(text(f'REVOKE CONNECT ON DATABASE "{database}" FROM PUBLIC, {APP_ROLE}'))
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :d AND usename = :r"
                ),
                {"d": database, "r": APP_ROLE},
            )
        else:
            conn.execute(text(f'GRANT CONNECT ON DATABASE "{database}" TO PUBLIC, {APP_ROLE}'))


def test_a_database_outage_is_retried_not_dropped(
    services, app, make_org, owner_engine, tmp_path, monkeypatch
):
    """The database refuses the worker for a few seconds: its tasks retry with backoff and
    every document is done once it returns, each processed exactly once."""
    queue = f"outage-{os.getpid()}"
    org = make_org()
    monkeypatch.setattr(app.extensions["celery"], "send_task", lambda *a, **k: None)
    ids = []
    for i in range(3):
        content = f"Outage note {i}: Maria to send the budget. {uuid.uuid4()}".encode()
        with app.app_context(), tenant_context(org.org_id):
            ids.append(
                str(document_services.upload_document(io.BytesIO(content), "n.txt", None).id)
            )
            db.session.remove()
    monkeypatch.undo()
    database = make_url(services.owner_url).database
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log_file:
        worker = _worker(services, queue, log_file)
        try:
            celery = app.extensions["celery"]
            deadline = time.monotonic() + 60
            while not celery.control.ping(destination=[f"{queue}@localhost"], timeout=0.5):
                assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            _database_closed(owner_engine, database, closed=True)
            try:
                with app.app_context():
                    for document_id in ids:
                        process_document.apply_async(args=[org.org_id, document_id], queue=queue)
                _wait_for_log(log_path, "retry 2 in", timeout=60)
            finally:
                _database_closed(owner_engine, database, closed=False)
            rows = _wait_done(owner_engine, ids, timeout=90)
        finally:
            _stop(worker)
    assert {r.status for r in rows} == {"done"}
    assert [r.attempts for r in rows] == [1, 1, 1], "each document ran once"
    log = log_path.read_text()
    assert "OperationalError" in log and "failed" not in {r.status for r in rows}


def _wait_for_log(path, needle: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while needle not in path.read_text():
        assert time.monotonic() < deadline, f"no {needle!r} in:\n{path.read_text()[-3000:]}"
        time.sleep(0.2)


def _wait_done(owner_engine, ids, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        with owner_engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, status, attempts FROM documents "
                    "WHERE id = ANY(CAST(:ids AS uuid[])) ORDER BY created_at"
                ),
                {"ids": ids},
            ).all()
        if len(rows) == len(ids) and all(r.status in ("done", "failed") for r in rows):
            return rows
        assert time.monotonic() < deadline, rows
        time.sleep(0.2)
