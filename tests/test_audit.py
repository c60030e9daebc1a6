"""The audit log: what is recorded, the 404 trace, the page, the CSV, and its append-only wall."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from webapp.org.audit_services import safe_cell

UA = "audit-test-agent/1.0"


def _events(owner_engine, org_id, action: str) -> list[dict]:
    with owner_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT * FROM audit_events WHERE organization_id = :o AND action = :a "
                "ORDER BY created_at"
            ),
            {"o": org_id, "a": action},
        ).mappings()
        return [dict(r) for r in rows]


def _assert_request_fields(event: dict, actor_id) -> None:
    assert event["actor_user_id"] == actor_id
    assert event["ip"] == "127.0.0.1"
    assert event["user_agent"] == UA
    assert event["request_id"]


@pytest.mark.parametrize(
    ("path", "action"),
    [
        ("/documents/{id}", "document.viewed"),
        ("/documents/{id}/download", "document.downloaded"),
        ("/api/v1/documents/{id}", "document.viewed"),
        ("/api/v1/documents/{id}/download", "document.downloaded"),
    ],
)
def test_document_reads_are_audited(populate_org, owner_engine, path, action):
    populated = populate_org()
    org = populated.org
    url = path.format(id=populated.document_id)
    headers = {"User-Agent": UA}
    if url.startswith("/api/"):
        headers["Authorization"] = f"Bearer {populated.api_token}"
    response = populated.client.get(url, headers=headers)
    assert response.status_code == 200
    response.get_data()  # the download streams
    (event,) = _events(owner_engine, org.org_id, action)
    _assert_request_fields(event, org.user_id)
    assert (event["target_type"], event["target_id"]) == ("document", populated.document_id)


def test_login_failure_and_logout_carry_request_fields(client, make_org, login_as, owner_engine):
    org = make_org()
    from tests.conftest import login

    login(client, org.email, "wrong password!!", headers={"User-Agent": UA})
    (failed,) = _events(owner_engine, org.org_id, "auth.login_failed")
    assert failed["ip"] == "127.0.0.1" and failed["request_id"]
    assert login(client, org.email, org.password, headers={"User-Agent": UA}).status_code == 302
    (success,) = _events(owner_engine, org.org_id, "auth.login")
    _assert_request_fields(success, org.user_id)


@pytest.mark.parametrize("via", ["page", "api"])
def test_another_organizations_document_is_404_and_audited_in_the_requesters_org(
    populate_org, owner_engine, via
):
    """The probe is traced where the prober lives; the probed organization sees nothing."""
    mine, theirs = populate_org(), populate_org()
    with owner_engine.connect() as conn:
        before = conn.execute(
            text("SELECT count(*) FROM audit_events WHERE organization_id = :o"),
            {"o": theirs.org.org_id},
        ).scalar_one()
    if via == "page":
        url = f"/documents/{theirs.document_id}"
        response = mine.client.get(url, headers={"User-Agent": UA})
    else:
        url = f"/api/v1/documents/{theirs.document_id}"
        headers = {"User-Agent": UA, "Authorization": f"Bearer {mine.api_token}"}
        response = mine.client.get(url, headers=headers)
    assert response.status_code == 404
    (event,) = _events(owner_engine, mine.org.org_id, "access.not_found")
    _assert_request_fields(event, mine.org.user_id)
    assert event["target_type"] == "document"
    assert event["target_id"] == theirs.document_id
    assert event["details"]["path"] == url
    assert event["details"]["method"] == "GET"
    with owner_engine.connect() as conn:
        after = conn.execute(
            text("SELECT count(*) FROM audit_events WHERE organization_id = :o"),
            {"o": theirs.org.org_id},
        ).scalar_one()
    assert after == before
    assert _events(owner_engine, theirs.org.org_id, "access.not_found") == []


def test_anonymous_404_writes_nothing(client, owner_engine):
    with owner_engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one()
    assert client.get(f"/documents/{uuid.uuid4()}").status_code in (302, 404)
    assert client.get(f"/api/v1/documents/{uuid.uuid4()}").status_code == 401
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == before


# --- the page and the CSV ---------------------------------------------------------------------


def test_audit_page_lists_newest_first_and_filters(populate_org):
    populated = populate_org()
    client = populated.client
    client.get(f"/documents/{populated.document_id}")
    client.get(f"/documents/{populated.document_id}/download").get_data()
    page = client.get("/settings/audit")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert body.index("document.downloaded") < body.index("document.viewed")
    filtered = client.get("/settings/audit?action=document.viewed").get_data(as_text=True)
    assert "<code>document.viewed</code>" in filtered
    assert "<code>document.downloaded</code>" not in filtered
    by_actor = client.get(f"/settings/audit?actor={populated.org.user_id}&action=auth.login")
    assert "<code>auth.login</code>" in by_actor.get_data(as_text=True)
    future = client.get("/settings/audit?from=2999-01-01").get_data(as_text=True)
    assert "No events match these filters" in future


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=yesterday", "enter a date as YYYY-MM-DD"),
        ("to=2024-13-40", "enter a date as YYYY-MM-DD"),
        ("from=2024-05-02&to=2024-05-01", "after the “to” date"),
        ("actor=not-a-member", "choose a member"),
    ],
)
def test_audit_page_rejects_bad_filters_clearly(populate_org, query, message):
    client = populate_org().client
    response = client.get(f"/settings/audit?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert client.get(f"/settings/audit.csv?{query}").status_code == 400


def test_audit_page_paginates(populate_org, app):
    from webapp.org import audit_services

    populated = populate_org()
    with app.app_context():
        from webapp.tenancy import tenant_context

        with tenant_context(populated.org.org_id):
            page = audit_services.list_events(audit_services.AuditFilter(), page=1, per_page=2)
            assert page.total > 2 and len(page.items) == 2 and page.has_next
            second = audit_services.list_events(audit_services.AuditFilter(), page=2, per_page=2)
            assert {e.id for e in second.items}.isdisjoint({e.id for e in page.items})
    response = populated.client.get("/settings/audit?page=999")
    assert response.status_code == 200


def test_audit_csv_streams_the_filtered_events(populate_org):
    populated = populate_org()
    client = populated.client
    client.get(f"/documents/{populated.document_id}")
    response = client.get("/settings/audit.csv?action=document.viewed")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Content-Disposition"].startswith("attachment")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["action"] for r in rows] == ["document.viewed"]
    assert rows[0]["actor_email"] == populated.org.email
    assert rows[0]["target_id"] == populated.document_id
    assert rows[0]["request_id"]


def test_audit_csv_guards_against_formula_injection(populate_org, app):
    """A title or user agent like ``=HYPERLINK(...)`` must reach the spreadsheet as text."""
    populated = populate_org()
    evil = '=HYPERLINK("http://evil.example","x")'
    populated.client.get(f"/documents/{populated.document_id}", headers={"User-Agent": evil})
    response = populated.client.get("/settings/audit.csv?action=document.viewed")
    (row,) = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert row["user_agent"] == "'" + evil


@pytest.mark.parametrize(
    ("value", "shown"),
    [("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"), ("a=b", "a=b")],
)
def test_safe_cell(value, shown):
    assert safe_cell(value) == shown


def test_members_cannot_read_the_audit_log(populate_org, app, login_as, owner_engine):
    populated = populate_org()
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE users SET role = 'member' WHERE organization_id = :o AND id = :u"),
            {"o": populated.org.org_id, "u": populated.org.user_id},
        )
    assert populated.client.get("/settings/audit").status_code == 403
    assert populated.client.get("/settings/audit.csv").status_code == 403


# --- append-only ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'rewritten' WHERE organization_id = :o",
        "DELETE FROM audit_events WHERE organization_id = :o",
        "TRUNCATE audit_events",
    ],
)
def test_app_role_cannot_change_its_own_audit_log(
    make_org, app_engine, owner_engine, statement, enter_org
):
    """Even inside its own organization's context, the app role may not rewrite history."""
    org = make_org()
    with app_engine.connect() as conn:
        enter_org(conn, org.org_id)
        assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one() > 0
        with pytest.raises(ProgrammingError, match="permission denied"):
            conn.execute(text(statement), {"o": org.org_id})
        conn.rollback()
    with owner_engine.connect() as conn:
        count = conn.execute(
            text("SELECT count(*) FROM audit_events WHERE organization_id = :o AND action = :a"),
            {"o": org.org_id, "a": "rewritten"},
        ).scalar_one()
    assert count == 0


def test_the_log_reads_as_sentences_with_names_and_attributes_failed_log_ins(
    app, make_org, login_as
):
    """ "Maria invited daniel@… as member"; names instead of ids; a failed log-in is someone's
    attempt on the account, not the account holder's act."""
    import re as _re

    from tests.conftest import csrf_token as _csrf
    from tests.conftest import invite as _invite
    from tests.conftest import login as _login

    org = make_org()
    client = login_as(org)
    token = _csrf(client, "/account")
    assert (
        client.post("/account/name", data={"name": "Maria", "csrf_token": token}).status_code == 302
    )
    daniel = f"daniel-{org.org_id.hex[:6]}@acme.test"
    _invite(client, daniel, "member")
    assert _login(app.test_client(), org.email, "not the password at all").status_code == 401
    page = client.get("/settings/audit").get_data(as_text=True)
    assert f"Maria invited {daniel} as member" in page
    rows = _re.findall(r"<tr>\s*<td[^>]*>[^<]*</td>\s*<td>([^<]*)</td>\s*<td>([^<]*)", page)
    assert rows, page
    failed = [(who, what.strip()) for who, what in rows if what.strip().startswith("Failed log-in")]
    assert failed and failed[0][0].startswith("Someone") and "Maria" in failed[0][1], failed
    assert all(not _re.fullmatch(r"[0-9a-f-]{36}", who) for who, _ in rows)
    assert "platform / system" not in page
