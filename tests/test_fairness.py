"""Fair workers: per-organization slots on real Redis, and one tenant's backlog in a real worker."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
import uuid

import pytest
import redis
from sqlalchemy import text

from tests.conftest import ROOT, celery_worker_argv, make_app, statements_on
from webapp.documents import services as document_services
from webapp.extensions import db
from webapp.tenancy import tenant_context
from workers.fairness import Fairness, worker_queues


@pytest.fixture
def slots(services):
    client = redis.Redis.from_url(services.redis_url)
    yield Fairness(client, queued_seconds=30, running_seconds=60)
    client.close()


def test_slots_cap_an_organization_and_hand_over_parked_work(slots):
    org = f"org-{uuid.uuid4()}"
    assert slots.admit(org, 2, "d1")
    assert slots.admit(org, 2, "d2")
    assert not slots.admit(org, 2, "d3")
    assert not slots.admit(org, 2, "d4")
    assert (slots.holders(org), slots.parked(org)) == (2, 2)
    # Finishing hands the slot to the oldest parked document, in order.
    assert slots.finish(org, "d1") == "d3"
    assert (slots.holders(org), slots.parked(org)) == (2, 1)
    assert slots.finish(org, "d2") == "d4"
    assert slots.finish(org, "d3") is None
    assert slots.finish(org, "d4") is None
    assert (slots.holders(org), slots.parked(org)) == (0, 0)


def test_organizations_do_not_share_slots(slots):
    a, b = f"org-{uuid.uuid4()}", f"org-{uuid.uuid4()}"
    assert slots.admit(a, 1, "x")
    assert not slots.admit(a, 1, "y")
    assert slots.admit(b, 1, "z")


def test_a_crashed_workers_slot_comes_back(services):
    client = redis.Redis.from_url(services.redis_url)
    short = Fairness(client, queued_seconds=0.3, running_seconds=0.3)
    org = f"org-{uuid.uuid4()}"
    assert short.admit(org, 1, "d1")
    short.started(org, "d1")  # ... and its worker dies without finishing
    assert not short.admit(org, 1, "d2")
    time.sleep(0.4)
    assert short.admit(org, 1, "d3")
    client.close()


def test_a_document_sent_again_keeps_its_own_slot_and_is_not_published_twice(slots):
    org = f"org-{uuid.uuid4()}"
    assert slots.admit(org, 1, "d1")
    assert not slots.admit(org, 1, "d1")  # the relay sends it again: its message is out
    assert slots.holders(org) == 1 and slots.parked(org) == 0


def test_dispatch_publishes_only_what_the_slots_allow(app, make_org, monkeypatch):
    """Uploads beyond the plan's slots wait in Redis, outside the Celery queue."""
    org = make_org()
    published: list = []
    monkeypatch.setattr(
        app.extensions["celery"],
        "send_task",
        lambda name, **options: published.append(options["args"][1]),
    )
    ids = [_upload(app, org.org_id, f"doc {i}") for i in range(4)]
    assert published == ids[:1]  # the free plan's one slot
    with app.app_context(), tenant_context(org.org_id):
        slots = app.extensions["fairness"]
        assert slots.parked(str(org.org_id)) == 3
        # The worker finishing the first document publishes the next one.
        from workers.fair_run import fair_process

        assert fair_process(str(org.org_id), ids[0]) == "done"
        db.session.remove()
    assert published == ids[:2]


def test_a_task_reads_its_organization_and_document_in_one_statement(app, make_org, monkeypatch):
    """The slot bookkeeping's read also loads the document the pipeline then works on; a
    document of another organization, or none at all, is "missing" and nothing is touched."""
    from workers.fair_run import fair_process

    monkeypatch.setattr(app.extensions["celery"], "send_task", lambda *a, **k: None)
    org, other = make_org(), make_org()
    mine, theirs = _upload(app, org.org_id, "mine"), _upload(app, other.org_id, "theirs")

    def kinds(statements: list[str]) -> list[str]:
        return [
            sql.split()[0] + (" blobs" if "document_blobs" in sql else "")
            for sql in statements
            if not sql.startswith("SELECT app_enter_org")  # the context, every transaction
        ]

    with statements_on(app) as first, app.app_context(), tenant_context(org.org_id):
        assert fair_process(str(org.org_id), mine) == "done"
        db.session.remove()
    with statements_on(app) as missing, app.app_context(), tenant_context(org.org_id):
        assert fair_process(str(org.org_id), theirs) == "missing"
        assert fair_process(str(org.org_id), str(uuid.uuid4())) == "missing"
        assert fair_process(str(org.org_id), "not-a-uuid") == "missing"
        db.session.remove()
    # One read of the organization and its document, the original, then the writes; then the
    # Actions page's rows are brought in step with the new digest (owner links, members, the
    # document's items, its stale analyser items dropped: webapp/workspace).
    sync = ["SELECT", "SELECT", "SELECT", "DELETE"]
    assert kinds(first) == ["SELECT", "SELECT blobs", "UPDATE", "INSERT", "UPDATE", *sync], first
    assert kinds(missing) == ["SELECT", "SELECT", "SELECT"], "one read each, no writes"
    with app.app_context(), tenant_context(other.org_id):
        assert document_services.get_document(theirs).status == "queued"
        db.session.remove()


BACKLOG = int(os.environ.get("FAIRNESS_BACKLOG", "300"))


@pytest.mark.slow
def test_one_tenants_backlog_does_not_delay_anothers_single_upload(
    services, make_org, owner_engine
):
    """A queues hundreds of documents, then B one: B is done before A's 20th."""
    prefix = f"fair-{os.getpid()}"
    app = make_app(services, DOCUMENT_QUEUE_PREFIX=prefix)
    a, b = make_org(), make_org()
    with owner_engine.begin() as conn:  # room for the backlog; one worker slot, as on Free
        conn.execute(
            text(
                "UPDATE organizations SET quota_overrides = "
                "'{\"documents_per_month\": 100000}' WHERE id = :o"
            ),
            {"o": a.org_id},
        )
    a_ids = [_upload(app, a.org_id, f"A {i}") for i in range(BACKLOG)]
    b_id = _upload(app, b.org_id, "B 0")
    queues = worker_queues(prefix).split(",", 1)[1]  # the documents' queues only
    env = {
        **os.environ,
        "DATABASE_URL": services.app_url,
        "REDIS_URL": services.redis_url,
        "SECRET_KEY": "test-secret",
        "PYTHONPATH": str(ROOT),
        "DOCUMENT_QUEUE_PREFIX": prefix,
    }
    log_path = ROOT / "instance" / f"test-fair-worker-{os.getpid()}.log"
    with log_path.open("w") as log_file:
        started = time.monotonic()
        worker = subprocess.Popen(
            celery_worker_argv(queues, f"{prefix}@localhost", concurrency=2, loglevel="WARNING"),
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            b_done = _wait_done(owner_engine, [b_id], timeout=120)
            b_seconds = time.monotonic() - started
            a_done_before_b = _done_before(owner_engine, a_ids, b_done)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
    with app.extensions["celery"].connection_for_write() as connection:
        for queue in queues.split(","):
            connection.default_channel.queue_purge(queue)
    print(
        f"\nB done {b_seconds:.2f} s after the worker started (including its start-up), "
        f"with {a_done_before_b} of A's {BACKLOG} documents done before it"
    )
    assert a_done_before_b < 20


def _upload(app, org_id, label: str) -> str:
    content = f"Status note {label}: budget review {uuid.uuid4()}.".encode()
    with app.app_context(), tenant_context(org_id):
        document = document_services.upload_document(io.BytesIO(content), f"{label}.txt", None)
        db.session.remove()
    return str(document.id)


def _wait_done(owner_engine, ids, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with owner_engine.connect() as conn:
            done = conn.scalar(
                text(
                    "SELECT max(processed_at) FROM documents WHERE id = ANY(CAST(:ids AS uuid[])) "
                    "HAVING count(*) FILTER (WHERE status = 'done') = :n"
                ),
                {"ids": ids, "n": len(ids)},
            )
        if done is not None:
            return done
        time.sleep(0.05)
    raise AssertionError("B's document was not done in time")


def _done_before(owner_engine, ids, moment) -> int:
    with owner_engine.connect() as conn:
        return conn.scalar(
            text(
                "SELECT count(*) FROM documents WHERE id = ANY(CAST(:ids AS uuid[])) "
                "AND status = 'done' AND processed_at <= :t"
            ),
            {"ids": ids, "t": moment},
        )
