"""Round trips and statements per request, counted (never timed): issue 15.

A token-authenticated API list and a signed-in page each wait on PostgreSQL at most twice:
the verified tenant context travels with each read in an implicit transaction (BEGIN with
the first write, whose ROLLBACK is not waited for) (webapp/database.py). Counted by
``conftest.round_trips``. With the token cache on (as deployed; off under TESTING), a known
token's list waits once: the token lookup is skipped (tests/test_token_cache.py asserts
exactly one).
"""

from __future__ import annotations

import hashlib
import uuid

import pytest
from flask import Flask
from psycopg import pq
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


# --- reads in implicit transactions (DATABASE_IMPLICIT_READS, webapp/database.py) ----------


def _entries(statements: list[str]) -> int:
    return sum(1 for sql in statements if "app_enter_org" in sql)


def test_reads_before_a_write_run_in_implicit_transactions(app: Flask, signed_in, owner_engine):
    """Each plain read before a write: the context and the read, one round trip, no BEGIN and
    no ROLLBACK. The first write opens a real transaction (BEGIN, the context, the write); the
    reads after it run in it and see it; the rollback undoes it."""
    from sqlalchemy import func, select, update

    from webapp.extensions import db
    from webapp.models.documents import Document
    from webapp.tenancy import tenant_context

    org, _ = signed_in
    with app.app_context(), tenant_context(org.org_id):
        with round_trips() as seen:
            first = db.session.scalar(select(func.count()).select_from(Document))
            second = db.session.scalar(select(func.count()).select_from(Document))
            raw = db.session.connection().connection.dbapi_connection
            idle = raw.pgconn.transaction_status == pq.TransactionStatus.IDLE
        assert (first, second) == (5, 5)
        assert idle  # each read's implicit transaction ended at its Sync
        assert seen.count == 2, seen.statements
        assert "BEGIN" not in seen.statements and _entries(seen.statements) == 2, seen.statements

        with round_trips() as seen:
            db.session.execute(update(Document).values(title="changed in a transaction"))
            changed = db.session.scalar(
                select(func.count())
                .select_from(Document)
                .where(Document.title == "changed in a transaction")
            )
        assert changed == 5  # the read after the write runs in its transaction
        assert seen.statements.count("BEGIN") == 1 and _entries(seen.statements) == 1, (
            seen.statements
        )
        db.session.rollback()
    with owner_engine.connect() as conn:
        titles = conn.scalars(
            text(
                "SELECT DISTINCT title LIKE 'Minutes %' FROM documents WHERE organization_id = :o"
            ),
            {"o": org.org_id},
        ).all()
    assert titles == [True]


def test_a_locking_read_or_text_sql_opens_a_real_transaction(app: Flask, signed_in) -> None:
    """SELECT ... FOR UPDATE must hold its locks, and text() SQL may do anything: both begin."""
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models.documents import Document
    from webapp.tenancy import tenant_context

    org, _ = signed_in
    with app.app_context(), tenant_context(org.org_id):
        with round_trips() as seen:
            locked = db.session.scalars(select(Document).with_for_update()).all()
            raw = db.session.connection().connection.dbapi_connection
            in_transaction = raw.pgconn.transaction_status == pq.TransactionStatus.INTRANS
        assert len(locked) == 5 and in_transaction
        assert seen.statements[0] == "BEGIN", seen.statements
        db.session.rollback()
        with round_trips() as seen:
            assert db.session.scalar(text("SELECT count(*) FROM documents")) == 5
        assert seen.statements[0] == "BEGIN", seen.statements
        db.session.rollback()


def test_implicit_reads_can_be_turned_off(services, signed_in) -> None:
    """DATABASE_IMPLICIT_READS=0: every transaction begins, as before."""
    from sqlalchemy import func, select

    from tests.conftest import close_app, make_app
    from webapp.extensions import db
    from webapp.models.documents import Document
    from webapp.tenancy import tenant_context

    org, _ = signed_in
    built = make_app(services, DATABASE_IMPLICIT_READS=False)
    with built.app_context(), tenant_context(org.org_id):
        db.session.scalar(select(func.count()).select_from(Document))  # the first connect
        db.session.rollback()
        with round_trips() as seen:
            assert db.session.scalar(select(func.count()).select_from(Document)) == 5
            assert db.session.scalar(select(func.count()).select_from(Document)) == 5
        assert seen.statements.count("BEGIN") == 1 and _entries(seen.statements) == 1
        db.session.rollback()
    close_app(built)
