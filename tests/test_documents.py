"""Documents through the pages: upload validation, storage, download, pipeline, search, lists."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from contextlib import contextmanager

import pytest
import redis
from billiard.exceptions import SoftTimeLimitExceeded
from sqlalchemy import text

from tests.conftest import FIXTURES, TEST_QUEUE, csrf_token, process_now, upload, uploaded_ids
from webapp.documents import services
from webapp.documents.filenames import sanitize_filename
from webapp.extensions import db
from webapp.tenancy import tenant_context

BAD = FIXTURES / "bad"
MINUTES = (FIXTURES / "meeting_minutes.txt").read_bytes()


def unique(content: bytes) -> bytes:
    """The same document with a distinct hash, so duplicate detection stays out of the way."""
    return content + f"\nRef {uuid.uuid4().hex}\n".encode()


def counts(owner_engine, org_id) -> dict[str, int]:
    """Rows of the organization in every document table, counted past RLS by the owner."""
    tables = ("documents", "document_blobs", "document_analyses", "outbox")
    with owner_engine.connect() as conn:
        return {
            t: conn.scalar(
                text(f"SELECT count(*) FROM {t} WHERE organization_id = :o"), {"o": org_id}
            )
            for t in tables
        }


def document_row(owner_engine, document_id):
    with owner_engine.connect() as conn:
        return conn.execute(text("SELECT * FROM documents WHERE id = :d"), {"d": document_id}).one()


@pytest.fixture(autouse=True)
def sent(app, monkeypatch):
    """Record published tasks instead of sending them: these tests run the pipeline
    in-process, and a live worker from another test must not race them."""
    published: list[dict] = []
    celery = app.extensions["celery"]
    monkeypatch.setattr(
        celery, "send_task", lambda name, **options: published.append({"name": name, **options})
    )
    return published


@pytest.fixture
def org(make_org):
    return make_org()


@pytest.fixture
def client_a(org, login_as):
    return login_as(org)


def test_upload_stores_row_chunks_and_outbox_in_one_go(app, org, client_a, owner_engine, sent):
    content = unique(MINUTES)
    response = upload(client_a, (content, "Steering minutes.txt"))
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Uploaded; processing has started." in body
    (document_id,) = set(uploaded_ids(response))
    row = document_row(owner_engine, document_id)
    assert (row.filename, row.title, row.detected_type) == (
        "Steering minutes.txt",
        "Steering minutes",
        "txt",
    )
    assert row.size_bytes == len(content)
    assert row.sha256 == hashlib.sha256(content).hexdigest()
    assert row.status in ("queued", "extracting", "analysing", "done")
    assert row.uploaded_by == org.user_id
    with owner_engine.connect() as conn:
        chunks = conn.scalars(
            text("SELECT data FROM document_blobs WHERE document_id = :d ORDER BY seq"),
            {"d": document_id},
        ).all()
        outbox = conn.execute(
            text("SELECT task, payload, dispatched_at FROM outbox WHERE organization_id = :o"),
            {"o": org.org_id},
        ).one()
    assert b"".join(chunks) == content
    assert outbox.task == "workers.tasks.process_document"
    assert outbox.payload == {"args": [document_id]}
    assert outbox.dispatched_at is not None, "the broker took it, so it went out at once"
    assert sent == [
        {
            "name": "workers.tasks.process_document",
            "args": [str(org.org_id), document_id],
            "retry": False,
            "ignore_result": True,
            "queue": f"{TEST_QUEUE}-docs-free",
        }
    ]


def command_names(packed: bytes) -> list[str]:
    """The names of the Redis commands in what a connection sent (RESP arrays, one or more)."""
    names, at = [], 0
    while at < len(packed):
        end = packed.index(b"\r\n", at)
        assert packed[at : at + 1] == b"*", packed[at : at + 40]
        count, at = int(packed[at + 1 : end]), end + 2
        for position in range(count):
            end = packed.index(b"\r\n", at)
            length = int(packed[at + 1 : end])
            if position == 0:
                names.append(packed[end + 2 : end + 2 + length].decode().lower())
            at = end + 2 + length + 2
    return names


def test_a_published_document_subscribes_to_no_result(app, org, monkeypatch):
    """Nobody waits for a document's result: publishing it sends the message and nothing else
    (the result backend would otherwise subscribe to a result channel per message).

    The commands counted are this process's own, as its connections send them: Redis's
    server-wide statistics also count every other client's (the session's real worker, left
    running by an earlier test, publishes notification deliveries and handed-on documents
    while it works through what earlier tests uploaded).
    """
    monkeypatch.undo()  # the real send_task, to a queue no worker reads
    client = redis.Redis.from_url(app.config["REDIS_URL"])
    queue = f"{TEST_QUEUE}-unread-{uuid.uuid4().hex[:8]}"
    sent_commands: list[str] = []
    real = redis.connection.AbstractConnection.send_packed_command

    def recording(connection, command, *args, **options):  # type: ignore[no-untyped-def]
        packed = command if isinstance(command, bytes) else b"".join(command)
        sent_commands.extend(command_names(packed))
        return real(connection, command, *args, **options)

    with app.app_context(), tenant_context(org.org_id):
        monkeypatch.setattr(services, "queue_for", lambda plan_id: queue)
        monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", recording)
        services.publish(services.PROCESS_TASK, org.org_id, "free", str(uuid.uuid4()))
        monkeypatch.undo()
    try:
        assert client.llen(queue) == 1, "the message was published"
        assert sent_commands.count("lpush") == 1, sent_commands
        assert not {"subscribe", "psubscribe"} & set(sent_commands), "no result channel"
    finally:
        client.delete(queue)


def test_large_upload_is_chunked_and_downloads_identically(org, client_a, owner_engine):
    line = b"Status: the integration workstream remains on track for cutover. "
    content = unique(line * (3 * 1024 * 1024 // len(line)))  # ~3 MB: several chunks
    response = upload(client_a, (content, "big-status.txt"))
    (document_id,) = set(uploaded_ids(response))
    with owner_engine.connect() as conn:
        sizes = conn.scalars(
            text("SELECT length(data) FROM document_blobs WHERE document_id = :d ORDER BY seq"),
            {"d": document_id},
        ).all()
    assert len(sizes) == 3 and max(sizes) == 1024 * 1024
    download = client_a.get(f"/documents/{document_id}/download")
    assert download.status_code == 200
    assert download.get_data() == content
    assert download.headers["Content-Disposition"] == "attachment; filename=big-status.txt"
    assert download.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Length"] == str(len(content))


def test_several_files_at_once_get_a_result_each(org, client_a, owner_engine):
    response = upload(
        client_a,
        (unique((FIXTURES / "status_report.md").read_bytes()), "status.md"),
        ((FIXTURES / "project_charter.docx").read_bytes(), "charter.docx"),
        ((BAD / "program.pdf").read_bytes(), "program.pdf"),
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.count("Uploaded; processing has started.") == 2
    assert "program.pdf" in body and "not a supported document" in body
    assert counts(owner_engine, org.org_id)["documents"] == 2
    types = {r.detected_type for r in _rows(owner_engine, org.org_id)}
    assert types == {"markdown", "docx"}


def _rows(owner_engine, org_id):
    with owner_engine.connect() as conn:
        return conn.execute(
            text("SELECT * FROM documents WHERE organization_id = :o"), {"o": org_id}
        ).all()


REJECTED = [
    pytest.param("empty.txt", "empty.txt", "is empty (0 bytes)", id="empty-file"),
    pytest.param("empty.pdf", "empty.pdf", "is empty (0 bytes)", id="zero-byte-pdf"),
    pytest.param("program.pdf", "program.pdf", "not a supported document", id="exe-renamed-pdf"),
    pytest.param("setup.pdf", "setup.pdf", "not a supported document", id="windows-exe-renamed"),
    pytest.param("image.docx", "image.docx", "not a supported document", id="png-renamed-docx"),
    pytest.param("zip_bomb.docx", "zip_bomb.docx", "expands to far more data", id="docx-zip-bomb"),
    pytest.param("latin1.txt", "latin1.txt", "UTF-8", id="not-utf8-text"),
]


@pytest.mark.parametrize(("fixture", "filename", "message"), REJECTED)
def test_bad_uploads_are_refused_with_a_clear_message_and_store_nothing(
    org, client_a, owner_engine, fixture, filename, message
):
    before = counts(owner_engine, org.org_id)
    response = upload(client_a, ((BAD / fixture).read_bytes(), filename))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert counts(owner_engine, org.org_id) == before


def test_a_file_over_the_plan_limit_is_refused(org, client_a, owner_engine):
    with owner_engine.begin() as conn:
        conn.execute(
            text("""UPDATE organizations SET quota_overrides = '{"max_file_bytes": 2048}'
                             WHERE id = :o"""),
            {"o": org.org_id},
        )
    response = upload(client_a, (b"x" * 2049, "too-big.txt"))
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "larger than the 2 KB per file that the Free plan allows" in body
    assert counts(owner_engine, org.org_id)["documents"] == 0
    assert upload(client_a, (b"y" * 2048, "just-fits.txt")).status_code == 200


def test_the_default_free_plan_limit_is_ten_megabytes(org, client_a, owner_engine):
    response = upload(client_a, (b"a" * (10 * 1024 * 1024 + 1), "eleven.txt"))
    assert "larger than the 10 MB per file that the Free plan allows" in response.get_data(
        as_text=True
    )
    assert counts(owner_engine, org.org_id)["document_blobs"] == 0


def test_a_duplicate_links_to_the_existing_document(org, client_a, owner_engine):
    content = unique(MINUTES)
    (first,) = set(uploaded_ids(upload(client_a, (content, "minutes.txt"))))
    again = upload(client_a, (content, "minutes-copy.txt"))
    body = again.get_data(as_text=True)
    assert again.status_code == 400
    assert "already uploaded as “minutes”" in body
    assert f"/documents/{first}" in body
    assert counts(owner_engine, org.org_id)["documents"] == 1


def test_the_same_file_in_two_organizations_is_not_a_duplicate(make_org, login_as, owner_engine):
    content = unique(MINUTES)
    for org in (make_org(), make_org()):
        response = upload(login_as(org), (content, "minutes.txt"))
        assert "Uploaded; processing has started." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("report\x00.pdf.txt", "report.pdf.txt"),
        ("tab\tand\nnewline.txt", "tabandnewline.txt"),
        ("Cafe\u0301 notes.md", "Caf\u00e9 notes.md"),
        ("a" * 300 + ".txt", "a" * 196 + ".txt"),
        ("   ", "document"),
        ("....", "document"),
        ('what?<is>"this"|.txt', "what__is__this__.txt"),
    ],
)
def test_filenames_are_sanitised(raw, expected):
    assert sanitize_filename(raw) == expected


def test_hostile_filenames_through_the_upload(org, client_a, owner_engine):
    names = {
        "../../secret.txt": "secret.txt",
        "nul\x00byte.txt": "nulbyte.txt",
        "b" * 300 + ".txt": "b" * 196 + ".txt",
    }
    for raw, expected in names.items():
        response = upload(client_a, (unique(MINUTES), raw))
        assert response.status_code == 200, raw
        (document_id,) = set(uploaded_ids(response))
        assert document_row(owner_engine, document_id).filename == expected


def test_processing_builds_the_digest(app, org, client_a, owner_engine):
    (document_id,) = set(uploaded_ids(upload(client_a, (unique(MINUTES), "minutes.txt"))))
    assert process_now(app, org.org_id, document_id) == "done"
    row = document_row(owner_engine, document_id)
    assert (row.status, row.progress, row.error) == ("done", 100, None)
    assert row.word_count > 200 and row.processed_at is not None
    page = client_a.get(f"/documents/{document_id}").get_data(as_text=True)
    assert "Maria" in page and "2027-03-12" in page and "revised budget" in page
    with owner_engine.connect() as conn:
        digest = conn.scalar(
            text("SELECT digest FROM document_analyses WHERE document_id = :d"), {"d": document_id}
        )
    maria = next(a for a in digest["action_items"] if "revised budget" in a["text"])
    assert (maria["owner"], maria["due_date"]) == ("Maria", "2027-03-12")


@contextmanager
def document_steps(app):
    """What the pipeline does to the database, in order: each status it writes, each COMMIT,
    and how it reads the original ("read": one query, "stream": a chunk at a time)."""
    from sqlalchemy import event

    steps: list[str] = []

    def statement(conn, cursor, sql, parameters, context, executemany):
        if sql.startswith("UPDATE documents SET status"):
            steps.append(parameters["status"])
        elif "FROM document_blobs" in sql:
            steps.append("stream" if context.execution_options.get("yield_per") else "read")

    def commit(conn):
        steps.append("COMMIT")

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        yield steps
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)


def test_a_short_document_commits_one_step_before_done(app, org, client_a):
    """The original is read in the transaction that marks "extracting"; a short text's
    "analysing" step would last milliseconds, so it is not committed."""
    (document_id,) = set(uploaded_ids(upload(client_a, (unique(MINUTES), "minutes.txt"))))
    with document_steps(app) as steps:
        assert process_now(app, org.org_id, document_id) == "done"
    assert steps == ["read", "extracting", "COMMIT", "done", "COMMIT"]


def test_a_long_text_shows_the_analysing_step(app, org, client_a, owner_engine):
    from workers import pipeline

    long_text = b"\n".join(unique(MINUTES) for _ in range(15))
    assert len(long_text) >= pipeline.ANALYSING_STEP_CHARS
    (document_id,) = set(uploaded_ids(upload(client_a, (long_text, "long-minutes.txt"))))
    with document_steps(app) as steps:
        assert process_now(app, org.org_id, document_id) == "done"
    assert steps == ["read", "extracting", "COMMIT", "analysing", "COMMIT", "done", "COMMIT"]
    assert document_row(owner_engine, document_id).progress == 100


def test_a_document_over_the_spool_size_is_streamed_and_processed(
    app, org, client_a, owner_engine, monkeypatch
):
    """A large original is read a chunk at a time after "extracting" is shown, in a
    transaction that ends before its text is extracted."""
    from workers import pipeline

    content = unique(MINUTES)
    monkeypatch.setattr(pipeline, "SPOOL_BYTES", len(content) // 2)
    (document_id,) = set(uploaded_ids(upload(client_a, (content, "minutes.txt"))))
    with document_steps(app) as steps:
        assert process_now(app, org.org_id, document_id) == "done"
    assert steps == ["extracting", "COMMIT", "stream", "COMMIT", "done", "COMMIT"]
    row = document_row(owner_engine, document_id)
    assert (row.status, row.progress, row.error) == ("done", 100, None)
    page = client_a.get(f"/documents/{document_id}").get_data(as_text=True)
    assert "Maria" in page and "2027-03-12" in page


def test_processing_twice_gives_the_same_digest_and_no_duplicate_rows(
    app, org, client_a, owner_engine
):
    (document_id,) = set(uploaded_ids(upload(client_a, (unique(MINUTES), "minutes.txt"))))
    process_now(app, org.org_id, document_id)
    first = _analysis(owner_engine, document_id)
    before = counts(owner_engine, org.org_id)
    process_now(app, org.org_id, document_id)
    assert _analysis(owner_engine, document_id) == first
    assert counts(owner_engine, org.org_id) == before


def _analysis(owner_engine, document_id):
    with owner_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT digest, text FROM document_analyses WHERE document_id = :d"),
            {"d": document_id},
        ).all()
    assert len(rows) == 1
    return json.dumps(rows[0].digest, sort_keys=True), rows[0].text


FAILURES = [
    pytest.param("truncated.pdf", "damaged or incomplete", id="truncated-pdf"),
    pytest.param("encrypted.pdf", "password-protected", id="encrypted-pdf"),
    pytest.param("scanned.pdf", "not even by text recognition (ocr)", id="scanned-pdf"),
    pytest.param("blank.html", "contains no text", id="blank-html"),
]


@pytest.mark.parametrize(("fixture", "message"), FAILURES)
def test_unreadable_documents_fail_with_a_message_a_person_understands(
    app, org, client_a, owner_engine, fixture, message
):
    response = upload(client_a, ((BAD / fixture).read_bytes(), fixture))
    assert response.status_code == 200, response.get_data(as_text=True)
    (document_id,) = set(uploaded_ids(response))
    assert process_now(app, org.org_id, document_id) == "failed"
    row = document_row(owner_engine, document_id)
    assert row.status == "failed"
    assert message in row.error.lower(), row.error
    page = client_a.get(f"/documents/{document_id}").get_data(as_text=True)
    assert "failed" in page and "Reprocess" in page


def test_a_time_limit_ends_in_a_clear_failure(app, org, client_a, owner_engine, monkeypatch):
    from workers import pipeline

    def too_slow(*args, **kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(pipeline, "analyse", too_slow)
    (document_id,) = set(uploaded_ids(upload(client_a, (unique(MINUTES), "slow.txt"))))
    assert process_now(app, org.org_id, document_id) == "failed"
    error = document_row(owner_engine, document_id).error
    assert "longer than the 120-second limit" in error


def test_html_with_script_is_shown_as_text(app, org, client_a, owner_engine):
    html = b"<html><body><h1>Plan</h1><p>Action: Ann to review &lt;script&gt;alert(1)&lt;/script&gt; tags by 1 May 2027.</p><script>alert('x')</script></body></html>"  # noqa: E501
    (document_id,) = set(uploaded_ids(upload(client_a, (unique(html), "<script>x</script>.html"))))
    assert process_now(app, org.org_id, document_id) == "done"
    page = client_a.get(f"/documents/{document_id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "alert('x')" not in page
    listing = client_a.get("/documents").get_data(as_text=True)
    assert "<script>x</script>" not in listing


def test_search_ranks_highlights_and_filters(app, org, client_a):
    ids = {}
    for name, fixture in (
        ("minutes", "meeting_minutes.txt"),
        ("risks", "risk_register.txt"),
        ("charter", "project_charter.txt"),
    ):
        response = upload(client_a, (unique((FIXTURES / fixture).read_bytes()), f"{name}.txt"))
        (ids[name],) = set(uploaded_ids(response))
        process_now(app, org.org_id, ids[name])
    page = client_a.get("/search?q=billing+vendor").get_data(as_text=True)
    hits = re.findall(r'/documents/([0-9a-f-]{36})"', page)
    assert hits and hits[0] in (ids["minutes"], ids["risks"])
    assert "<mark>billing</mark>" in page.lower() or "<mark>vendor</mark>" in page.lower()
    none = client_a.get("/search?q=xylophonequartz").get_data(as_text=True)
    assert "No documents match" in none
    filtered = client_a.get("/search?q=billing&type=pdf").get_data(as_text=True)
    assert "No documents match" in filtered
    title_hit = client_a.get("/search?q=charter").get_data(as_text=True)
    assert ids["charter"] in re.findall(r'/documents/([0-9a-f-]{36})"', title_hit)[:1]


def test_list_sorts_filters_and_paginates(app, org, client_a):
    ids = []
    for i in range(27):
        response = upload(client_a, (unique(f"Note {i}: budget review.".encode()), f"n{i:02}.txt"))
        ids.extend(set(uploaded_ids(response)))
    process_now(app, org.org_id, ids[0])
    first = client_a.get("/documents").get_data(as_text=True)
    assert "Page 1 of 2 · 27 documents" in first
    assert first.index("n26") < first.index("n25")  # newest first
    second = client_a.get("/documents?page=2").get_data(as_text=True)
    assert "n00" in second and "n26" not in second
    by_title = client_a.get("/documents?sort=title").get_data(as_text=True)
    assert by_title.index(">n00<") < by_title.index(">n01<")
    done = client_a.get("/documents?status=done").get_data(as_text=True)
    assert "1 documents" in done and ">n00<" in done
    assert "No documents yet match" in client_a.get("/documents?type=pdf").get_data(as_text=True)
    assert "27 documents" in client_a.get("/documents?status=bogus").get_data(as_text=True)


def test_progress_endpoint_reports_persisted_progress(app, org, client_a):
    (document_id,) = set(uploaded_ids(upload(client_a, (unique(MINUTES), "m.txt"))))
    process_now(app, org.org_id, document_id)
    data = client_a.get(f"/documents/progress?id={document_id}&id=nonsense").get_json()
    assert data == {
        "documents": [{"id": document_id, "status": "done", "progress": 100, "error": None}]
    }


def test_delete_and_reprocess(app, org, client_a, owner_engine):
    (document_id,) = set(uploaded_ids(upload(client_a, (unique(MINUTES), "m.txt"))))
    process_now(app, org.org_id, document_id)
    token = csrf_token(client_a, f"/documents/{document_id}")
    response = client_a.post(f"/documents/{document_id}/reprocess", data={"csrf_token": token})
    assert response.status_code == 302
    row = document_row(owner_engine, document_id)
    assert row.status in ("queued", "extracting", "analysing", "done")
    assert client_a.post(f"/documents/{document_id}/delete").status_code == 400  # no CSRF
    client_a.post(f"/documents/{document_id}/delete", data={"csrf_token": token})
    assert client_a.get(f"/documents/{document_id}").status_code == 404
    # In the trash (tests/test_trash.py) until deleted for good, which removes every row.
    token = csrf_token(client_a, "/documents/trash")
    purged = client_a.post(f"/documents/trash/{document_id}/purge", data={"csrf_token": token})
    assert purged.status_code == 302
    assert counts(owner_engine, org.org_id) == {
        "documents": 0,
        "document_blobs": 0,
        "document_analyses": 0,
        "outbox": counts(owner_engine, org.org_id)["outbox"],
    }


def test_bulk_delete_and_reprocess(app, org, client_a, owner_engine):
    ids = [
        next(iter(set(uploaded_ids(upload(client_a, (unique(MINUTES), f"b{i}.txt"))))))
        for i in range(3)
    ]
    for document_id in ids:
        process_now(app, org.org_id, document_id)
    token = csrf_token(client_a, "/documents")
    client_a.post(
        "/documents/bulk", data={"csrf_token": token, "action": "reprocess", "ids": ids[:2]}
    )
    statuses = {document_row(owner_engine, i).status for i in ids[:2]}
    assert statuses <= {"queued", "extracting", "analysing", "done"}
    asked = client_a.post(
        "/documents/bulk", data={"csrf_token": token, "action": "delete", "ids": ids[1:]}
    )
    assert asked.status_code == 200 and "to the trash?" in asked.get_data(as_text=True)
    response = client_a.post(
        "/documents/bulk",
        data={"csrf_token": token, "action": "delete", "ids": ids[1:], "confirmed": "yes"},
    )
    assert response.status_code == 302
    listing = client_a.get("/documents").get_data(as_text=True)
    assert ids[0] in listing and not any(i in listing for i in ids[1:])
    empty = client_a.post(
        "/documents/bulk", data={"csrf_token": token, "action": "delete"}, follow_redirects=True
    )
    assert "Tick at least one document" in empty.get_data(as_text=True)


def test_outbox_relay_sends_what_was_never_dispatched(app, org, client_a, owner_engine):
    from workers import housekeeping

    (document_id,) = set(uploaded_ids(upload(client_a, (unique(MINUTES), "m.txt"))))
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE outbox SET dispatched_at = NULL, created_at = now() - "
                "interval '1 hour' WHERE organization_id = :o"
            ),
            {"o": org.org_id},
        )
    with app.app_context():
        assert housekeeping.relay_outbox() >= 1
    with owner_engine.connect() as conn:
        pending = conn.scalar(
            text(
                "SELECT count(*) FROM outbox WHERE organization_id = :o AND dispatched_at IS NULL"
            ),
            {"o": org.org_id},
        )
        relayed = conn.scalar(
            text(
                "SELECT count(*) FROM audit_events WHERE organization_id = :o"
                " AND action = 'outbox.relayed'"
            ),
            {"o": org.org_id},
        )
    assert pending == 0 and relayed == 1


def test_upload_is_kept_when_the_broker_is_down(app, org, client_a, owner_engine, monkeypatch):
    """With no broker the upload still succeeds; the outbox row waits for the relay."""
    celery = app.extensions["celery"]

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(celery, "send_task", broker_down)
    response = upload(client_a, (unique(MINUTES), "m.txt"))
    assert "Uploaded; processing has started." in response.get_data(as_text=True)
    with owner_engine.connect() as conn:
        assert (
            conn.scalar(
                text(
                    "SELECT count(*) FROM outbox WHERE organization_id = :o AND "
                    "dispatched_at IS NULL"
                ),
                {"o": org.org_id},
            )
            == 1
        )


def test_another_organizations_document_is_404(populate_org, make_org, login_as):
    a = populate_org()
    b = login_as(make_org())
    for path in (f"/documents/{a.document_id}", f"/documents/{a.document_id}/download"):
        assert b.get(path).status_code == 404
    token = csrf_token(b, "/documents")
    for action in ("delete", "reprocess"):
        assert (
            b.post(f"/documents/{a.document_id}/{action}", data={"csrf_token": token}).status_code
            == 404
        )
    assert (
        b.post(
            "/documents/bulk",
            data={
                "csrf_token": token,
                "action": "delete",
                "ids": [a.document_id],
                "confirmed": "yes",
            },
        ).status_code
        == 404
    )
    assert a.client.get(f"/documents/{a.document_id}").status_code == 200
    assert b.get(f"/documents/progress?id={a.document_id}").get_json() == {"documents": []}
    results = b.get(f"/search?q={a.secret_word}").get_data(as_text=True)
    assert "No documents match" in results and a.document_id not in results


def test_unknown_and_malformed_ids_are_404(client_a):
    for path in (
        f"/documents/{uuid.uuid4()}",
        "/documents/not-a-uuid",
        "/documents/../etc/passwd",
        f"/documents/{uuid.uuid4()}/download",
    ):
        assert client_a.get(path).status_code == 404, path


def test_pages_need_a_login(client):
    for path in ("/documents", "/documents/upload", f"/documents/{uuid.uuid4()}", "/search?q=x"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
