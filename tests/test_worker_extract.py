"""OCR and e-mail through the real worker: scans and photos become digests, mail attachments
become documents of their own (same organization, digested, invisible to the others)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from tests.conftest import upload, uploaded_ids
from tests.extract_samples import (
    MINUTES_LINES,
    docx_bytes,
    mail_bytes,
    page_image,
    png_bytes,
    scanned_pdf,
)
from tests.test_worker_documents import analyses, wait_for

pytestmark = pytest.mark.slow
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _documents(owner_engine, org_ids) -> list:  # type: ignore[no-untyped-def]
    with owner_engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT id::text AS id, organization_id, detected_type, status, progress, "
                "page_count FROM documents WHERE organization_id = ANY(CAST(:o AS uuid[])) "
                "ORDER BY created_at"
            ),
            {"o": [str(org_id) for org_id in org_ids]},
        ).all()


def _maria(digest: dict) -> dict:
    return next(a for a in digest["action_items"] if "revised budget" in a["text"])


def test_a_scanned_pdf_and_a_png_photo_come_out_as_digests(
    worker, make_org, login_as, owner_engine
):
    org = make_org()
    tag = uuid.uuid4().hex[:6]  # distinct content per run: uploads are deduplicated
    lines = [*MINUTES_LINES, f"Reference {tag}"]
    scan = scanned_pdf([lines, ["Risks", "Risk: the vendor may deliver the API late."]])
    photo = png_bytes(page_image(lines, tilt=0.4))
    response = upload(login_as(org), (scan, "scanned-minutes.pdf"), (photo, "photo.png"))
    ids = list(dict.fromkeys(uploaded_ids(response)))
    assert len(ids) == 2
    assert wait_for(owner_engine, ids, timeout=240) == {ids[0]: "done", ids[1]: "done"}
    rows = {row.id: row for row in _documents(owner_engine, [org.org_id])}
    assert (rows[ids[0]].detected_type, rows[ids[0]].page_count) == ("pdf", 2)
    assert (rows[ids[1]].detected_type, rows[ids[1]].page_count) == ("png", 1)
    for document_id in ids:
        (analysis,) = analyses(owner_engine, document_id)
        assert analysis.organization_id == org.org_id
        assert "Decision: the committee approved the sandbox contingency." in analysis.text
        maria = _maria(analysis.digest)
        assert (maria["owner"], maria["due_date"]) == ("Maria", "2027-03-12")
        assert rows[document_id].progress == 100
    (scan_analysis,) = analyses(owner_engine, ids[0])
    assert any("vendor may deliver" in risk["text"] for risk in scan_analysis.digest["risks"])


def test_a_mail_with_a_docx_attachment_gives_two_digested_documents_in_its_organization(
    worker, make_org, login_as, owner_engine
):
    org, other = make_org(), make_org()
    tag = uuid.uuid4().hex[:6]

    def build(document):  # type: ignore[no-untyped-def]
        document.add_heading("Budget review", level=1)
        document.add_paragraph(
            f"Action: Priya to confirm the licence purchase order by 19 March 2027. ({tag})"
        )

    body = (
        "Hello all,\n\nMinutes of today's steering committee.\n\n"
        "Action: Maria to send the revised budget by 12 March 2027.\n\n"
        f"Reference {tag}\n"
    )
    mail = mail_bytes(
        "Steering committee minutes",
        body,
        attachments=[
            ("budget-review.docx", DOCX_TYPE, docx_bytes(build)),
            ("tool.exe", "application/octet-stream", b"MZ\x90\x00" + bytes(60)),
        ],
    )
    response = upload(login_as(org), (mail, "minutes.eml"))
    (mail_id,) = set(uploaded_ids(response))
    assert wait_for(owner_engine, [mail_id], timeout=120) == {mail_id: "done"}
    (mail_analysis,) = analyses(owner_engine, mail_id)
    stored, refused = mail_analysis.digest["attachments"]
    assert stored["filename"] == "budget-review.docx"
    assert refused["filename"] == "tool.exe" and "Windows executable" in refused["error"]
    attachment_id = stored["document_id"]
    assert wait_for(owner_engine, [attachment_id], timeout=120) == {attachment_id: "done"}

    documents = _documents(owner_engine, [org.org_id, other.org_id])
    assert [(d.id, d.organization_id, d.detected_type) for d in documents] == [
        (mail_id, org.org_id, "eml"),
        (attachment_id, org.org_id, "docx"),
    ]
    assert _maria(mail_analysis.digest)["owner"] == "Maria"
    (attachment_analysis,) = analyses(owner_engine, attachment_id)
    assert attachment_analysis.organization_id == org.org_id
    priya = next(a for a in attachment_analysis.digest["action_items"] if "licence" in a["text"])
    assert (priya["owner"], priya["due_date"]) == ("Priya", "2027-03-19")

    # The other organization sees neither document, by link or in its list.
    others = login_as(other)
    for document_id in (mail_id, attachment_id):
        assert others.get(f"/documents/{document_id}").status_code == 404
    listing = others.get("/documents").get_data(as_text=True)
    assert mail_id not in listing and attachment_id not in listing
    # The owner's organization sees both.
    mine = login_as(org).get("/documents").get_data(as_text=True)
    assert mail_id in mine and attachment_id in mine
