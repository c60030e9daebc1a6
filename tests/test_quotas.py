"""Hard quotas in PostgreSQL: counted in the upload's transaction, race-free, on the usage page."""

from __future__ import annotations

import html
import io
import json
import threading
import uuid
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from tests.conftest import csrf_token, login, make_app, upload, uploaded_ids
from webapp import quotas
from webapp.extensions import db
from webapp.tenancy import tenant_context

# Rate limits high enough that they never stand in for a hard quota in these tests.
NO_RATE_LIMITS = {
    "requests_per_minute": 1_000_000,
    "token_requests_per_minute": 1_000_000,
    "page_requests_per_minute": 1_000_000,
    "user_requests_per_minute": 1_000_000,
    "uploads_per_hour": 1_000_000,
}


def document(tag: str = "", size: int = 0) -> bytes:
    """A small distinct text document (padded to ``size`` bytes when asked)."""
    body = f"Minutes {tag} {uuid.uuid4().hex}\nAction: Ana to send the plan by Friday.\n"
    return body.encode().ljust(size, b".") if size else body.encode()


def set_overrides(owner_engine, org_id, **limits) -> None:
    """Override the organization's limits (as a platform admin would)."""
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE organizations SET quota_overrides = CAST(:o AS jsonb) WHERE id = :id"),
            {"o": json.dumps({**NO_RATE_LIMITS, **limits}), "id": org_id},
        )


def usage_rows(owner_engine, org_id) -> dict[str, object]:
    """The organization's counters and what its documents really hold, read past RLS."""
    with owner_engine.connect() as conn:
        q = {"o": org_id}
        return {
            "storage": conn.scalar(
                text("SELECT storage_bytes FROM usage_totals WHERE organization_id = :o"), q
            ),
            "months": dict(
                conn.execute(
                    text("SELECT period, documents_uploaded FROM usage WHERE organization_id = :o"),
                    q,
                ).all()
            ),
            "documents": conn.scalar(
                text("SELECT count(*) FROM documents WHERE organization_id = :o"), q
            ),
            "bytes": conn.scalar(
                text(
                    "SELECT coalesce(sum(size_bytes), 0) FROM documents WHERE organization_id = :o"
                ),
                q,
            ),
            "blobs": conn.scalar(
                text(
                    "SELECT count(DISTINCT document_id) FROM document_blobs "
                    "WHERE organization_id = :o"
                ),
                q,
            ),
            "outbox": conn.scalar(
                text("SELECT count(*) FROM outbox WHERE organization_id = :o"), q
            ),
        }


def this_month() -> date:
    return quotas.current_period()


@pytest.fixture
def org(make_org, owner_engine):
    made = make_org()
    set_overrides(owner_engine, made.org_id)
    return made


@pytest.fixture
def client(org, login_as) -> FlaskClient:
    return login_as(org)


def body_of(response) -> str:
    """The page's text, entities decoded (Jinja writes ' as &#39;)."""
    return html.unescape(response.get_data(as_text=True))


def test_an_upload_counts_a_document_and_its_bytes(client, org, owner_engine):
    content = document()
    assert upload(client, (content, "a.txt")).status_code == 200
    rows = usage_rows(owner_engine, org.org_id)
    assert rows["storage"] == len(content) == rows["bytes"]
    assert rows["months"] == {this_month(): 1}


def test_a_duplicate_upload_counts_nothing(client, org, owner_engine):
    content = document()
    assert upload(client, (content, "a.txt")).status_code == 200
    again = upload(client, (content, "copy of a.txt"))
    assert "already uploaded" in body_of(again)
    rows = usage_rows(owner_engine, org.org_id)
    assert (rows["storage"], rows["months"], rows["documents"]) == (
        len(content),
        {this_month(): 1},
        1,
    )


def test_documents_per_month_quota_names_the_quota_and_the_plan_that_lifts_it(
    client, org, owner_engine
):
    set_overrides(owner_engine, org.org_id, documents_per_month=2)
    for n in range(2):
        assert upload(client, (document(str(n)), f"{n}.txt")).status_code == 200
    before = usage_rows(owner_engine, org.org_id)
    refused = upload(client, (document("3"), "third.txt"))
    page = body_of(refused)
    assert refused.status_code == 400  # the upload page: every file was refused
    assert (
        "Your organization has used all 2 documents of this month on the Free plan, "
        "so “third.txt” was not uploaded. The Pro plan allows 500."
    ) in page
    assert usage_rows(owner_engine, org.org_id) == before  # nothing partly stored


def test_storage_quota_refuses_what_does_not_fit(client, org, owner_engine):
    set_overrides(owner_engine, org.org_id, storage_bytes=3000)
    first = document("first", size=2000)
    assert upload(client, (first, "first.txt")).status_code == 200
    before = usage_rows(owner_engine, org.org_id)
    refused = upload(client, (document("second", size=1500), "second.txt"))
    page = body_of(refused)
    assert "“second.txt” (1.5 KB) does not fit in your organization's storage" in page
    assert "2.0 KB of the 2.9 KB the Free plan allows are used" in page
    assert "The Pro plan allows 50 GB." in page
    assert usage_rows(owner_engine, org.org_id) == before
    assert before["storage"] == 2000


def test_the_api_refuses_over_quota_with_403_and_the_same_message(app: Flask, org, owner_engine):
    from webapp.api import tokens
    from webapp.models import User

    set_overrides(owner_engine, org.org_id, documents_per_month=0)
    with app.app_context(), tenant_context(org.org_id):
        issued = tokens.create_token(db.session.get(User, (org.org_id, org.user_id)), "quota")
        db.session.remove()
    response = app.test_client().post(
        "/api/v1/documents",
        headers={"Authorization": f"Bearer {issued.plaintext}"},
        data={"file": (io.BytesIO(document()), "x.txt")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403
    error = response.get_json()["error"]
    assert error["code"] == "quota_exceeded"
    assert error["message"].startswith(
        "Your organization has used all 0 documents of this month on the Free plan"
    )
    assert usage_rows(owner_engine, org.org_id)["documents"] == 0


def test_deleting_documents_frees_storage(client, org, owner_engine):
    set_overrides(owner_engine, org.org_id, storage_bytes=5000)
    big = document("big", size=3000)
    response = upload(client, (big, "big.txt"))
    (big_id,) = set(uploaded_ids(response))
    assert upload(client, (document("small", size=500), "small.txt")).status_code == 200
    # 3500 of 5000 used: another 3000 does not fit...
    assert "does not fit" in body_of(upload(client, (document("next", size=3000), "n.txt")))
    token = csrf_token(client, f"/documents/{big_id}")
    deleted = client.post(f"/documents/{big_id}/delete", data={"csrf_token": token})
    assert deleted.status_code == 302
    # In the trash its bytes are still held and still counted (webapp/documents/trash.py)...
    assert usage_rows(owner_engine, org.org_id)["storage"] == 3500
    assert "does not fit" in body_of(upload(client, (document("next", size=3000), "n.txt")))
    # ...until it is deleted for good.
    token = csrf_token(client, "/documents/trash")
    purged = client.post(f"/documents/trash/{big_id}/purge", data={"csrf_token": token})
    assert purged.status_code == 302
    rows = usage_rows(owner_engine, org.org_id)
    assert rows["storage"] == 500 == rows["bytes"]
    # ...until the big one is deleted. The month's upload count is not given back.
    assert upload(client, (document("next", size=3000), "n.txt")).status_code == 200
    rows = usage_rows(owner_engine, org.org_id)
    assert rows["storage"] == 3500 == rows["bytes"]
    assert rows["months"] == {this_month(): 3}


def test_last_months_row_does_not_count_and_a_new_month_starts_at_zero(
    client, org, owner_engine, monkeypatch
):
    set_overrides(owner_engine, org.org_id, documents_per_month=2)
    current = this_month()
    last = date(current.year - (current.month == 1), (current.month - 2) % 12 + 1, 1)
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO usage (organization_id, period, documents_uploaded) VALUES (:o, :p, 2)"
            ),
            {"o": org.org_id, "p": last},
        )
    for n in range(2):
        assert upload(client, (document(str(n)), f"{n}.txt")).status_code == 200
    assert "used all 2 documents" in body_of(upload(client, (document(), "over.txt")))

    following = date(current.year + (current.month == 12), current.month % 12 + 1, 1)
    monkeypatch.setattr(quotas, "current_period", lambda now=None: following)
    assert upload(client, (document("next"), "next.txt")).status_code == 200
    rows = usage_rows(owner_engine, org.org_id)
    assert rows["months"] == {last: 2, current: 2, following: 1}


def _post_upload(client: FlaskClient, token: str, content: bytes, name: str):  # type: ignore[no-untyped-def]
    fields = MultiDict(
        [("csrf_token", token), ("files", FileStorage(io.BytesIO(content), filename=name))]
    )
    boundary, body = encode_multipart(fields)
    return client.post(
        "/documents/upload", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )


@pytest.mark.parametrize("quota", ["documents_per_month", "storage_bytes"])
def test_twenty_concurrent_uploads_with_five_left_admit_exactly_five(
    services, make_org, owner_engine, quota
):
    """Do 20 uploads at the same instant overshoot a quota with 5 left? (They must not.)"""
    race_app = make_app(services, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 25, "max_overflow": 5})
    org = make_org()
    size = 1000
    # 3 documents already uploaded, room for exactly 5 more of `size` bytes.
    limits = (
        {"documents_per_month": 8}
        if quota == "documents_per_month"
        else {"storage_bytes": 8 * size + size // 2}
    )
    set_overrides(owner_engine, org.org_id, **limits)
    first = race_app.test_client()
    assert login(first, org.email, org.password).status_code == 302
    for n in range(3):
        assert upload(first, (document(f"pre{n}", size=size), f"pre{n}.txt")).status_code == 200

    cookie = first.get_cookie("session")
    assert cookie is not None
    clients = []
    for _ in range(20):
        c = race_app.test_client()
        c.set_cookie("session", cookie.value)
        clients.append((c, csrf_token(c, "/documents/upload")))
    barrier = threading.Barrier(len(clients))
    results: list[tuple[int, str] | BaseException] = [None] * len(clients)  # type: ignore[list-item]

    def run(i: int) -> None:
        c, token = clients[i]
        content = document(f"race{i}", size=size)
        try:
            barrier.wait(timeout=30)
            response = _post_upload(c, token, content, f"race{i}.txt")
            results[i] = (response.status_code, body_of(response))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not [r for r in results if isinstance(r, BaseException)], results
    accepted = [body for status, body in results if "Uploaded; processing has started." in body]
    refused = [body for status, body in results if status == 400]
    message = (
        "Your organization has used all 8 documents of this month on the Free plan"
        if quota == "documents_per_month"
        else "does not fit in your organization's storage"
    )
    assert len(accepted) == 5
    assert len(refused) == 15
    assert all(message in body for body in refused)
    rows = usage_rows(owner_engine, org.org_id)
    assert rows["documents"] == rows["blobs"] == rows["outbox"] == 8
    assert rows["storage"] == rows["bytes"] == 8 * size
    assert rows["months"] == {this_month(): 8}


def test_check_members_refuses_past_the_plan(app: Flask, org, owner_engine):
    set_overrides(owner_engine, org.org_id, members=2)
    with app.app_context(), tenant_context(org.org_id):
        quotas.check_members(1)  # the owner plus one fits
        db.session.rollback()
        with pytest.raises(quotas.QuotaExceeded) as refused:
            quotas.check_members(2)
        db.session.rollback()
        db.session.remove()
    assert refused.value.code == "quota_exceeded" and refused.value.status == 403
    assert refused.value.message == (
        "Your organization has 1 of the 2 members the Free plan allows. The Pro plan allows 20."
    )


def test_usage_page_shows_every_meter_and_warns_from_80_percent(client, org, owner_engine):
    set_overrides(owner_engine, org.org_id, documents_per_month=5, storage_bytes=1_000_000)
    for n in range(4):
        assert upload(client, (document(str(n)), f"{n}.txt")).status_code == 200
    page = client.get("/settings/usage")
    assert page.status_code == 200
    page_html = body_of(page)
    assert '<tr id="meter-documents_per_month" class="warn">' in page_html
    assert "Nearly full" in page_html and "(80 % used)" in page_html
    assert '<tr id="meter-storage_bytes" class="ok">' in page_html
    assert '<tr id="meter-members" class="ok">' in page_html
    assert "<td>4</td>" in page_html and "<td>5</td>" in page_html  # documents used / limit
    assert "Each file may be up to 10 MB." in page_html
    assert "1,000,000 per minute" in page_html and "1,000,000 per hour" in page_html
    assert 'href="/settings/usage"' in page_html  # the nav links to it


def test_usage_page_needs_log_in(app: Flask):
    response = app.test_client().get("/settings/usage")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_usage_page_shows_only_the_own_organizations_usage(make_org, login_as, owner_engine):
    a, b = make_org(), make_org()
    set_overrides(owner_engine, a.org_id, documents_per_month=777, storage_bytes=987_654_321)
    client_a = login_as(a)
    assert upload(client_a, (document("a", size=4321), "a.txt")).status_code == 200
    assert "777" in body_of(client_a.get("/settings/usage"))
    page_b = body_of(login_as(b).get("/settings/usage"))
    assert "777" not in page_b and "941.9 MB" not in page_b and "4.2 KB" not in page_b
    assert a.name not in page_b and b.name in page_b
    assert '<tr id="meter-documents_per_month" class="ok">' in page_b


def test_usage_page_shows_the_current_rate_limit_windows(services, make_org, owner_engine):
    """With the limiter on, does the page show the windows' current counts against the plan?"""
    limited_app = make_app(services, RATELIMIT_ENABLED=True)
    org = make_org()
    set_overrides(owner_engine, org.org_id, page_requests_per_minute=50, uploads_per_hour=5)
    client = limited_app.test_client()
    assert login(client, org.email, org.password).status_code == 302
    for n in range(4):
        assert upload(client, (document(str(n)), f"{n}.txt")).status_code == 200
    page = body_of(client.get("/settings/usage"))
    uploads = page.split('<tr id="rate-uploads_per_hour"', 1)[1].split("</tr>", 1)[0]
    assert uploads.startswith(' class="warn"')  # 4 of 5: 80 %
    assert "<td>4</td>" in uploads and "5 per hour" in uploads and "(80 % used)" in uploads
    requests = page.split('<tr id="rate-page_requests_per_minute"', 1)[1].split("</tr>", 1)[0]
    assert "50 per minute" in requests
    # Every page the client opened counted (upload forms, posts, this page), never above 50.
    used = int(requests.split("<td>", 1)[1].split("</td>", 1)[0].replace(",", ""))
    assert 9 <= used <= 50
