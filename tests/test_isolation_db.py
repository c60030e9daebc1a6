"""Walls 1 and 2, probed directly: the ORM hooks and PostgreSQL row-level security."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from webapp.extensions import db
from webapp.models import AuditEvent, Organization, User
from webapp.tenancy import CrossTenantWrite, TenantContextMissing, tenant_context
from webapp.tenancy_check import SELF_KEYED_TABLES

# Tables whose rows the runtime role may add but never change (append-only).
APPEND_ONLY = {"audit_events"}


def tenant_tables(owner_engine) -> dict[str, str]:
    """Every table RLS must guard, read from the catalog (new tables join automatically)."""
    with owner_engine.connect() as conn:
        names = conn.scalars(
            text(
                "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' "
                "AND column_name = 'organization_id'"
            )
        ).all()
    return {**{n: "organization_id" for n in names}, **SELF_KEYED_TABLES}


@pytest.fixture
def two_orgs(populate_org):
    """Two organizations, each with a row in every tenant table."""
    return populate_org().org, populate_org().org


def _one_row(owner_engine, table: str, column: str, org_id) -> dict:
    with owner_engine.connect() as conn:
        row = conn.execute(
            text(f"SELECT row_to_json(t) FROM {table} t WHERE {column} = :o LIMIT 1"),
            {"o": org_id},
        ).scalar_one()
    return row


def _copy_insert(conn, table: str, row: dict) -> None:
    """INSERT a copy of ``row`` with a fresh id (whatever the table's columns are)."""
    row = {**row, "id": str(uuid.uuid4())}
    if "slug" in row:
        row["slug"] = f"copy-{uuid.uuid4().hex[:8]}"
    if "email" in row:
        row["email"] = f"copy-{uuid.uuid4().hex[:8]}@example.com"
    conn.execute(
        text(f"INSERT INTO {table} SELECT * FROM json_populate_record(NULL::{table}, :r)"),
        {"r": json.dumps(row)},
    )


def test_every_tenant_table_is_known(owner_engine):
    assert {"organizations", "users", "audit_events"} <= set(tenant_tables(owner_engine))


def test_without_context_every_tenant_table_reads_nothing_and_rejects_insert(
    two_orgs, owner_engine, app_engine, enter_org
):
    a, _ = two_orgs
    for table, column in tenant_tables(owner_engine).items():
        row = _one_row(owner_engine, table, column, a.org_id)
        with owner_engine.connect() as conn:
            assert conn.scalar(text(f"SELECT count(*) FROM {table}")) > 0, table
        with app_engine.connect() as conn:
            enter_org(conn, None)
            assert conn.scalar(text(f"SELECT count(*) FROM {table}")) == 0, table
            with pytest.raises(DBAPIError, match="row-level security"):
                _copy_insert(conn, table, row)


def _as_org(app_engine, enter_org, org_id, statement: str, params: dict):
    """Run one statement as the runtime role in ``org_id``'s context, in its own transaction.

    Returns the affected row count, the scalar for a SELECT, or the error it raised.
    """
    with app_engine.connect() as conn:
        enter_org(conn, org_id)
        try:
            result = conn.execute(text(statement), params)
            return result.scalar() if statement.startswith("SELECT") else result.rowcount
        except DBAPIError as exc:
            return exc
        finally:
            conn.rollback()


def test_with_context_the_other_organization_is_invisible_and_untouchable(
    two_orgs, owner_engine, app_engine, enter_org
):
    a, b = two_orgs
    for table, column in tenant_tables(owner_engine).items():
        where = {"b": b.org_id}
        assert _as_org(app_engine, enter_org, a.org_id, f"SELECT count(*) FROM {table}", {}) > 0, (
            table
        )
        seen = _as_org(
            app_engine,
            enter_org,
            a.org_id,
            f"SELECT count(*) FROM {table} WHERE {column} = :b",
            where,
        )
        assert seen == 0, table
        for verb, statement in (
            ("UPDATE", f"UPDATE {table} SET {column} = {column} WHERE {column} = :b"),
            ("DELETE", f"DELETE FROM {table} WHERE {column} = :b"),
        ):
            with app_engine.connect() as conn:
                granted = conn.scalar(
                    text("SELECT has_table_privilege(:t, :v)"), {"t": table, "v": verb}
                )
            outcome = _as_org(app_engine, enter_org, a.org_id, statement, where)
            if granted:
                assert outcome == 0, f"{verb} {table} touched {outcome} rows of B"
            else:
                assert isinstance(outcome, DBAPIError), f"{verb} {table} should be refused"
                assert "permission denied" in str(outcome)
            if table in APPEND_ONLY:
                assert not granted, f"{table} is append-only: {verb} must not be granted"
        b_row = _one_row(owner_engine, table, column, b.org_id)
        with app_engine.connect() as conn:
            enter_org(conn, a.org_id)
            with pytest.raises(DBAPIError, match="row-level security"):
                _copy_insert(conn, table, b_row)
        with owner_engine.connect() as conn:
            assert (
                conn.scalar(text(f"SELECT count(*) FROM {table} WHERE {column} = :b"), where) > 0
            ), f"{table}: B's rows must still be there"


def test_orm_query_without_context_raises(app, two_orgs):
    with app.app_context():
        for model in (User, AuditEvent, Organization):
            with pytest.raises(TenantContextMissing):
                db.session.scalars(select(model)).all()
        db.session.remove()


def test_orm_sees_only_the_current_organization(app, two_orgs):
    a, b = two_orgs
    with app.app_context():
        with tenant_context(a.org_id):
            users = db.session.scalars(select(User)).all()
            orgs = db.session.scalars(select(Organization)).all()
            assert {u.organization_id for u in users} == {a.org_id}
            assert [o.id for o in orgs] == [a.org_id]
            assert db.session.get(User, (b.org_id, b.user_id)) is None
        db.session.remove()


def test_orm_refuses_a_row_of_another_organization(app, two_orgs):
    a, b = two_orgs
    with app.app_context():
        with tenant_context(a.org_id):
            db.session.add(AuditEvent(organization_id=b.org_id, action="forged"))
            with pytest.raises(CrossTenantWrite):
                db.session.flush()
            db.session.rollback()
            event = AuditEvent(action="stamped")
            db.session.add(event)
            db.session.flush()
            assert event.organization_id == a.org_id
            db.session.rollback()
        with pytest.raises(TenantContextMissing):
            db.session.add(AuditEvent(action="orphan"))
            db.session.flush()
        db.session.rollback()
        db.session.remove()


def test_context_is_transaction_local(app, app_engine, two_orgs, enter_org):
    """Does a pooled connection forget the organization once the transaction ends?"""
    a, _ = two_orgs
    with app_engine.connect() as conn:
        enter_org(conn, a.org_id)
        assert conn.scalar(text("SELECT count(*) FROM users")) == 1
        conn.commit()
        assert conn.scalar(text("SELECT app_current_org()")) is None
        assert conn.scalar(text("SELECT count(*) FROM users")) == 0


def test_pool_never_leaks_an_organization_across_requests(services, make_org, login_as):
    """Hundreds of alternating requests over a one-connection pool see only their own rows."""
    from tests.conftest import login, make_app

    tight = make_app(services, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0})
    a, b = make_org(), make_org()
    clients = {}
    for org in (a, b):
        client = tight.test_client()
        assert login(client, org.email, org.password).status_code == 302
        clients[org] = client
    with tight.app_context():
        assert db.engine.pool.size() == 1
    for i in range(300):
        me, other = (a, b) if i % 2 == 0 else (b, a)
        body = clients[me].get("/dashboard").get_data(as_text=True)
        assert me.email in body and me.name in body
        assert other.email not in body and other.name not in body, f"leak at request {i}"


def test_a_tenant_table_named_only_in_select_from_still_needs_a_context(app, two_orgs):
    """Wall 1 must see tables that appear only in FROM, not as a selected entity."""
    from sqlalchemy import func

    from webapp.models import DocumentBlob

    a, _ = two_orgs
    with app.app_context():
        with pytest.raises(TenantContextMissing):
            db.session.scalar(select(func.count()).select_from(DocumentBlob))
        with tenant_context(a.org_id):
            assert db.session.scalar(select(func.count()).select_from(DocumentBlob)) == 1
        db.session.remove()


def test_the_search_door_answers_only_for_the_organization_in_context(
    populate_org, app_engine, enter_org
):
    """app_search_documents bypasses RLS to use its index: it must apply the tenant itself."""
    a, b = populate_org(), populate_org()
    call = text(
        "SELECT id FROM app_search_documents(websearch_to_tsquery('english', :q), NULL, NULL, "
        "20, 0, 1000, 2500)"
    )
    with app_engine.connect() as conn:
        enter_org(conn, None)
        assert conn.execute(call, {"q": a.secret_word}).all() == []
        conn.rollback()
        enter_org(conn, b.org.org_id)
        assert conn.execute(call, {"q": a.secret_word}).all() == []
        assert conn.execute(call, {"q": "revised budget"}).scalars().all() == [
            uuid.UUID(b.document_id)
        ]
        conn.rollback()
        enter_org(conn, a.org.org_id)
        assert conn.execute(call, {"q": a.secret_word}).scalars().all() == [
            uuid.UUID(a.document_id)
        ]
