"""The JSON API under /api/v1 and the API-token settings page, on real PostgreSQL and Redis."""

from __future__ import annotations

import io
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.conftest import FIXTURES, OrgFixture, csrf_token, process_now
from webapp.auth.services import hasher
from webapp.extensions import db
from webapp.models import User
from webapp.tenancy import tenant_context

TOKENS_PAGE = "/settings/api-tokens"
NEW_TOKEN_RE = re.compile(r'id="new-token"[^>]*?value="([^"]+)"')
REVOKE_RE = re.compile(r'action="(/settings/api-tokens/[0-9a-f-]{36}/revoke)"')


@dataclass(frozen=True)
class ApiOrg:
    """An organization, its owner's browser session, and a token made on the settings page."""

    org: OrgFixture
    browser: FlaskClient
    token: str


def create_token_on_page(browser: FlaskClient, name: str) -> str:
    """Create a token through the settings form; returns the plaintext the page shows."""
    response = browser.post(
        TOKENS_PAGE, data={"csrf_token": csrf_token(browser, TOKENS_PAGE), "name": name}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    match = NEW_TOKEN_RE.search(response.get_data(as_text=True))
    assert match, "the new token's plaintext is not on the page"
    return match.group(1)


@pytest.fixture
def api_org(make_org, login_as):  # type: ignore[no-untyped-def]
    """Factory: a fresh organization with an API token created on the settings page."""

    def factory() -> ApiOrg:
        org = make_org()
        browser = login_as(org)
        return ApiOrg(org, browser, create_token_on_page(browser, "script"))

    return factory


def call(client: FlaskClient, method: str, path: str, token: str | None = None, **kwargs):  # type: ignore[no-untyped-def]
    """One API request, with the bearer token when given."""
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.open(path, method=method, headers=headers, **kwargs)


def api_upload(client: FlaskClient, token: str, *files: tuple[bytes, str]):  # type: ignore[no-untyped-def]
    """POST files as multipart ``file`` parts."""
    data = {"file": [(io.BytesIO(content), name) for content, name in files]}
    return call(
        client, "POST", "/api/v1/documents", token, data=data, content_type="multipart/form-data"
    )


def assert_error(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def]
    """The response is a JSON error with this status and code; returns the error object."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json", response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    return error


def minutes_with(word: str) -> bytes:
    """The meeting-minutes fixture with a unique word in it (so its hash is unique too)."""
    body = (FIXTURES / "meeting_minutes.txt").read_text()
    return (body + f"\nThe codename for this workstream is {word}.\n").encode()


# --- The token settings page ------------------------------------------------------------


def test_token_page_shows_the_plaintext_once_and_lists_the_token(
    app: Flask, make_org, login_as
) -> None:
    org = make_org()
    browser = login_as(org)
    assert "No tokens yet" in browser.get(TOKENS_PAGE).get_data(as_text=True)

    plaintext = create_token_on_page(browser, "Nightly import")
    listing = browser.get(TOKENS_PAGE)
    page = listing.get_data(as_text=True)
    assert listing.status_code == 200
    assert "Nightly import" in page
    secret = plaintext.split("_", 3)[3]
    # Shown as its holder sees it: the token's real first and last characters...
    shown = re.search(r"<code>(pmdi_[0-9a-f]+)…([^<]+)</code>", page)
    assert shown is not None, page
    assert plaintext.startswith(shown.group(1)) and plaintext.endswith(shown.group(2))
    assert len(shown.group(1)) >= len("pmdi_") + 6 and len(shown.group(2)) == 4
    assert secret not in page  # ...but the secret itself is never shown again
    assert "never" in page  # not used yet

    assert call(app.test_client(), "GET", "/api/v1/documents", plaintext).status_code == 200
    assert "never" not in browser.get(TOKENS_PAGE).get_data(as_text=True)


def test_token_page_needs_log_in_and_csrf(app: Flask, make_org, login_as) -> None:
    anonymous = app.test_client()
    assert anonymous.get(TOKENS_PAGE).status_code == 302
    browser = login_as(make_org())
    refused = browser.post(TOKENS_PAGE, data={"name": "no csrf"})
    assert refused.status_code == 400
    assert "No tokens yet" in browser.get(TOKENS_PAGE).get_data(as_text=True)
    unnamed = browser.post(
        TOKENS_PAGE, data={"csrf_token": csrf_token(browser, TOKENS_PAGE), "name": "  "}
    )
    assert unnamed.status_code == 400
    assert "Name the token" in unnamed.get_data(as_text=True)
    assert NEW_TOKEN_RE.search(unnamed.get_data(as_text=True)) is None


def test_revoking_on_the_page_stops_the_token_at_once(app: Flask, api_org) -> None:
    a = api_org()
    api = app.test_client()
    assert call(api, "GET", "/api/v1/documents", a.token).status_code == 200
    (revoke_path,) = REVOKE_RE.findall(a.browser.get(TOKENS_PAGE).get_data(as_text=True))

    without_csrf = a.browser.post(revoke_path)
    assert without_csrf.status_code == 400
    assert call(api, "GET", "/api/v1/documents", a.token).status_code == 200

    revoked = a.browser.post(revoke_path, data={"csrf_token": csrf_token(a.browser, TOKENS_PAGE)})
    assert revoked.status_code == 302
    page = a.browser.get(TOKENS_PAGE).get_data(as_text=True)
    assert "revoked" in page
    assert REVOKE_RE.search(page) is None  # no revoke button left for it

    refused = call(api, "GET", "/api/v1/documents", a.token)
    assert_error(refused, 401, "invalid_token")
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")


def test_another_organizations_token_cannot_be_revoked(app: Flask, api_org) -> None:
    a, b = api_org(), api_org()
    (a_revoke,) = REVOKE_RE.findall(a.browser.get(TOKENS_PAGE).get_data(as_text=True))
    response = b.browser.post(a_revoke, data={"csrf_token": csrf_token(b.browser, TOKENS_PAGE)})
    assert response.status_code == 404
    assert call(app.test_client(), "GET", "/api/v1/documents", a.token).status_code == 200


def test_members_manage_their_own_tokens_and_owners_manage_all(
    app: Flask, api_org, login_as
) -> None:
    a = api_org()
    tag = uuid.uuid4().hex[:8]
    member = OrgFixture(a.org.org_id, uuid.uuid4(), f"member-{tag}@example.com", "pw-member-1", "")
    with app.app_context(), tenant_context(a.org.org_id):
        db.session.add(
            User(
                id=member.user_id,
                email=member.email,
                name=f"Member {tag}",
                password_hash=hasher.hash(member.password),
                role="member",
            )
        )
        db.session.commit()
        db.session.remove()
    member_browser = login_as(member)
    member_page = member_browser.get(TOKENS_PAGE).get_data(as_text=True)
    assert "No tokens yet" in member_page  # the owner's token is not the member's to see
    member_token = create_token_on_page(member_browser, "member script")
    (own_revoke,) = REVOKE_RE.findall(member_browser.get(TOKENS_PAGE).get_data(as_text=True))

    owner_page = a.browser.get(TOKENS_PAGE).get_data(as_text=True)
    assert "member script" in owner_page and f"Member {tag}" in owner_page
    owner_revokes = REVOKE_RE.findall(owner_page)
    assert own_revoke in owner_revokes and len(owner_revokes) == 2
    (owners_revoke,) = set(owner_revokes) - {own_revoke}

    api = app.test_client()
    as_member = member_browser.post(
        owners_revoke, data={"csrf_token": csrf_token(member_browser, TOKENS_PAGE)}
    )
    assert as_member.status_code == 404
    assert call(api, "GET", "/api/v1/documents", a.token).status_code == 200
    as_owner = a.browser.post(own_revoke, data={"csrf_token": csrf_token(a.browser, TOKENS_PAGE)})
    assert as_owner.status_code == 302
    assert_error(call(api, "GET", "/api/v1/documents", member_token), 401, "invalid_token")


# --- Documents through the API ----------------------------------------------------------


def test_upload_get_download_search_delete(app: Flask, api_org) -> None:
    a = api_org()
    api = app.test_client()
    word = "zq" + uuid.uuid4().hex[:10]
    content = minutes_with(word)

    created = api_upload(api, a.token, (content, f"Minutes {word}.txt"))
    assert created.status_code == 202, created.get_data(as_text=True)
    document = created.get_json()
    assert document["status"] == "queued" and document["progress"] == 0
    assert document["filename"] == f"Minutes {word}.txt"
    assert word in document["title"]
    assert document["type"] == "txt" and document["size_bytes"] == len(content)
    assert created.headers["Location"] == f"/api/v1/documents/{document['id']}"

    before = call(api, "GET", created.headers["Location"], a.token).get_json()
    assert before["status"] == "queued" and before["digest"] is None

    assert process_now(app, a.org.org_id, document["id"]) == "done"
    after = call(api, "GET", f"/api/v1/documents/{document['id']}", a.token)
    assert after.status_code == 200
    detail = after.get_json()
    assert detail["status"] == "done" and detail["progress"] == 100 and detail["error"] is None
    assert detail["word_count"] > 100 and detail["processed_at"]
    assert detail["digest"]["summary"] and detail["digest"]["action_items"]

    download = call(api, "GET", f"/api/v1/documents/{document['id']}/download", a.token)
    assert download.status_code == 200
    assert download.data == content
    assert download.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert word in download.headers["Content-Disposition"]
    assert download.headers["X-Content-Type-Options"] == "nosniff"

    found = call(api, "GET", "/api/v1/search", a.token, query_string={"q": word})
    assert found.status_code == 200
    (hit,) = found.get_json()["results"]
    assert hit["id"] == document["id"] and hit["rank"] > 0
    assert f"<mark>{word}</mark>" in hit["snippet_html"]

    deleted = call(api, "DELETE", f"/api/v1/documents/{document['id']}", a.token)
    assert deleted.status_code == 204 and deleted.data == b""
    assert_error(call(api, "GET", f"/api/v1/documents/{document['id']}", a.token), 404, "not_found")
    gone = call(api, "GET", f"/api/v1/documents/{document['id']}/download", a.token)
    assert_error(gone, 404, "not_found")
    again = call(api, "DELETE", f"/api/v1/documents/{document['id']}", a.token)
    assert_error(again, 404, "not_found")
    search_after = call(api, "GET", "/api/v1/search", a.token, query_string={"q": word})
    assert search_after.get_json()["results"] == []


def test_several_file_parts_get_one_result_each(app: Flask, api_org) -> None:
    a = api_org()
    api = app.test_client()
    good = minutes_with("zq" + uuid.uuid4().hex[:10])
    response = api_upload(api, a.token, (good, "one.txt"), (b"", "empty.txt"))
    assert response.status_code == 202
    accepted, refused = response.get_json()["results"]
    assert accepted["http_status"] == 202 and accepted["filename"] == "one.txt"
    document = accepted["document"]
    assert document["status"] == "queued" and document["filename"] == "one.txt"
    assert call(api, "GET", document["url"], a.token).get_json()["id"] == document["id"]
    assert refused["http_status"] == 400 and refused["error"]["code"] == "empty_file"
    assert refused["filename"] == "empty.txt" and "document" not in refused

    both_bad = api_upload(api, a.token, (good, "copy.txt"), (b"", "empty.txt"))
    assert both_bad.status_code == 409
    codes = [r["error"]["code"] for r in both_bad.get_json()["results"]]
    assert codes == ["duplicate", "empty_file"]


def test_list_pages_through_every_document_newest_first(app: Flask, api_org) -> None:
    a = api_org()
    api = app.test_client()
    uploaded = set()
    for n in range(5):
        response = api_upload(api, a.token, (minutes_with(f"zqpage{n}{uuid.uuid4().hex}"), "m.txt"))
        assert response.status_code == 202
        uploaded.add(response.get_json()["id"])

    seen: list[dict] = []
    pages = 0
    cursor = None
    while True:
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        response = call(api, "GET", "/api/v1/documents", a.token, query_string=query)
        assert response.status_code == 200
        body = response.get_json()
        assert len(body["documents"]) <= 2
        seen += body["documents"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    ids = [d["id"] for d in seen]
    assert len(ids) == len(set(ids)) and set(ids) == uploaded
    keys = [(datetime.fromisoformat(d["created_at"]), uuid.UUID(d["id"])) for d in seen]
    assert keys == sorted(keys, reverse=True)

    everything = call(api, "GET", "/api/v1/documents", a.token).get_json()
    assert [d["id"] for d in everything["documents"]] == ids
    assert everything["next_cursor"] is None
    capped = call(api, "GET", "/api/v1/documents", a.token, query_string={"limit": 1000})
    assert len(capped.get_json()["documents"]) == 5


# --- Errors -----------------------------------------------------------------------------


def test_upload_errors_have_their_status_and_code(
    app: Flask, api_org, owner_engine: Engine
) -> None:
    a = api_org()
    api = app.test_client()
    original = minutes_with("zq" + uuid.uuid4().hex[:10])
    first = api_upload(api, a.token, (original, "original.txt"))
    assert first.status_code == 202

    duplicate = api_upload(api, a.token, (original, "again.txt"))
    assert assert_error(duplicate, 409, "duplicate")["document_id"] == first.get_json()["id"]
    assert_error(api_upload(api, a.token, (b"", "empty.txt")), 400, "empty_file")
    program = (FIXTURES / "bad" / "program.pdf").read_bytes()
    unsupported = assert_error(
        api_upload(api, a.token, (program, "x.pdf")), 415, "unsupported_type"
    )
    assert "executable" in unsupported["message"]
    no_file = call(
        api,
        "POST",
        "/api/v1/documents",
        a.token,
        data={"x": "y"},
        content_type="multipart/form-data",
    )
    assert_error(no_file, 400, "no_file")
    assert_error(call(api, "POST", "/api/v1/documents", a.token), 400, "no_file")

    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE organizations SET quota_overrides = :o WHERE id = :id"),
            {"o": json.dumps({"max_file_bytes": 1024}), "id": a.org.org_id},
        )
    too_large = api_upload(api, a.token, (b"x" * 1025, "big.txt"))
    assert "1 KB" in assert_error(too_large, 413, "file_too_large")["message"]

    listed = call(api, "GET", "/api/v1/documents", a.token).get_json()["documents"]
    assert [d["id"] for d in listed] == [first.get_json()["id"]]  # nothing else was stored


def test_request_body_over_the_app_limit_is_json_413(app: Flask, api_org, monkeypatch) -> None:
    a = api_org()
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2000)
    response = api_upload(app.test_client(), a.token, (b"y" * 5000, "big.txt"))
    assert_error(response, 413, "file_too_large")


@pytest.mark.parametrize(
    ("method", "path", "query", "status", "code"),
    [
        ("GET", "/api/v1/documents", {"cursor": "not-a-cursor"}, 400, "bad_cursor"),
        ("GET", "/api/v1/documents", {"cursor": "MjAyNy0wMy0wMQ"}, 400, "bad_cursor"),
        ("GET", "/api/v1/documents", {"limit": "zero"}, 400, "bad_limit"),
        ("GET", "/api/v1/documents", {"limit": "0"}, 400, "bad_limit"),
        ("GET", "/api/v1/documents/not-a-uuid", {}, 404, "not_found"),
        ("GET", f"/api/v1/documents/{uuid.uuid4()}", {}, 404, "not_found"),
        ("GET", f"/api/v1/documents/{uuid.uuid4()}/download", {}, 404, "not_found"),
        ("DELETE", f"/api/v1/documents/{uuid.uuid4()}", {}, 404, "not_found"),
        ("DELETE", "/api/v1/documents/12345", {}, 404, "not_found"),
        ("GET", "/api/v1/search", {}, 400, "missing_query"),
        ("GET", "/api/v1/search", {"q": "x", "status": "nope"}, 400, "bad_filter"),
        ("GET", "/api/v1/search", {"q": "x", "type": "exe"}, 400, "bad_filter"),
        ("GET", "/api/v1/no-such-thing", {}, 404, "not_found"),
        ("PUT", "/api/v1/search", {}, 405, "method_not_allowed"),
        ("PATCH", f"/api/v1/documents/{uuid.uuid4()}", {}, 405, "method_not_allowed"),
    ],
)
def test_bad_requests_get_json_errors(app: Flask, api_org, method, path, query, status, code):  # type: ignore[no-untyped-def]
    a = api_org()
    response = call(app.test_client(), method, path, a.token, query_string=query)
    assert_error(response, status, code)
    if status == 405:
        assert "GET" in response.headers["Allow"]


def test_routing_errors_outside_the_api_stay_html(client: FlaskClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


# --- Authentication ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "unauthorized"),
        ("Basic dXNlcjpwYXNz", "unauthorized"),
        ("Bearer", "unauthorized"),
        ("Bearer not-a-token", "invalid_token"),
        (f"Bearer pmdi_{uuid.uuid4().hex}_{uuid.uuid4().hex}_guess", "invalid_token"),
    ],
)
def test_missing_or_invalid_tokens_get_401(app: Flask, header, code) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": header} if header else {}
    response = app.test_client().get("/api/v1/documents", headers=headers)
    assert_error(response, 401, code)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_secret_for_a_real_token_is_refused(app: Flask, api_org) -> None:
    a = api_org()
    forged = "_".join(a.token.split("_", 3)[:3]) + "_" + "A" * 43
    assert_error(call(app.test_client(), "GET", "/api/v1/documents", forged), 401, "invalid_token")


def test_a_session_cookie_does_not_authenticate_the_api(app: Flask, api_org) -> None:
    """Could a page on another site drive the API with a signed-in member's cookie? No."""
    a = api_org()
    assert a.browser.get(TOKENS_PAGE).status_code == 200  # the cookie is a live session
    assert_error(a.browser.get("/api/v1/documents"), 401, "unauthorized")
    upload = a.browser.post(
        "/api/v1/documents",
        data={"file": (io.BytesIO(minutes_with("zqcookie")), "c.txt")},
        content_type="multipart/form-data",
    )
    assert_error(upload, 401, "unauthorized")
    listed = call(app.test_client(), "GET", "/api/v1/documents", a.token).get_json()
    assert listed["documents"] == []  # nothing was stored


def test_the_token_not_the_cookie_decides_the_organization(app: Flask, api_org) -> None:
    a, b = api_org(), api_org()
    api = app.test_client()
    a_doc = api_upload(api, a.token, (minutes_with("zq" + uuid.uuid4().hex), "a.txt")).get_json()
    # A's browser session, but B's token: the call acts as B and sees none of A's documents.
    as_b = call(a.browser, "GET", "/api/v1/documents", b.token)
    assert as_b.status_code == 200 and as_b.get_json()["documents"] == []
    assert_error(
        call(a.browser, "GET", f"/api/v1/documents/{a_doc['id']}", b.token), 404, "not_found"
    )


def test_an_api_call_never_loads_the_cookies_member(app: Flask, api_org, monkeypatch) -> None:
    """With a live session cookie and a token, the API acts as the token and reads nothing of
    the cookie's member (no user row for nothing, no tenant context from it)."""
    from webapp.extensions import login_manager

    a, b = api_org(), api_org()
    loaded: list[str] = []
    load_user = login_manager._user_callback
    monkeypatch.setattr(
        login_manager,
        "_user_callback",
        lambda identity: loaded.append(identity) or load_user(identity),
    )
    assert a.browser.get(TOKENS_PAGE).status_code == 200
    assert loaded  # a page loads the signed-in member from the cookie
    loaded.clear()
    assert call(a.browser, "GET", "/api/v1/documents", b.token).status_code == 200
    assert_error(a.browser.get("/api/v1/documents"), 401, "unauthorized")
    assert loaded == []


def test_a_suspended_organizations_token_is_refused(
    app: Flask, api_org, owner_engine: Engine
) -> None:
    a = api_org()
    api = app.test_client()
    assert call(api, "GET", "/api/v1/documents", a.token).status_code == 200
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE organizations SET status = 'suspended' WHERE id = :id"),
            {"id": a.org.org_id},
        )
    assert_error(call(api, "GET", "/api/v1/documents", a.token), 403, "organization_suspended")


# --- Isolation --------------------------------------------------------------------------


def test_another_organizations_token_sees_nothing_of_ours(app: Flask, populate_org) -> None:
    a, b = populate_org(), populate_org()
    api = app.test_client()
    a_doc = f"/api/v1/documents/{a.document_id}"

    for method, path in [("GET", a_doc), ("GET", f"{a_doc}/download"), ("DELETE", a_doc)]:
        response = call(api, method, path, b.api_token)
        assert_error(response, 404, "not_found")
        assert a.secret_word not in response.get_data(as_text=True)

    b_search = call(api, "GET", "/api/v1/search", b.api_token, query_string={"q": a.secret_word})
    assert b_search.status_code == 200 and b_search.get_json()["results"] == []
    b_list = call(api, "GET", "/api/v1/documents", b.api_token).get_json()["documents"]
    assert [d["id"] for d in b_list] == [b.document_id]

    # A's document survived B's DELETE, and A still finds its own word.
    assert call(api, "GET", a_doc, a.api_token).get_json()["status"] == "done"
    a_search = call(api, "GET", "/api/v1/search", a.api_token, query_string={"q": a.secret_word})
    assert [hit["id"] for hit in a_search.get_json()["results"]] == [a.document_id]
