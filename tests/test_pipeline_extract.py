"""The pipeline around extraction, in-process: OCR progress per page, mail attachments stored
once, the organization's OCR language."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import process_now, upload, uploaded_ids
from tests.extract_samples import MINUTES_LINES, docx_bytes, mail_bytes, scanned_pdf
from workers import pipeline


@pytest.fixture(autouse=True)
def sent(app, monkeypatch):
    """Record published tasks instead of sending them: the pipeline runs in this process."""
    published: list[dict] = []
    celery = app.extensions["celery"]
    monkeypatch.setattr(
        celery, "send_task", lambda name, **options: published.append({"name": name, **options})
    )
    return published


def test_ocr_progress_is_committed_after_each_page(app, make_org, login_as, monkeypatch):
    """Does a person watching a three-page scan see the progress move page by page?"""
    org = make_org()
    scan = scanned_pdf([MINUTES_LINES, ["Page two", "Alpha"], ["Page three", "Beta"]])
    (document_id,) = set(uploaded_ids(upload(login_as(org), (scan, "scan.pdf"))))
    steps: list[tuple[str, int]] = []
    advance = pipeline._advance

    def recording(document, owner, status, progress):  # type: ignore[no-untyped-def]
        steps.append((status, progress))
        advance(document, owner, status, progress)

    monkeypatch.setattr(pipeline, "_advance", recording)
    assert process_now(app, org.org_id, document_id) == "done"
    # 5 % is committed with the lease (pipeline._take_lease); then one step per OCR page.
    assert steps == [("extracting", 20), ("extracting", 35), ("extracting", 50)]


def _rows(owner_engine, org_id) -> list:  # type: ignore[no-untyped-def]
    with owner_engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT id::text AS id, detected_type, filename, uploaded_by, status "
                "FROM documents WHERE organization_id = :o ORDER BY created_at"
            ),
            {"o": org_id},
        ).all()


def _digest(owner_engine, document_id) -> dict:
    with owner_engine.connect() as conn:
        return conn.scalar(
            text("SELECT digest FROM document_analyses WHERE document_id = :d"), {"d": document_id}
        )


def test_reprocessing_a_mail_links_its_attachment_again_instead_of_storing_it_twice(
    app, make_org, login_as, owner_engine
):
    org = make_org()
    attachment = docx_bytes(lambda document: document.add_paragraph("Tom to book the room."))
    mail = mail_bytes(
        "Minutes",
        "Action: Maria to send the budget.\n",
        [
            ("room.docx", "application/octet-stream", attachment),
        ],
    )
    (mail_id,) = set(uploaded_ids(upload(login_as(org), (mail, "minutes.eml"))))
    assert process_now(app, org.org_id, mail_id) == "done"
    first = _digest(owner_engine, mail_id)["attachments"]
    assert process_now(app, org.org_id, mail_id) == "done"
    assert _digest(owner_engine, mail_id)["attachments"] == first
    rows = _rows(owner_engine, org.org_id)
    assert [(r.detected_type, r.filename) for r in rows] == [
        ("eml", "minutes.eml"),
        ("docx", "room.docx"),
    ]
    assert first == [{"filename": "room.docx", "document_id": rows[1].id}]
    page = login_as(org).get(f"/documents/{mail_id}").get_data(as_text=True)
    assert f'<a href="/documents/{rows[1].id}">room.docx</a>' in page
    # Stored by the mail's uploader, queued for the worker like an upload: an outbox row
    # (published at once, or when the organization's worker slot frees up).
    assert rows[1].uploaded_by == rows[0].uploaded_by and rows[1].status == "queued"
    with owner_engine.connect() as conn:
        outbox = conn.scalar(
            text("SELECT count(*) FROM outbox WHERE payload->'args'->>0 = :d"),
            {"d": rows[1].id},
        )
    assert outbox == 1


def test_an_attachment_over_the_quota_is_reported_not_raised(app, make_org, login_as, owner_engine):
    org = make_org()
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE organizations SET quota_overrides = "
                "'{\"documents_per_month\": 1}' WHERE id = :o"
            ),
            {"o": org.org_id},
        )
    attachment = docx_bytes(lambda document: document.add_paragraph("Tom to book the room."))
    mail = mail_bytes(
        "Minutes",
        "Action: Maria to send the budget.\n",
        [
            ("room.docx", "application/octet-stream", attachment),
        ],
    )
    (mail_id,) = set(uploaded_ids(upload(login_as(org), (mail, "minutes.eml"))))
    assert process_now(app, org.org_id, mail_id) == "done"
    (entry,) = _digest(owner_engine, mail_id)["attachments"]
    assert entry["filename"] == "room.docx" and "documents of this month" in entry["error"]
    page = login_as(org).get(f"/documents/{mail_id}").get_data(as_text=True)
    assert 'room.docx: <span class="error">' in page
    assert [r.detected_type for r in _rows(owner_engine, org.org_id)] == ["eml"]
