"""Recovery by design (DESIGN.md §6): leases, transient errors, the reconciler, on real
PostgreSQL and Redis, in-process. The real-worker cases are in tests/test_worker_recovery.py."""

from __future__ import annotations

import io
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from tests.conftest import statements_on
from webapp.documents import services as document_services
from webapp.extensions import db
from webapp.tenancy import tenant_context
from workers import pipeline, reconcile
from workers.fair_run import fair_process


@pytest.fixture(autouse=True)
def published(app, monkeypatch):
    """Document ids published to the broker (recorded instead of sent, so the session's real
    worker never races these in-process runs). The reconciler acts on the whole test
    database: assertions look at their own documents only."""
    sent: list[str] = []
    monkeypatch.setattr(
        app.extensions["celery"],
        "send_task",
        lambda name, **options: sent.append(options["args"][1]),
    )
    return sent


@pytest.fixture
def slots(app):
    return app.extensions["fairness"]


def _upload(app, org_id, label: str = "doc") -> str:
    content = f"Status note {label}: Maria to send the budget by Friday. {uuid.uuid4()}.".encode()
    with app.app_context(), tenant_context(org_id):
        document = document_services.upload_document(io.BytesIO(content), f"{label}.txt", None)
        db.session.remove()
    return str(document.id)


def _row(owner_engine, document_id):
    with owner_engine.connect() as conn:
        return conn.execute(text("SELECT * FROM documents WHERE id = :d"), {"d": document_id}).one()


def _sql(owner_engine, statement: str, **params) -> None:
    with owner_engine.begin() as conn:
        conn.execute(text(statement), params)


def _audits(owner_engine, org_id, action: str) -> int:
    with owner_engine.connect() as conn:
        return conn.scalar(
            text("SELECT count(*) FROM audit_events WHERE organization_id = :o AND action = :a"),
            {"o": org_id, "a": action},
        )


def _run(app, org_id, document_id: str, owner: str | None = None) -> str:
    with app.app_context(), tenant_context(org_id):
        try:
            return fair_process(str(org_id), document_id, owner)
        finally:
            db.session.remove()


def _reconcile(app) -> dict[str, int]:
    with app.app_context():
        try:
            return reconcile.reconcile()
        finally:
            db.session.remove()


# --- Exactly once, in effect ---------------------------------------------------------------


def test_a_done_document_is_not_processed_again(app, make_org, owner_engine, published):
    """A duplicate or redelivered message for a done document reads it and writes nothing."""
    org = make_org()
    document_id = _upload(app, org.org_id)
    assert _run(app, org.org_id, document_id) == "done"
    done = _row(owner_engine, document_id)
    assert (done.attempts, done.analyser_version, done.lease_owner) == (1, "1", None)
    with statements_on(app) as seen:
        assert _run(app, org.org_id, document_id) == "done"
    writes = [s for s in seen if s.split()[0] in ("UPDATE", "INSERT", "DELETE")]
    assert writes == [], writes
    assert _row(owner_engine, document_id).attempts == 1


def test_a_document_done_by_another_analyser_is_processed_again(app, make_org, owner_engine):
    org = make_org()
    document_id = _upload(app, org.org_id)
    assert _run(app, org.org_id, document_id) == "done"
    _sql(owner_engine, "UPDATE documents SET analyser_version = '0' WHERE id = :d", d=document_id)
    assert _run(app, org.org_id, document_id) == "done"
    row = _row(owner_engine, document_id)
    assert (row.attempts, row.analyser_version) == (2, pipeline.ANALYSER_VERSION)


def test_a_live_lease_is_not_taken_and_an_expired_one_is(app, make_org, owner_engine, slots):
    org = make_org()
    document_id = _upload(app, org.org_id)
    _sql(
        owner_engine,
        "UPDATE documents SET status = 'extracting', attempts = 1, lease_owner = 'other', "
        "lease_expires_at = now() + interval '20 seconds' WHERE id = :d",
        d=document_id,
    )
    with pytest.raises(pipeline.LeaseHeld) as held:
        _run(app, org.org_id, document_id)
    assert 0 < held.value.seconds <= 20
    row = _row(owner_engine, document_id)
    assert (row.status, row.attempts, row.lease_owner) == ("extracting", 1, "other")
    assert slots.holds(str(org.org_id), document_id), "the slot stays with the live worker"
    _sql(
        owner_engine,
        "UPDATE documents SET lease_expires_at = now() - interval '1 second' WHERE id = :d",
        d=document_id,
    )
    assert _run(app, org.org_id, document_id, owner="me") == "done"
    row = _row(owner_engine, document_id)
    assert (row.status, row.attempts, row.lease_owner) == ("done", 2, None)


def test_a_retry_takes_back_its_own_runs_lease_and_a_redelivery_does_not(
    app, make_org, owner_engine
):
    """A retry is sent only once the run that asked for it ended: its lease is abandoned. A
    redelivered message carries the retry count of a run that may still be alive."""
    from workers.leases import new_owner, supersedes

    first = "task-1/0@another-host:4242"  # the run that met a transient error, elsewhere
    retry = new_owner("task-1", 1)
    assert supersedes(retry, first)
    assert not supersedes(new_owner("task-1", 0), first), "a redelivery waits"
    assert not supersedes(new_owner("task-2", 5), first) and not supersedes(retry, None)
    org = make_org()
    document_id = _upload(app, org.org_id)
    _sql(
        owner_engine,
        "UPDATE documents SET status = 'extracting', attempts = 1, lease_owner = :o, "
        "lease_expires_at = now() + interval '30 seconds' WHERE id = :d",
        o=first,
        d=document_id,
    )
    with pytest.raises(pipeline.LeaseHeld):
        _run(app, org.org_id, document_id, owner=new_owner("task-1", 0))
    assert _run(app, org.org_id, document_id, owner=retry) == "done"
    assert _row(owner_engine, document_id).attempts == 2


def test_a_worker_that_lost_its_lease_writes_nothing(app, make_org, owner_engine, monkeypatch):
    """Paused past its lease, a worker finds another owner and leaves the digest to it."""
    org = make_org()
    document_id = _upload(app, org.org_id)
    analyse = pipeline.analyse

    def taken_over_meanwhile(*args, **kwargs):
        _sql(owner_engine, "UPDATE documents SET lease_owner = 'next' WHERE id = :d", d=document_id)
        return analyse(*args, **kwargs)

    monkeypatch.setattr(pipeline, "analyse", taken_over_meanwhile)
    assert _run(app, org.org_id, document_id, owner="slow") == "lost"
    row = _row(owner_engine, document_id)
    assert (row.status, row.lease_owner) == ("extracting", "next")
    with owner_engine.connect() as conn:
        digests = conn.scalar(
            text("SELECT count(*) FROM document_analyses WHERE document_id = :d"),
            {"d": document_id},
        )
    assert digests == 0


# --- Transient errors ----------------------------------------------------------------------


def test_a_transient_error_does_not_fail_the_document_and_keeps_its_slot(
    app, make_org, owner_engine, slots, monkeypatch
):
    """The database going away mid-document is not the document's fault: it propagates (for
    the task to retry), the document is not failed, its slot stays held."""
    org = make_org()
    document_id = _upload(app, org.org_id)

    def database_gone(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(pipeline, "analyse", database_gone)
    with pytest.raises(OperationalError):
        _run(app, org.org_id, document_id, owner="w1")
    row = _row(owner_engine, document_id)
    assert (row.status, row.error, row.attempts) == ("extracting", None, 1)
    assert slots.holds(str(org.org_id), document_id)
    monkeypatch.undo()
    # The retry (same task, same owner) takes its own lease again and finishes.
    assert _run(app, org.org_id, document_id, owner="w1") == "done"
    assert _row(owner_engine, document_id).attempts == 2
    assert not slots.holds(str(org.org_id), document_id)


def test_a_documents_own_fault_still_fails_it(app, make_org, owner_engine, monkeypatch):
    org = make_org()
    document_id = _upload(app, org.org_id)

    def broken(*args, **kwargs):
        raise ValueError("a bug, or a document the analyser cannot take")

    monkeypatch.setattr(pipeline, "analyse", broken)
    assert _run(app, org.org_id, document_id) == "failed"
    row = _row(owner_engine, document_id)
    assert row.status == "failed" and row.lease_owner is None and "unexpected" in row.error


def test_transient_errors_are_recognised_through_wrapping():
    from workers.transient import backoff, is_transient

    assert is_transient(OperationalError("x", {}, Exception("refused")))
    import redis

    assert is_transient(redis.exceptions.ConnectionError("down"))
    try:
        try:
            raise redis.exceptions.TimeoutError("slow")
        except redis.exceptions.TimeoutError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert is_transient(outer)
    assert not is_transient(ValueError("bad file"))
    assert [backoff(n, 1.0, 30.0) <= 30.0 for n in range(10)] == [True] * 10
    assert backoff(10, 1.0, 30.0) >= 22.5  # capped, with at most a quarter of jitter


# --- Slots --------------------------------------------------------------------------------


def test_admission_neither_duplicates_nor_readmits(slots):
    org = f"org-{uuid.uuid4()}"
    assert slots.admit(org, 1, "d1")
    assert not slots.admit(org, 1, "d1"), "it holds a slot: its message is already out"
    assert not slots.admit(org, 1, "d2")
    assert not slots.admit(org, 1, "d2"), "parked once, not twice"
    assert (slots.holders(org), slots.parked(org)) == (1, 1)
    # A duplicate message for a document that holds no slot hands nothing on.
    assert slots.finish(org, "ghost") is None
    assert (slots.holders(org), slots.parked(org)) == (1, 1)
    assert slots.finish(org, "d1") == "d2"


def test_wake_gives_a_dead_workers_slot_to_the_next_parked(slots):
    org = f"org-{uuid.uuid4()}"
    assert slots.admit(org, 1, "d1")
    assert not slots.admit(org, 1, "d2")
    slots.hold(org, "d1", -1)  # its worker died: the renewals stopped and the slot expired
    assert slots.wake(org, 1) == (["d2"], 1)
    assert slots.wake(org, 1) == ([], 1), "woken once"


def test_rebuild_tracks_again_only_what_redis_lost(slots):
    org = f"org-{uuid.uuid4()}"
    assert slots.admit(org, 2, "q1")
    assert not slots.admit(org, 1, "q3")  # parked
    # Running r1 gets its slot back first; q1 (holding) and q3 (parked) stay as they are;
    # q2 and q4 were lost: q2 fills nothing (two slots held) and parks behind q3, then q4.
    assert slots.rebuild(org, 2, ["r1"], ["q1", "q2", "q3", "q4"]) == []
    assert (slots.holders(org), slots.parked(org)) == (2, 3)
    assert slots.finish(org, "r1") == "q3"
    assert slots.finish(org, "q1") == "q2"
    assert slots.finish(org, "q3") == "q4"


# --- The reconciler -----------------------------------------------------------------------


def test_the_reconciler_requeues_an_expired_lease_then_gives_up(
    app, make_org, owner_engine, published, slots
):
    org = make_org()
    document_id = _upload(app, org.org_id)
    assert published == [document_id]
    expired = (
        "UPDATE documents SET status = 'extracting', attempts = :a, lease_owner = 'dead', "
        "lease_expires_at = now() - interval '1 second' WHERE id = :d"
    )
    _sql(owner_engine, expired, a=1, d=document_id)
    assert _reconcile(app)["requeued"] >= 1
    row = _row(owner_engine, document_id)
    assert (row.status, row.lease_owner, row.attempts) == ("queued", None, 1)
    assert published.count(document_id) == 2, "sent again, into a fresh slot"
    _reconcile(app)
    assert published.count(document_id) == 2, "and only once"
    _sql(owner_engine, expired, a=3, d=document_id)
    assert _reconcile(app)["abandoned"] >= 1
    row = _row(owner_engine, document_id)
    assert row.status == "failed" and "interrupted several times" in row.error
    assert not slots.holds(str(org.org_id), document_id)
    assert _audits(owner_engine, org.org_id, "document.requeued") == 1
    assert _audits(owner_engine, org.org_id, "document.abandoned") == 1


def test_the_reconciler_leaves_live_leases_and_parked_documents_alone(
    app, make_org, owner_engine, published
):
    """A document merely waiting its turn is never sent again, however long it waits."""
    org = make_org()
    ids = [_upload(app, org.org_id, f"d{i}") for i in range(4)]
    assert published == ids[:1]  # the free plan's one slot; three parked
    _sql(
        owner_engine,
        "UPDATE documents SET updated_at = now() - interval '1 hour' WHERE organization_id = :o",
        o=org.org_id,
    )
    _sql(
        owner_engine,
        "UPDATE documents SET status = 'extracting', lease_owner = 'alive', "
        "lease_expires_at = now() + interval '30 seconds' WHERE id = :d",
        d=ids[0],
    )
    for _ in range(3):
        _reconcile(app)
    assert [i for i in published if i in ids] == ids[:1]
    assert _row(owner_engine, ids[0]).lease_owner == "alive"
    assert _audits(owner_engine, org.org_id, "document.requeued") == 0


def test_the_reconciler_rebuilds_parked_lists_redis_lost(
    app, make_org, owner_engine, published, slots
):
    """Redis restarted without its data: the waiting documents are tracked again, in order,
    the oldest published into the free slot, and each only once however often it runs."""
    org = make_org()
    ids = [_upload(app, org.org_id, f"d{i}") for i in range(4)]
    assert published == ids[:1]
    slots.client.delete(*slots.keys(str(org.org_id)))  # lost, with the message in the queue
    _sql(
        owner_engine,
        "UPDATE documents SET updated_at = now() - interval '1 minute' WHERE organization_id = :o",
        o=org.org_id,
    )
    _reconcile(app)
    mine = lambda: [i for i in published if i in ids]  # noqa: E731
    assert mine() == [ids[0], ids[0]]
    assert (slots.holders(str(org.org_id)), slots.parked(str(org.org_id))) == (1, 3)
    _reconcile(app)
    assert mine() == [ids[0], ids[0]], "tracked once, however often it runs"
    # The worker finishing the first hands its slot on, in upload order.
    assert _run(app, org.org_id, ids[0]) == "done"
    assert mine() == [ids[0], ids[0], ids[1]]


def test_the_reconciler_wakes_parked_documents_when_a_slot_expires(
    app, make_org, owner_engine, published, slots
):
    org = make_org()
    ids = [_upload(app, org.org_id, f"d{i}") for i in range(3)]
    assert published == ids[:1]
    # The first one's worker finished it but died before it could free the slot; the slot
    # then expired (its renewals stopped).
    _sql(owner_engine, "UPDATE documents SET status = 'done' WHERE id = :d", d=ids[0])
    slots.hold(str(org.org_id), ids[0], -1)
    _reconcile(app)
    assert [i for i in published if i in ids] == ids[:2]
    _reconcile(app)
    assert [i for i in published if i in ids] == ids[:2], "woken once"


def test_overlapping_reconciler_runs_do_nothing_twice(app, make_org, owner_engine, published):
    org = make_org()
    document_id = _upload(app, org.org_id)
    _sql(
        owner_engine,
        "UPDATE documents SET status = 'extracting', attempts = 1, lease_owner = 'dead', "
        "lease_expires_at = now() - interval '1 second' WHERE id = :d",
        d=document_id,
    )
    slots = app.extensions["fairness"]
    slots.client.set(reconcile.LOCK_KEY, "another run", px=5000)
    try:
        assert _reconcile(app) == {"skipped": 1}
        assert _row(owner_engine, document_id).status == "extracting"
    finally:
        slots.client.delete(reconcile.LOCK_KEY)
    assert _reconcile(app)["requeued"] >= 1
    assert _row(owner_engine, document_id).status == "queued"
    assert slots.client.get(reconcile.LOCK_KEY) is None, "the lock is released after a run"


# --- The web app while a service is down ----------------------------------------------------


def _database_closed(owner_engine, closed: bool) -> None:
    """Close (or reopen) this run's database to the runtime role, ending its sessions."""
    from tests.conftest import APP_ROLE

    database = owner_engine.url.database
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


def test_pages_and_the_api_answer_503_while_the_database_is_down_and_recover(
    app, populate_org, owner_engine
):
    """Not a bare 500: a page that needs no database, JSON under the API, Retry-After; and the
    same process serves again as soon as the database is back, without a restart."""
    populated = populate_org()
    api = app.test_client()
    bearer = {"Authorization": f"Bearer {populated.api_token}"}
    assert populated.client.get("/documents").status_code == 200
    assert api.get("/api/v1/documents", headers=bearer).status_code == 200
    _database_closed(owner_engine, closed=True)
    try:
        page = populated.client.get("/documents")
        answer = api.get("/api/v1/documents", headers=bearer)
    finally:
        _database_closed(owner_engine, closed=False)
    assert page.status_code == 503 and page.headers["Retry-After"] == "5"
    assert "temporarily unavailable" in page.get_data(as_text=True)
    assert page.mimetype == "text/html"
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert answer.get_json()["error"]["code"] == "service_unavailable"
    assert populated.client.get("/documents").status_code == 200
    assert api.get("/api/v1/documents", headers=bearer).status_code == 200


def test_with_redis_down_pages_serve_and_uploads_are_kept(services, make_org, owner_engine):
    """Redis holds nothing the pages need: they are served, and an upload is stored with its
    outbox row (the relay publishes it when Redis is back), answered without waiting."""
    from tests.conftest import close_app, login, make_app, upload, uploaded_ids

    down = make_app(services, REDIS_URL="redis://127.0.0.1:1/0")
    org = make_org()
    client = down.test_client()
    assert login(client, org.email, org.password).status_code == 302
    assert client.get("/documents").status_code == 200
    response = upload(client, (f"Note {uuid.uuid4()}: Maria to send the budget.".encode(), "n.txt"))
    assert response.status_code == 200, response.get_data(as_text=True)
    (document_id,) = set(uploaded_ids(response))
    with owner_engine.connect() as conn:
        pending = conn.scalar(
            text(
                "SELECT count(*) FROM outbox WHERE organization_id = :o AND dispatched_at IS NULL"
            ),
            {"o": org.org_id},
        )
    assert pending == 1 and _row(owner_engine, document_id).status == "queued"
    close_app(down)
