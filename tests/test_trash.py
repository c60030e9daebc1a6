"""The trash (issue 12): deleted documents wait restorable, hidden everywhere, then are purged."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import FIXTURES, csrf_token, process_now, upload, uploaded_ids

MINUTES = (FIXTURES / "meeting_minutes.txt").read_bytes()


@pytest.fixture
def org(make_org):
    return make_org()


@pytest.fixture
def client(org, login_as):
    return login_as(org)


def _upload(app, org, client, word: str) -> str:
    body = MINUTES + f"\nThe codename is {word}.\n".encode()
    (document_id,) = set(uploaded_ids(upload(client, (body, f"{word}.txt"))))
    assert process_now(app, org.org_id, document_id) == "done"
    return document_id


def _delete(client, *ids: str):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/documents")
    return client.post(
        "/documents/bulk",
        data={"csrf_token": token, "action": "delete", "ids": list(ids), "confirmed": "yes"},
    )


def _storage(owner_engine, org_id) -> int:
    with owner_engine.connect() as conn:
        return conn.scalar(
            text("SELECT storage_bytes FROM usage_totals WHERE organization_id = :o"),
            {"o": org_id},
        )


def test_a_deleted_document_is_hidden_everywhere_and_restores_whole(app, org, client, owner_engine):
    word = "zqtrash" + org.org_id.hex[:6]
    document_id = _upload(app, org, client, word)
    stored = _storage(owner_engine, org.org_id)

    assert _delete(client, document_id).status_code == 302
    assert client.get(f"/documents/{document_id}").status_code == 404
    assert client.get(f"/documents/{document_id}/download").status_code == 404
    assert document_id not in client.get("/documents").get_data(as_text=True)
    assert document_id not in client.get(f"/search?q={word}").get_data(as_text=True)
    assert client.get(f"/documents/progress?id={document_id}").get_json() == {"documents": []}
    trash = client.get("/documents/trash").get_data(as_text=True)
    assert f"{word}.txt" in trash
    usage = client.get("/settings/usage").get_data(as_text=True)
    assert 'id="meter-trash"' in usage and "1 document," in usage
    assert _storage(owner_engine, org.org_id) == stored  # counted until purged

    token = csrf_token(client, "/documents/trash")
    restored = client.post(f"/documents/trash/{document_id}/restore", data={"csrf_token": token})
    assert restored.status_code == 302
    page = client.get(f"/documents/{document_id}")
    assert page.status_code == 200 and word in page.get_data(as_text=True)  # digest kept
    assert document_id in client.get(f"/search?q={word}").get_data(as_text=True)
    assert client.get(f"/documents/{document_id}/download").status_code == 200
    assert "The trash is empty." in client.get("/documents/trash").get_data(as_text=True)
    with owner_engine.connect() as conn:
        actions = conn.scalars(
            text(
                "SELECT action FROM audit_events WHERE organization_id = :o "
                "AND target_id = :d ORDER BY created_at"
            ),
            {"o": org.org_id, "d": document_id},
        ).all()
    assert "document.trashed" in actions and actions[-2:] != [] and "document.restored" in actions


def test_the_api_delete_moves_to_the_trash(app, org, client, owner_engine):
    from webapp.api import tokens
    from webapp.extensions import db
    from webapp.models import User
    from webapp.tenancy import tenant_context

    document_id = _upload(app, org, client, "zqapi" + org.org_id.hex[:6])
    with app.app_context(), tenant_context(org.org_id):
        plaintext = tokens.create_token(db.session.get(User, (org.org_id, org.user_id)), "t")
        db.session.remove()
    headers = {"Authorization": f"Bearer {plaintext.plaintext}"}
    api = app.test_client()
    assert api.delete(f"/api/v1/documents/{document_id}", headers=headers).status_code == 204
    assert api.get(f"/api/v1/documents/{document_id}", headers=headers).status_code == 404
    listed = api.get("/api/v1/documents", headers=headers).get_json()
    assert document_id not in {d["id"] for d in listed["documents"]}
    assert f"/documents/trash/{document_id}/restore" in client.get("/documents/trash").get_data(
        as_text=True
    )


def test_uploading_a_trashed_file_again_says_where_it_is(app, org, client):
    document_id = _upload(app, org, client, "zqdup" + org.org_id.hex[:6])
    _delete(client, document_id)
    body = MINUTES + f"\nThe codename is zqdup{org.org_id.hex[:6]}.\n".encode()
    again = upload(client, (body, "again.txt"))
    assert again.status_code == 400
    assert "is in the trash" in again.get_data(as_text=True)


def test_purging_frees_storage_and_housekeeping_purges_after_the_grace_period(
    app, org, client, owner_engine
):
    from webapp.documents import trash

    kept = _upload(app, org, client, "zqkeep" + org.org_id.hex[:6])
    old = _upload(app, org, client, "zqold" + org.org_id.hex[:6])
    recent = _upload(app, org, client, "zqnew" + org.org_id.hex[:6])
    before = _storage(owner_engine, org.org_id)
    _delete(client, old, recent)
    with owner_engine.begin() as conn:
        size = conn.scalar(
            text("SELECT size_bytes FROM documents WHERE organization_id = :o AND id = :d"),
            {"o": org.org_id, "d": old},
        )
        conn.execute(
            text(
                "UPDATE documents SET deleted_at = now() - interval '31 days' "
                "WHERE organization_id = :o AND id = :d"
            ),
            {"o": org.org_id, "d": old},
        )
    with app.app_context():
        assert trash.purge_due() >= 1
    with owner_engine.connect() as conn:
        left = set(
            conn.scalars(
                text("SELECT id::text FROM documents WHERE organization_id = :o"),
                {"o": org.org_id},
            )
        )
        blobs = conn.scalar(
            text(
                "SELECT count(*) FROM document_blobs "
                "WHERE organization_id = :o AND document_id = :d"
            ),
            {"o": org.org_id, "d": old},
        )
        purged_audit = conn.scalar(
            text(
                "SELECT count(*) FROM audit_events WHERE organization_id = :o "
                "AND action = 'document.purged' AND target_id = :d"
            ),
            {"o": org.org_id, "d": old},
        )
    assert left == {kept, recent}  # the recent one waits out its grace period
    assert blobs == 0 and purged_audit == 1
    assert _storage(owner_engine, org.org_id) == before - size


def test_bulk_delete_asks_first_and_changes_nothing_until_confirmed(app, org, client):
    document_id = _upload(app, org, client, "zqask" + org.org_id.hex[:6])
    token = csrf_token(client, "/documents")
    asked = client.post(
        "/documents/bulk", data={"csrf_token": token, "action": "delete", "ids": [document_id]}
    )
    body = asked.get_data(as_text=True)
    assert asked.status_code == 200
    assert "Move 1 document to the trash?" in body and 'name="confirmed" value="yes"' in body
    assert client.get(f"/documents/{document_id}").status_code == 200


def test_a_forbidden_button_says_why_on_the_page_it_was_pressed_on(app, make_org, owner_engine):
    """A viewer's delete from the list comes back to the list with the reason (HTML), and stays
    a 403 with JSON for a client that does not take HTML."""
    from tests.test_roles import add_member, make_document

    org = make_org()
    viewer = add_member(app, org.org_id, "viewer")
    document_id = str(make_document(app, org.org_id, org.user_id))
    from tests.conftest import login
    from tests.test_roles import PASSWORD

    client = app.test_client()
    assert login(client, viewer.email, PASSWORD).status_code == 302
    token = csrf_token(client, "/documents")
    url = f"/documents/{document_id}/delete"
    referer = {"Referer": f"http://localhost/documents/{document_id}"}
    inline = client.post(url, data={"csrf_token": token}, headers=referer)
    assert inline.status_code == 303
    assert inline.headers["Location"].endswith(f"/documents/{document_id}")
    page = client.get(f"/documents/{document_id}").get_data(as_text=True)
    assert 'role="alert"' in page and "viewer" in page.lower()
    plain = client.post(
        url, data={"csrf_token": token}, headers={**referer, "Accept": "application/json"}
    )
    assert plain.status_code == 403 and plain.get_json()["error"]["code"] == "forbidden"
    assert client.get(f"/documents/{document_id}").status_code == 200  # nothing changed


def test_a_failed_document_shows_its_reason_not_processing_has_started(app, org, client):
    """Upload results and the list say what happened: a failure with its reason."""
    from tests.conftest import FIXTURES as fixtures

    pdf = (fixtures / "bad" / "encrypted.pdf").read_bytes()
    response = upload(client, (pdf, "locked.pdf"))
    (document_id,) = set(uploaded_ids(response))
    assert process_now(app, org.org_id, document_id) == "failed"
    listing = client.get("/documents").get_data(as_text=True)
    assert f'data-error-for="{document_id}">' in listing
    reason = listing.split(f'data-error-for="{document_id}">', 1)[1].split("<", 1)[0]
    assert "password" in reason.lower()
    detail = client.get(f"/documents/{document_id}").get_data(as_text=True)
    assert reason in detail

    from webapp.documents.views import processing_message
    from webapp.models import Document

    failed = Document(status="failed", error="A damaged PDF.")
    assert processing_message(failed) == "Uploaded, but processing failed: A damaged PDF."
    assert "has started" not in processing_message(Document(status="done"))


def test_a_document_trashed_before_processing_is_left_alone_and_restored_queued(
    app, org, client, owner_engine
):
    """The worker finds nothing to do for a trashed document; restoring queues it again."""
    body = MINUTES + f"\nThe codename is zqwait{org.org_id.hex[:6]}.\n".encode()
    (document_id,) = set(uploaded_ids(upload(client, (body, "waiting.txt"))))
    _delete(client, document_id)
    with owner_engine.connect() as conn:
        row = conn.execute(
            text("SELECT status, error FROM documents WHERE organization_id = :o AND id = :d"),
            {"o": org.org_id, "d": document_id},
        ).one()
    if row.status == "failed":  # it was still waiting or running: stopped by the deletion
        from webapp.documents.trash import TRASHED_WHILE_PROCESSING

        assert row.error == TRASHED_WHILE_PROCESSING
    assert process_now(app, org.org_id, document_id) == "missing"
    token = csrf_token(client, "/documents/trash")
    client.post(f"/documents/trash/{document_id}/restore", data={"csrf_token": token})
    assert process_now(app, org.org_id, document_id) == "done"
    assert client.get(f"/documents/{document_id}").status_code == 200


def test_the_favicon_is_served(app):
    client = app.test_client()
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    icon.close()
    legacy = client.get("/favicon.ico")  # asked by clients that ignore the page's icon link
    assert legacy.status_code == 200 and legacy.mimetype == "image/svg+xml"
    page = client.get("/login").get_data(as_text=True)
    assert 'rel="icon"' in page and 'class="skip-link" href="#main"' in page


def test_a_trashed_documents_actions_leave_the_actions_page_and_come_back(app, org, client):
    """The Actions page joins Document, so the trash's criteria hide a trashed document's items."""
    document_id = _upload(app, org, client, "zqacts" + org.org_id.hex[:6])
    assert "revised budget" in client.get("/actions").get_data(as_text=True)
    _delete(client, document_id)
    assert "revised budget" not in client.get("/actions").get_data(as_text=True)
    token = csrf_token(client, "/documents/trash")
    client.post(f"/documents/trash/{document_id}/restore", data={"csrf_token": token})
    assert "revised budget" in client.get("/actions").get_data(as_text=True)
