"""Rate limits on the real Redis: headers, 429 pages and JSON, uploads, live changes, fail-open.

The concurrency and live-change tests run against gunicorn (2 processes, 8 threads each) on the
test database, so the limit is shared by processes exactly as in production. Every test uses
its own organization (and its own client address), so nothing here collides with other runs
sharing the Redis database.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.conftest import (
    ROOT,
    TEST_QUEUE,
    OrgFixture,
    Services,
    csrf_token,
    login,
    make_app,
    statements_on,
    upload,
)
from tests.test_browser import _free_port
from webapp.extensions import db


@pytest.fixture(scope="module")
def limited_app(services: Services) -> Flask:
    """The app with request limits on (the suite's default app has them off).

    The burst window is off here, so these tests see the minute window alone; it has its own.
    """
    return make_app(services, RATELIMIT_ENABLED=True, RATELIMIT_BURST_SECONDS=0)


def unique_address() -> str:
    """A client address of the documentation range no other test uses."""
    tag = uuid.uuid4().int
    return f"198.51.{tag % 250}.{(tag >> 8) % 250 + 1}"


def client_for(app: Flask, org: OrgFixture | None = None) -> FlaskClient:
    """A test client on its own address, logged in as ``org``'s owner when given."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = unique_address()
    if org is not None:
        assert login(client, org.email, org.password).status_code == 302
    return client


def set_overrides(owner_engine: Engine, org: OrgFixture, **limits: int) -> None:
    """Override the organization's limits as the owner role (what a platform admin does)."""
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE organizations SET quota_overrides = CAST(:o AS jsonb) WHERE id = :id"),
            {"o": json.dumps(limits), "id": org.org_id},
        )


@contextmanager
def own_plan(owner_engine: Engine, org: OrgFixture, requests_per_minute: int) -> Iterator[str]:
    """A plan of the organization's own, copied from free; removed afterwards (plans are
    shared by the whole run: a leftover would become "the plan that lifts" a quota in other
    tests' messages)."""
    plan_id = f"t-{uuid.uuid4().hex[:12]}"
    with owner_engine.begin() as conn:
        conn.execute(text("CREATE TEMP TABLE new_plan AS SELECT * FROM plans WHERE id = 'free'"))
        conn.execute(
            text("UPDATE new_plan SET id = :id, name = :id, requests_per_minute = :n"),
            {"id": plan_id, "n": requests_per_minute},
        )
        conn.execute(text("INSERT INTO plans SELECT * FROM new_plan"))
        conn.execute(text("DROP TABLE new_plan"))
        conn.execute(
            text("UPDATE organizations SET plan_id = :p WHERE id = :id"),
            {"p": plan_id, "id": org.org_id},
        )
    try:
        yield plan_id
    finally:
        with owner_engine.begin() as conn:
            conn.execute(
                text("UPDATE organizations SET plan_id = 'free' WHERE id = :id"),
                {"id": org.org_id},
            )
            conn.execute(text("DELETE FROM plans WHERE id = :p"), {"p": plan_id})


def set_plan_limit(owner_engine: Engine, plan_id: str, requests_per_minute: int) -> None:
    """Change a plan's own row, as an admin would."""
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE plans SET requests_per_minute = :n WHERE id = :p"),
            {"n": requests_per_minute, "p": plan_id},
        )


def api_token(app: Flask, org: OrgFixture) -> str:
    """A new API token acting as the organization's owner."""
    from webapp.api import tokens
    from webapp.models import User
    from webapp.tenancy import tenant_context

    with app.app_context(), tenant_context(org.org_id):
        issued = tokens.create_token(db.session.get(User, (org.org_id, org.user_id)), "ratelimit")
        db.session.remove()
    return issued.plaintext


def api_client(
    app: Flask, owner_engine: Engine, org: OrgFixture, requests_per_minute: int
) -> tuple[FlaskClient, str, dict[str, str]]:
    """A client, an API token of ``org`` and its header, under a limit already announced."""
    token = api_token(app, org)
    set_overrides_and_wait(app, owner_engine, org, requests_per_minute=requests_per_minute)
    return client_for(app), token, {"Authorization": f"Bearer {token}"}


# --- headers, pages and JSON --------------------------------------------------------------


def test_headers_on_every_limited_response_and_a_friendly_429_page(
    limited_app, make_org, owner_engine
):
    org = make_org()
    client = client_for(limited_app, org)
    set_overrides(owner_engine, org, page_requests_per_minute=3)
    for expected_remaining in (2, 1, 0):
        response = client.get("/documents")
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "3"
        assert response.headers["X-RateLimit-Remaining"] == str(expected_remaining)
        assert int(response.headers["X-RateLimit-Reset"]) >= int(time.time())
    refused = client.get("/documents")
    assert refused.status_code == 429
    assert refused.mimetype == "text/html"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    page = refused.get_data(as_text=True)
    assert "limit of 3 page views per minute" in page and "Try again in" in page
    # A refused page loads itself again when the wait is over (a navigation, or a document
    # page reloading itself when processing ends, is never stuck on this page); a refused
    # form is not sent again by itself.
    retry_after = refused.headers["Retry-After"]
    assert f'<meta http-equiv="refresh" content="{retry_after}">' in page
    assert "loads again by itself" in page
    other = make_org()
    poster = client_for(limited_app, other)
    token = csrf_token(poster, "/documents")
    set_overrides(owner_engine, other, page_requests_per_minute=1)
    posted = poster.post("/documents/bulk", data={"action": "delete", "csrf_token": token})
    assert posted.status_code == 429
    assert 'http-equiv="refresh"' not in posted.get_data(as_text=True)
    # The progress poll asks for JSON, and gets it.
    polled = client.get("/documents/progress", headers={"Accept": "application/json"})
    assert polled.status_code == 429 and polled.json["error"]["code"] == "rate_limited"
    # Static files are never limited, and carry no rate-limit headers.
    static = client.get("/static/documents.js")
    static.close()
    assert static.status_code == 200 and "X-RateLimit-Limit" not in static.headers


def test_api_429_is_json_with_headers(limited_app, make_org, owner_engine):
    org = make_org()
    client, token, auth = api_client(limited_app, owner_engine, org, requests_per_minute=2)
    ok = client.get("/api/v1/documents", headers=auth)
    assert ok.status_code == 200 and ok.headers["X-RateLimit-Remaining"] == "1"
    client.get("/api/v1/documents", headers=auth)
    refused = client.get("/api/v1/documents", headers=auth)
    assert refused.status_code == 429
    assert refused.json["error"]["code"] == "rate_limited"
    assert "2 API requests per minute" in refused.json["error"]["message"]
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["X-RateLimit-Limit"] == "2"


COMMAND_NAME = re.compile(rb"\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n")


def count_redis_commands(
    monkeypatch: pytest.MonkeyPatch, sent: list[str] | None = None
) -> list[str]:
    """Every write the limiter's Redis connections make from now on — one round trip each,
    named by its commands ("EVALSHA", or "ZADD+EVALSHA" when pipelined) — appended to
    ``sent`` (a new list if none is given)."""
    import redis.connection

    from webapp.ratelimit import CLIENT_NAME

    sent = [] if sent is None else sent
    # AbstractConnection: TCP and unix-socket (the embedded Redis) connections alike. Every
    # command, alone or pipelined, is written by send_packed_command.
    real = redis.connection.AbstractConnection.send_packed_command

    def counting(connection: Any, command: Any, *args: Any, **options: Any) -> Any:
        if connection.client_name == CLIENT_NAME:  # not Celery's, publishing an upload
            packed = command if isinstance(command, bytes) else b"".join(command)
            sent.append("+".join(n.decode().upper() for n in COMMAND_NAME.findall(packed)))
        return real(connection, command, *args, **options)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    return sent


def checks(sent: list[str]) -> list[str]:
    """``sent`` with the once-a-minute mark of an active organization (webapp/load.py),
    pipelined in the same write as the check, left out of the names (not of the count)."""
    return [s.removeprefix("ZADD+") for s in sent]


def wait_for_limit_change(app: Flask, since: int | None) -> None:
    """Until this process's listener has read a NOTIFY pmdi_limits after ``since``."""
    changes = app.extensions["ratelimits"].remembered.changes
    deadline = time.monotonic() + 5
    while changes.poll() == since:
        assert time.monotonic() < deadline, "no NOTIFY pmdi_limits arrived"
        time.sleep(0.01)


def set_overrides_and_wait(
    app: Flask, owner_engine: Engine, org: OrgFixture, **limits: int
) -> None:
    """``set_overrides``, then wait until ``app``'s listener has read the change's NOTIFY.

    A test that counts on a remembered token must not have it forgotten midway by its own
    change arriving late (NOTIFY is delivered asynchronously).
    """
    changes = app.extensions["ratelimits"].remembered.changes
    with app.app_context():
        before = changes.poll()  # starts listening if need be; reads what has arrived
    set_overrides(owner_engine, org, **limits)
    wait_for_limit_change(app, before)


def test_a_refused_token_is_refused_again_without_the_database(
    limited_app, make_org, owner_engine, monkeypatch
):
    """Once refused, a token's next refusals cost one Redis command and no SQL at all."""
    org = make_org()
    client, token, auth = api_client(limited_app, owner_engine, org, requests_per_minute=2)
    assert [client.get("/api/v1/documents", headers=auth).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    sent = count_redis_commands(monkeypatch)
    with statements_on(limited_app) as statements:
        again = client.get("/api/v1/documents", headers=auth)
    assert statements == [] and checks(sent) == ["EVALSHA"]
    # The same answer as the first refusal: JSON, message, headers.
    assert again.status_code == 429 and again.json["error"]["code"] == "rate_limited"
    assert "2 API requests per minute" in again.json["error"]["message"]
    assert again.headers["X-RateLimit-Limit"] == "2"
    assert again.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(again.headers["Retry-After"]) <= 60
    assert again.headers["X-Content-Type-Options"] == "nosniff" and again.headers["X-Request-ID"]
    # Another token of the same organization is not remembered: looked up, then refused.
    other = {"Authorization": f"Bearer {api_token(limited_app, org)}"}
    with statements_on(limited_app) as statements:
        assert client.get("/api/v1/documents", headers=other).status_code == 429
    assert statements != []
    # A token that was never valid is still 401, even naming the same organization.
    forged = "_".join(token.split("_", 3)[:3] + ["x" * 43])
    assert (
        client.get("/api/v1/documents", headers={"Authorization": f"Bearer {forged}"}).status_code
        == 401
    )


def test_a_remembered_refusal_is_forgotten_when_a_limit_changes(
    limited_app, make_org, owner_engine
):
    """A raised override is announced by NOTIFY: the remembered refusal goes, the next passes."""
    org = make_org()
    client, token, auth = api_client(limited_app, owner_engine, org, requests_per_minute=1)
    assert [client.get("/api/v1/documents", headers=auth).status_code for _ in range(3)] == [
        200,
        429,
        429,
    ]
    changes = limited_app.extensions["ratelimits"].remembered.changes
    before = changes.poll()
    set_overrides(owner_engine, org, requests_per_minute=5)
    wait_for_limit_change(limited_app, before)
    with statements_on(limited_app) as statements:
        passed = client.get("/api/v1/documents", headers=auth)
    assert passed.status_code == 200 and passed.headers["X-RateLimit-Limit"] == "5"
    assert statements != []  # looked up again, not answered from memory
    # A plan's own row announces itself too.
    set_overrides(owner_engine, org)
    with own_plan(owner_engine, org, requests_per_minute=1) as plan_id:
        assert client.get("/api/v1/documents", headers=auth).status_code == 429  # remembered
        before = changes.poll()
        set_plan_limit(owner_engine, plan_id, 50)
        wait_for_limit_change(limited_app, before)
        passed = client.get("/api/v1/documents", headers=auth)
        assert passed.status_code == 200 and passed.headers["X-RateLimit-Limit"] == "50"


def test_a_known_tokens_check_is_sent_before_its_lookup_and_read_after(
    limited_app, make_org, owner_engine, monkeypatch
):
    """The Redis round trip overlaps the token lookup: EVALSHA goes out before any SQL."""
    org = make_org()
    client, token, auth = api_client(limited_app, owner_engine, org, requests_per_minute=4)
    assert client.get("/api/v1/documents", headers=auth).status_code == 200  # now remembered
    events: list[str] = []  # Redis commands and SQL statements, in the order they were sent
    count_redis_commands(monkeypatch, events)
    with statements_on(limited_app, events):
        responses = [client.get("/api/v1/documents", headers=auth) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in responses] == ["2", "1", "0", "0"]
    events = checks(events)
    assert events.count("EVALSHA") == 4  # one per request, no more
    assert events[0] == "EVALSHA" and any(e != "EVALSHA" for e in events[1:])  # then SQL


def test_a_revoked_token_charges_at_most_once_and_is_forgotten(
    limited_app, make_org, owner_engine, monkeypatch
):
    """Its early check was sent before the lookup found it revoked: read, dropped, forgotten.

    A revocation is announced (migration 0020), which forgets the token at once; this is the
    moment before its notification is read, so the revocation here is made unannounced
    (triggers off, which only a superuser can do)."""
    org = make_org()
    client, token, auth = api_client(limited_app, owner_engine, org, requests_per_minute=50)
    assert client.get("/api/v1/documents", headers=auth).status_code == 200
    token_id = token.split("_", 3)[2]
    with owner_engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(
            text("UPDATE api_tokens SET revoked_at = now() WHERE id = :id"), {"id": token_id}
        )
    sent = count_redis_commands(monkeypatch)
    assert [client.get("/api/v1/documents", headers=auth).status_code for _ in range(3)] == [
        401,
        401,
        401,
    ]
    assert checks(sent) == ["EVALSHA"]  # the first, sent early; the next two never remembered
    other = {"Authorization": f"Bearer {api_token(limited_app, org)}"}
    response = client.get("/api/v1/documents", headers=other)
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Remaining"] == str(50 - 3)  # 1 + the revoked one + this
    # The thread's connection is in step: each request reads its own reply.
    assert client.get("/api/v1/documents", headers=other).headers["X-RateLimit-Remaining"] == "46"


def test_an_announced_revocation_is_never_charged(limited_app, make_org, owner_engine, monkeypatch):
    """Revoked on the settings page (announced): forgotten before the next request, which is
    refused without an early check."""
    from webapp.api import tokens
    from webapp.tenancy import tenant_context

    org = make_org()
    client, token, auth = api_client(limited_app, owner_engine, org, requests_per_minute=50)
    assert client.get("/api/v1/documents", headers=auth).status_code == 200
    changes = limited_app.extensions["ratelimits"].remembered.changes
    before = changes.poll()
    with limited_app.app_context(), tenant_context(org.org_id):
        tokens.revoke_token(token.split("_", 3)[2], org.user_id)
        db.session.remove()
    wait_for_limit_change(limited_app, before)
    sent = count_redis_commands(monkeypatch)
    assert [client.get("/api/v1/documents", headers=auth).status_code for _ in range(3)] == [
        401,
        401,
        401,
    ]
    assert checks(sent) == []
    other = {"Authorization": f"Bearer {api_token(limited_app, org)}"}
    response = client.get("/api/v1/documents", headers=other)
    assert response.headers["X-RateLimit-Remaining"] == str(50 - 2)  # 1 + this


def test_a_remembered_refusal_lasts_at_most_the_configured_time(services, make_org, owner_engine):
    """With no change announced, the memory still ends: then the token is looked up again."""
    app = make_app(
        services, RATELIMIT_ENABLED=True, RATELIMIT_BURST_SECONDS=0, REFUSAL_MEMORY_SECONDS=0.3
    )
    org = make_org()
    client, token, auth = api_client(app, owner_engine, org, requests_per_minute=1)
    assert [client.get("/api/v1/documents", headers=auth).status_code for _ in range(2)] == [
        200,
        429,
    ]
    with statements_on(app) as statements:
        assert client.get("/api/v1/documents", headers=auth).status_code == 429
    assert statements == []
    time.sleep(0.35)
    with statements_on(app) as statements:
        assert client.get("/api/v1/documents", headers=auth).status_code == 429
    assert statements != []


def test_an_api_flood_never_refuses_the_pages(limited_app, make_org, owner_engine):
    """Issue 12: a script's flood on the API spends the API budget, not the pages'."""
    org = make_org()
    client = client_for(limited_app, org)
    token = api_token(limited_app, org)
    set_overrides(owner_engine, org, requests_per_minute=3, page_requests_per_minute=3)
    auth = {"Authorization": f"Bearer {token}"}
    flood = [client.get("/api/v1/documents", headers=auth).status_code for _ in range(6)]
    assert flood == [200, 200, 200, 429, 429, 429]
    pages = [client.get("/documents") for _ in range(3)]
    assert [p.status_code for p in pages] == [200, 200, 200]
    assert pages[0].headers["X-RateLimit-Remaining"] == "2"  # the page budget was untouched
    # Another organization is not affected by either.
    other = client_for(limited_app, make_org())
    assert other.get("/documents").status_code == 200


def test_a_page_flood_never_refuses_the_api(limited_app, make_org, owner_engine):
    """And the reverse: members spending the page budget leave the API's whole."""
    org = make_org()
    client = client_for(limited_app, org)
    token = api_token(limited_app, org)
    set_overrides(owner_engine, org, requests_per_minute=3, page_requests_per_minute=3)
    pages = [client.get("/documents").status_code for _ in range(5)]
    assert pages == [200, 200, 200, 429, 429]
    auth = {"Authorization": f"Bearer {token}"}
    api = [client.get("/api/v1/documents", headers=auth) for _ in range(3)]
    assert [r.status_code for r in api] == [200, 200, 200]
    assert api[0].headers["X-RateLimit-Remaining"] == "2"


def test_one_member_or_token_cannot_spend_the_whole_budget(limited_app, make_org, owner_engine):
    """Per member (pages) and per token (API) windows under the organization's budgets."""
    from tests.test_roles import PASSWORD, add_member

    org = make_org()
    set_overrides(
        owner_engine,
        org,
        page_requests_per_minute=10,
        user_requests_per_minute=2,
        requests_per_minute=10,
        token_requests_per_minute=2,
    )
    owner = client_for(limited_app, org)
    assert [owner.get("/documents").status_code for _ in range(3)] == [200, 200, 429]
    refused = owner.get("/documents")
    assert "your limit of 2 page views per minute" in refused.get_data(as_text=True)
    member = add_member(limited_app, org.org_id, "member")
    colleague = limited_app.test_client()
    colleague.environ_base["REMOTE_ADDR"] = unique_address()
    assert login(colleague, member.email, PASSWORD).status_code == 302
    assert colleague.get("/documents").status_code == 200  # the member's own window
    first = {"Authorization": f"Bearer {api_token(limited_app, org)}"}
    second = {"Authorization": f"Bearer {api_token(limited_app, org)}"}
    api = owner.application.test_client()
    assert [api.get("/api/v1/documents", headers=first).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    refused = api.get("/api/v1/documents", headers=first)
    assert "this token's limit of 2 requests per minute" in refused.json["error"]["message"]
    assert api.get("/api/v1/documents", headers=second).status_code == 200


def test_a_burst_may_not_spend_the_whole_minute(services, make_org, owner_engine):
    """Within the minute's 6, at most 3 in any 30 s (factor 1): the 4th waits for the burst."""
    app = make_app(
        services,
        RATELIMIT_ENABLED=True,
        RATELIMIT_BURST_SECONDS=30,
        RATELIMIT_BURST_FACTOR=1.0,
        RATELIMIT_BURST_MINIMUM=1,
    )
    org = make_org()
    client = client_for(app, org)
    set_overrides(owner_engine, org, page_requests_per_minute=6)
    responses = [client.get("/documents") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Limit"] for r in responses] == ["6", "6", "6", "3"]
    assert 1 <= int(responses[-1].headers["Retry-After"]) <= 30
    assert "3 requests in 30 s" in responses[-1].get_data(as_text=True)


def test_uploads_are_counted_per_file_on_page_and_api(limited_app, make_org, owner_engine):
    org = make_org()
    client = client_for(limited_app, org)
    token = api_token(limited_app, org)
    set_overrides(owner_engine, org, uploads_per_hour=3)
    files = [(f"notes {uuid.uuid4()}".encode(), f"n{i}.txt") for i in range(2)]
    accepted = upload(client, *files)
    assert accepted.status_code == 200
    assert accepted.headers["X-RateLimit-Limit"] != "3"  # the request window is reported
    # Two files more than the one left: refused whole, and nothing is charged.
    more = [(f"more {uuid.uuid4()}".encode(), f"m{i}.txt") for i in range(2)]
    refused = client.post(
        "/api/v1/documents",
        headers={"Authorization": f"Bearer {token}"},
        data={"file": [(io.BytesIO(c), n) for c, n in more]},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 429
    assert "3 uploaded files per hour" in refused.json["error"]["message"]
    assert refused.headers["X-RateLimit-Limit"] == "3"
    assert refused.headers["X-RateLimit-Remaining"] == "1"
    assert 3500 < int(refused.headers["Retry-After"]) <= 3600
    message = refused.json["error"]["message"]
    assert "set by the Free plan" not in message  # overridden: the organization's own
    assert "your organization's own setting" in message and "in about an hour" in message
    assert "seconds" not in message
    one = client.post(
        "/api/v1/documents",
        headers={"Authorization": f"Bearer {token}"},
        data={"file": (io.BytesIO(more[0][0]), more[0][1])},
        content_type="multipart/form-data",
    )
    assert one.status_code == 202
    assert upload(client, (b"one too many", "x.txt")).status_code == 429
    assert client.get("/documents").status_code == 200  # reading is still fine


def test_refused_uploads_leave_the_organizations_allowance_untouched(
    limited_app, make_org, owner_engine
):
    """Issue 12: a viewer's forbidden uploads, and files refused as empty, unsupported or
    duplicate, count against their sender's own attempt window, never the organization's
    hourly allowance: a viewer cannot block uploads for everyone."""
    from tests.test_roles import PASSWORD, add_member

    org = make_org()
    set_overrides(owner_engine, org, uploads_per_hour=4)
    viewer = add_member(limited_app, org.org_id, "viewer")
    as_viewer = limited_app.test_client()
    as_viewer.environ_base["REMOTE_ADDR"] = unique_address()
    assert login(as_viewer, viewer.email, PASSWORD).status_code == 302
    refused = [upload(as_viewer, (f"v {uuid.uuid4()}".encode(), "v.txt")) for _ in range(4)]
    assert [r.status_code for r in refused] == [403, 403, 403, 403]
    owner = client_for(limited_app, org)
    windows = {w.key: w for w in usage_windows(limited_app, org)}
    assert windows["uploads_per_hour"].used == 0  # the allowance is whole
    # The viewer's own attempt window is full: the fourth is refused by the limiter, alone.
    again = upload(as_viewer, (b"again", "again.txt"))
    assert again.status_code == 429
    assert "your own limit of 4 refused files per hour" in again.get_data(as_text=True)
    # Refused files of a member who may upload: empty, unsupported, duplicate.
    content = f"kept {uuid.uuid4()}".encode()
    assert upload(owner, (content, "kept.txt")).status_code == 200
    mixed = upload(
        owner, (b"", "empty.txt"), (b"\x00\x01\x02binary", "x.bin"), (content, "dup.txt")
    )
    assert mixed.status_code == 400  # none of the three was stored
    assert {w.key: w for w in usage_windows(limited_app, org)}["uploads_per_hour"].used == 1
    # So the organization still has three of its four, for anyone who may upload.
    member = add_member(limited_app, org.org_id, "member")
    as_member = limited_app.test_client()
    as_member.environ_base["REMOTE_ADDR"] = unique_address()
    assert login(as_member, member.email, PASSWORD).status_code == 302
    three = [(f"three {i} {uuid.uuid4()}".encode(), f"t{i}.txt") for i in range(3)]
    assert upload(as_member, *three).status_code == 200
    over = upload(as_member, (b"over", "over.txt"))
    assert over.status_code == 429
    assert "limit of 4 uploaded files per hour" in over.get_data(as_text=True)


def usage_windows(app: Flask, org: OrgFixture) -> list[Any]:
    """The organization's rate windows as its usage page reads them."""
    from webapp import quotas
    from webapp.tenancy import tenant_context

    with app.test_request_context(), tenant_context(org.org_id):
        try:
            return quotas.rate_windows()
        finally:
            db.session.remove()


def test_unauthenticated_pages_are_limited_per_address(services):
    app = make_app(services, RATELIMIT_ENABLED=True, ANONYMOUS_LIMIT_PER_IP="3/minute")
    client, neighbour = client_for(app), client_for(app)
    statuses = [client.get("/login").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert "requests per minute from your address" in client.get("/signup").get_data(as_text=True)
    assert neighbour.get("/login").status_code == 200


def test_one_redis_command_per_request(limited_app, make_org, monkeypatch):
    """The check — hit and stats, and for an upload all its windows — is one command: one
    Redis round trip for a page request and a token-authenticated request (issue 15)."""
    org = make_org()
    client = client_for(limited_app, org)
    token = api_token(limited_app, org)
    client.get("/documents")  # the script is loaded by now
    sent = count_redis_commands(monkeypatch)
    for path in ("/documents", "/dashboard", "/documents/progress"):
        sent.clear()
        client.get(path)
        assert checks(sent) == ["EVALSHA"], path
    sent.clear()
    response = client.post(
        "/api/v1/documents",
        headers={"Authorization": f"Bearer {token}"},
        data={"file": [(io.BytesIO(f"{i} {uuid.uuid4()}".encode()), f"{i}.txt") for i in range(3)]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 202
    # The check, then the kept files leave their sender's attempt window: written after the
    # response is made, its reply read only before this thread's next command (no wait).
    assert checks(sent) == ["EVALSHA", "LREM"]
    sent.clear()
    assert client.get("/documents").status_code == 200
    assert checks(sent) == ["EVALSHA"]  # the connection is in step: one reply each
    auth = {"Authorization": f"Bearer {token}"}
    for _ in range(2):  # looked up, then remembered (its check sent before the lookup)
        sent.clear()
        assert client.get("/api/v1/documents", headers=auth).status_code == 200
        assert checks(sent) == ["EVALSHA"]


def test_a_page_or_api_request_makes_one_redis_round_trip_in_all(
    limited_app, make_org, monkeypatch
):
    """Counted on every Redis connection of the process, not the limiter's alone."""
    import redis.connection

    org = make_org()
    client = client_for(limited_app, org)
    auth = {"Authorization": f"Bearer {api_token(limited_app, org)}"}
    client.get("/documents")
    client.get("/api/v1/documents", headers=auth)
    writes: list[bytes] = []
    real = redis.connection.AbstractConnection.send_packed_command

    def counting(connection: Any, command: Any, *args: Any, **options: Any) -> Any:
        writes.append(command if isinstance(command, bytes) else b"".join(command))
        return real(connection, command, *args, **options)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    for path, headers in (("/documents", {}), ("/api/v1/documents", auth)) * 2:
        writes.clear()
        assert client.get(path, headers=headers).status_code == 200
        assert len(writes) == 1, (path, writes)


# --- Redis down ---------------------------------------------------------------------------


def test_redis_down_fails_open_logged_and_counted(services, make_org, caplog):
    app = make_app(
        services, RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="redis://127.0.0.1:6390/0"
    )
    org = make_org()
    with caplog.at_level(logging.WARNING, logger="webapp.ratelimit"):
        client = client_for(app, org)  # the log-in throttle fails open too
        started = time.monotonic()
        responses = [client.get("/documents") for _ in range(5)]
        elapsed = time.monotonic() - started
    assert [r.status_code for r in responses] == [200] * 5
    assert all("X-RateLimit-Limit" not in r.headers for r in responses)
    assert any("failing open" in r.getMessage() for r in caplog.records)
    with app.app_context():
        from webapp.ratelimit import rate_limits

        assert rate_limits.failures >= 5
    assert elapsed < 30  # generous: a sanity bound, not a timing assertion


# --- on a real server ---------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    url: str
    log_path: Path


@contextmanager
def gunicorn_server(services: Services, name: str, settings: dict[str, str]) -> Iterator[Server]:
    """gunicorn, 2 processes of 8 threads each, with request limits on and ``settings``."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": services.app_url,
        "REDIS_URL": services.redis_url,
        "SECRET_KEY": "test-secret",
        "PYTHONPATH": str(ROOT),
        "RATELIMIT_ENABLED": "1",
        "DOCUMENT_QUEUE_PREFIX": f"{TEST_QUEUE}-docs",
        **settings,
    }
    for variable in ("CELERY_BROKER_URL", "MIGRATION_DATABASE_URL"):
        env.pop(variable, None)
    log_path = ROOT / "instance" / f"test-{name}-server-{os.getpid()}.log"
    log_path.parent.mkdir(exist_ok=True)
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "gthread"]
            + ["--threads", "8", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(server.url + "/static/app.css", timeout=2):
                break
        except urllib.error.HTTPError:
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                tail = log_path.read_text()[-3000:]
                raise RuntimeError("server did not start:\n" + tail) from None
            time.sleep(0.2)
    try:
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def live_server(services: Services) -> Iterator[Server]:
    """The limits on a real server, the minute window alone (no burst window)."""
    with gunicorn_server(services, "ratelimit", {"RATELIMIT_BURST_SECONDS": "0"}) as server:
        yield server


def api_get(server: Server, token: str, path: str = "/api/v1/documents") -> tuple[int, dict]:
    """GET an API path; (status, headers)."""
    request = urllib.request.Request(
        server.url + path, headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


def test_fifty_concurrent_requests_never_exceed_the_limit(live_server, app, make_org, owner_engine):
    org = make_org()
    token = api_token(app, org)
    set_overrides(owner_engine, org, requests_per_minute=20)
    barrier = threading.Barrier(50)
    statuses: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        barrier.wait()
        status, _ = api_get(live_server, token)
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(set(statuses)) == [200, 429], statuses
    # Never more than the limit (and, all within a second, not fewer).
    assert statuses.count(200) == 20
    assert statuses.count(429) == 30


def holds_within_a_second(changed: float, check: Callable[[], bool]) -> None:
    """``check()`` (a request) holds within a second of a change. A process answers API
    tokens from its cache (webapp/api/tokens.py) until it has read the change's notification:
    usually before the next request, but on a loaded machine a request may come first."""
    while not check():
        assert time.monotonic() - changed < 1.0, "the change did not apply within a second"


def test_a_changed_limit_applies_within_a_second_in_every_process(
    live_server, app, make_org, owner_engine
):
    """Raised, lowered, and by the plan's own row: the next requests follow within a second
    (refused requests, as a process that has not read the change yet may answer, count
    nothing)."""
    org = make_org()
    token = api_token(app, org)

    def answers(status: int, limit: str | None = None) -> Callable[[], bool]:
        def check() -> bool:
            got, headers = api_get(live_server, token)
            return got == status and limit in (None, headers["X-RateLimit-Limit"])

        return check

    def current(changed: float, old_limit: int) -> int:
        """A request's status once its process has read the change: a 429 by the old limit
        (charged nothing) is what a process that has not read it yet answers, passed over
        for a second after the change, and only that."""
        while True:
            status, headers = api_get(live_server, token)
            stale = status == 429 and headers["X-RateLimit-Limit"] == str(old_limit)
            if not stale or time.monotonic() - changed >= 1.0:
                return status

    with own_plan(owner_engine, org, requests_per_minute=3) as plan_id:
        assert [api_get(live_server, token)[0] for _ in range(4)] == [200, 200, 200, 429]

        # Raise the plan's limit to 10: a request passes, and the seven left pass in
        # whichever process serves them (the other may read the change a moment later).
        set_plan_limit(owner_engine, plan_id, 10)
        changed = time.monotonic()
        holds_within_a_second(changed, answers(200, "10"))
        assert [current(changed, 3) for _ in range(7)] == [200] * 6 + [429]

        # An override for this organization wins over the plan, lowered or raised.
        set_overrides(owner_engine, org, requests_per_minute=2)
        holds_within_a_second(time.monotonic(), answers(429, "2"))
        set_overrides(owner_engine, org, requests_per_minute=100)
        holds_within_a_second(time.monotonic(), answers(200))
