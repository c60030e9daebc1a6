"""SQLAlchemy's statement cache serves every hot statement (issue 15): compiled once.

A statement without a cache key is compiled again on every execution; PostgreSQL's
``INSERT ... ON CONFLICT`` is one in SQLAlchemy 2.0 unless written as a lambda statement.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine.default import CACHE_HIT

from tests.test_api import create_token_on_page
from tests.test_round_trips import insert_documents
from webapp.extensions import db
from webapp.models import utcnow
from webapp.tenancy import tenant_context


@contextmanager
def cache_outcomes(app: Flask) -> Iterator[list[tuple[str, bool]]]:
    """(statement, served from the compiled cache) for each statement the app's engine runs."""
    with app.app_context():
        engine = db.engine
    seen: list[tuple[str, bool]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append((statement, context.cache_hit is CACHE_HIT))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_the_token_list_runs_only_cached_statements(app: Flask, make_org, login_as) -> None:
    org = make_org()
    token = create_token_on_page(login_as(org), "cache")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(2):
        assert client.get("/api/v1/documents", headers=headers).status_code == 200
    with cache_outcomes(app) as seen:
        assert client.get("/api/v1/documents", headers=headers).status_code == 200
    assert len(seen) == 2
    assert all(hit for _, hit in seen), seen


def test_the_digest_upsert_is_compiled_once(app: Flask, make_org, owner_engine) -> None:
    from workers.pipeline import STORE_ANALYSIS

    org = make_org()
    insert_documents(owner_engine, org.org_id, 1)
    with owner_engine.connect() as conn:
        document_id = conn.exec_driver_sql(
            "SELECT id FROM documents WHERE organization_id = %s", (org.org_id,)
        ).scalar_one()
    with app.app_context(), tenant_context(org.org_id), cache_outcomes(app) as seen:
        for version in range(3):
            db.session.execute(
                STORE_ANALYSIS,
                {
                    "organization_id": org.org_id,
                    "document_id": document_id,
                    "text": f"text {version}",
                    "digest": {"version": version},
                    "now": utcnow(),
                },
            )
        db.session.commit()
        db.session.remove()
    upserts = [hit for statement, hit in seen if "ON CONFLICT" in statement]
    assert upserts[1:] == [True, True], seen
    with owner_engine.connect() as conn:
        digest = conn.exec_driver_sql(
            "SELECT digest FROM document_analyses WHERE document_id = %s", (document_id,)
        ).scalar_one()
    assert digest == {"version": 2}
