"""Round trips and statements per request, counted (never timed): issue 15.

A token-authenticated API list and a signed-in page each wait on PostgreSQL at most twice:
BEGIN and the verified tenant context travel with the first statement, and the request's
ROLLBACK is not waited for (webapp/database.py). Counted by ``conftest.round_trips``. With the
token cache on (as deployed; off under TESTING), a known token's list waits once: the token
lookup is skipped (tests/test_token_cache.py asserts exactly one).
"""

from __future__ import annotations

import hashlib
import uuid

import pytest
from flask import Flask
from sqlalchemy import text

from tests.conftest import round_trips
from tests.test_api import create_token_on_page


def insert_documents(owner_engine, org_id: uuid.UUID, count: int) -> None:  # type: ignore[no-untyped-def]
    """``count`` queued documents, written directly as the owner role."""
    rows = [
        {
            "o": org_id,
            "id": uuid.uuid4(),
            "t": f"Minutes {n}",
            "sha": hashlib.sha256(f"{org_id}-{n}".encode()).hexdigest(),
        }
        for n in range(count)
    ]
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO documents (organization_id, id, title, filename, content_type, "
                "detected_type, size_bytes, sha256, status, progress, attempts, created_at, "
                "updated_at) VALUES (:o, :id, :t, 'minutes.txt', 'text/plain', 'txt', 100, :sha, "
                "'queued', 0, 0, now(), now())"
            ),
            rows,
        )


@pytest.fixture
def signed_in(make_org, login_as, owner_engine):  # type: ignore[no-untyped-def]
    org = make_org()
    insert_documents(owner_engine, org.org_id, 5)
    browser = login_as(org)
    return org, browser


def test_a_token_list_waits_on_postgresql_twice(app: Flask, signed_in) -> None:
    """Token lookup (with BEGIN and the context) and the page: two round trips, two
    statements of the app's own, and no ROLLBACK waited for."""
    org, browser = signed_in
    token = create_token_on_page(browser, "counted")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/documents", headers=headers).status_code == 200  # last_used_at
    with round_trips() as seen:
        response = client.get("/api/v1/documents", headers=headers)
    assert response.status_code == 200
    assert len(response.get_json()["documents"]) == 5
    print(seen.count, seen.statements)
    assert seen.count <= 2, seen.statements


def test_a_page_waits_on_postgresql_twice(app: Flask, signed_in) -> None:
    org, browser = signed_in
    assert browser.get("/documents").status_code == 200
    with round_trips() as seen:
        response = browser.get("/documents")
    assert response.status_code == 200
    print(seen.count, seen.statements)
    assert seen.count <= 2, seen.statements


def test_the_listed_rows_say_what_the_document_says(app: Flask, signed_in) -> None:
    """The list's plain-row JSON (orjson) is the same object as one document's (jsonify)."""
    org, browser = signed_in
    token = create_token_on_page(browser, "shape")
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    listed = client.get("/api/v1/documents", headers=headers)
    assert listed.mimetype == "application/json"
    for item in listed.get_json()["documents"]:
        one = client.get(item["url"], headers=headers).get_json()
        one.pop("digest")
        one.pop("items")  # the digest's items as people corrected them: only in one document's
        assert item == one


@pytest.mark.parametrize(("setting", "expected"), [(None, 5), (0, None), (2, 2)])
def test_statement_preparation_follows_its_setting(services, setting, expected) -> None:
    """DATABASE_PREPARE_THRESHOLD=0 never prepares (PgBouncer in transaction mode)."""
    from tests.conftest import close_app, make_app
    from webapp.extensions import db

    overrides = {} if setting is None else {"DATABASE_PREPARE_THRESHOLD": setting}
    built = make_app(services, **overrides)
    with built.app_context():
        for engine in db.engines.values():
            with engine.connect() as conn:
                assert conn.connection.dbapi_connection.prepare_threshold == expected
    close_app(built)


def test_only_plain_functions_skip_flasks_coroutine_check(app: Flask, monkeypatch) -> None:
    """``App.ensure_sync`` returns plain functions and their methods as they are; a coroutine
    function (or a partial of one) still goes to Flask, which wraps it."""
    import functools

    def plain() -> None: ...

    async def coroutine() -> None: ...

    class Hooks:
        def method(self) -> None: ...

        async def async_method(self) -> None: ...

    wrapped: list[object] = []
    monkeypatch.setattr(app, "async_to_sync", lambda func: wrapped.append(func) or "wrapped")
    hooks = Hooks()
    assert app.ensure_sync(plain) is plain
    method = hooks.method
    assert app.ensure_sync(method) is method
    assert app.ensure_sync(coroutine) == "wrapped"
    assert app.ensure_sync(hooks.async_method) == "wrapped"
    assert app.ensure_sync(functools.partial(coroutine)) == "wrapped"
    assert len(wrapped) == 3
