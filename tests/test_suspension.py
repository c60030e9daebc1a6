"""Suspension: members signed out onto a clear page, tokens refused, documents wait."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import upload, uploaded_ids
from webapp.admin import services as admin
from webapp.extensions import db
from webapp.tenancy import tenant_context
from workers.fair_run import fair_process


def _set_status(app, org_id, status: str) -> list[str]:
    with app.app_context():
        actions = admin.update_organization(admin.Actor("cli:test"), org_id, status=status)
        db.session.remove()
    return actions


def _status(owner_engine, org_id, document_id) -> str:
    with owner_engine.connect() as conn:
        return conn.execute(
            text("SELECT status FROM documents WHERE organization_id = :o AND id = :d"),
            {"o": org_id, "d": document_id},
        ).scalar_one()


@pytest.fixture
def sent_tasks(app, monkeypatch):
    """Tasks published to Celery, captured instead of sent."""
    sent: list[tuple[str, list]] = []
    celery = app.extensions["celery"]
    monkeypatch.setattr(
        celery, "send_task", lambda name, args=None, **_: sent.append((name, list(args or [])))
    )
    return sent


def test_a_signed_in_member_sees_the_suspended_page_then_is_signed_out(app, make_org, login_as):
    org = make_org()
    client = login_as(org)
    assert client.get("/dashboard").status_code == 200
    assert _set_status(app, org.org_id, "suspended") == ["organization.suspended"]
    page = client.get("/documents")
    assert page.status_code == 403
    body = page.get_data(as_text=True)
    assert f"{org.name} is suspended" in body and "signed out" in body
    # Signed out: the next request is an ordinary anonymous one.
    assert client.get("/documents").status_code == 302


def test_other_organizations_are_untouched(app, make_org, login_as):
    suspended, other = make_org(), make_org()
    other_client = login_as(other)
    _set_status(app, suspended.org_id, "suspended")
    assert other_client.get("/documents").status_code == 200


def test_api_token_of_a_suspended_organization_is_403_and_an_invalid_one_401(app, populate_org):
    populated = populate_org()
    _set_status(app, populated.org.org_id, "suspended")
    response = populated.client.get(
        "/api/v1/documents", headers={"Authorization": f"Bearer {populated.api_token}"}
    )
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "organization_suspended"
    forged = populated.api_token[:-4] + "xxxx"
    refused = populated.client.get(
        "/api/v1/documents", headers={"Authorization": f"Bearer {forged}"}
    )
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "invalid_token"
    _set_status(app, populated.org.org_id, "active")
    ok = populated.client.get(
        "/api/v1/documents", headers={"Authorization": f"Bearer {populated.api_token}"}
    )
    assert ok.status_code == 200


def test_queued_documents_wait_while_suspended_and_run_after_reactivation(
    app, make_org, login_as, owner_engine, sent_tasks
):
    """The worker leaves a suspended organization's document queued; reactivation resumes it."""
    org = make_org()
    client = login_as(org)
    response = upload(client, (b"Minutes. Action: Ann to send the plan by Friday.\n", "m.txt"))
    (document_id,) = set(uploaded_ids(response))
    assert _status(owner_engine, org.org_id, document_id) == "queued"

    _set_status(app, org.org_id, "suspended")
    with app.app_context(), tenant_context(org.org_id):
        assert fair_process(str(org.org_id), document_id) == "suspended"
        db.session.remove()
    assert _status(owner_engine, org.org_id, document_id) == "queued"

    sent_tasks.clear()
    assert _set_status(app, org.org_id, "active") == ["organization.reactivated"]
    resumed = [args for name, args in sent_tasks if name == "workers.tasks.process_document"]
    assert [str(org.org_id), document_id] in resumed

    with app.app_context(), tenant_context(org.org_id):
        assert fair_process(str(org.org_id), document_id) == "done"
        db.session.remove()
    assert _status(owner_engine, org.org_id, document_id) == "done"
