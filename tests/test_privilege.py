"""Roles by trust and the verified tenant context (issue 11, item 1; migration 0010).

An SQL injection in tenant code runs as the tenant role inside its own organization's
transaction. These tests are that attacker, on raw connections: with organization A's valid
context they try to reach B (plain and forged ``set_config``, replayed signatures and proofs),
the doors, the platform tables and the key. Then the same doors as the platform role, which
must work.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlalchemy.pool import NullPool

from tests.test_isolation_db import tenant_tables
from webapp import tenancy

SET_PLAIN = text("SELECT set_config('app.current_org_id', :o, true)")
SET_BOTH = text(
    "SELECT set_config('app.current_org_id', :o, true), set_config('app.current_org_sig', :s, true)"
)
CURRENT_SIG = text("SELECT current_setting('app.current_org_sig', true)")

# Every door the tenant role must not run, called with harmless arguments.
PLATFORM_DOOR_CALLS = [
    "SELECT app_context_key()",
    "SELECT * FROM app_login_lookup('someone@example.com')",
    "SELECT app_email_exists('someone@example.com')",
    "SELECT * FROM app_outbox_pending(interval '0', 10)",
    "SELECT * FROM app_stuck_documents(interval '0', 10)",
    "SELECT * FROM app_admin_list_organizations(NULL, 10, 0)",
    "SELECT * FROM app_admin_get_organization(gen_random_uuid(), NULL)",
    "SELECT * FROM app_admin_update_organization(gen_random_uuid(), NULL, 'suspended', NULL)",
    "SELECT * FROM app_admin_update_plan('free', '{}'::jsonb)",
    "SELECT * FROM app_organizations_due_for_purge(interval '1 day', 10)",
    "SELECT * FROM app_purge_organization(gen_random_uuid(), interval '1 day')",
    "SELECT app_create_platform_admin('x@example.com', 'X', '$argon2id$v=19$m=1,t=1,p=1$x$y')",
]
PLATFORM_TABLE_STATEMENTS = [
    "SELECT count(*) FROM {table}",
    "DELETE FROM {table}",
    "UPDATE {table} SET id = id",
]
ADMIN_INSERT = (
    "INSERT INTO platform_admins (id, email, name, password_hash) "
    "VALUES (gen_random_uuid(), 'forged@example.com', 'Forged', 'x')"
)
AUDIT_INSERT = (
    "INSERT INTO platform_audit_events (id, actor, action) "
    "VALUES (gen_random_uuid(), 'admin:forged', 'forged')"
)


@pytest.fixture
def two_orgs(populate_org):
    """Two organizations with a row in every tenant table."""
    return populate_org(), populate_org()


def _denied(conn, statement: str, params: dict | None = None) -> str:
    """Run a statement that must be refused for lack of privilege; returns the message."""
    with pytest.raises(ProgrammingError) as caught:
        conn.execute(text(statement), params or {})
    conn.rollback()
    message = str(caught.value.orig)
    assert "permission denied" in message, message
    return message


def _visible(conn, tables: list[str]) -> dict[str, int]:
    return {t: conn.scalar(text(f"SELECT count(*) FROM {t}")) for t in tables}


def _all_tables(owner_engine) -> list[str]:
    return sorted(tenant_tables(owner_engine))  # organizations included


# --- the tenant role, as an attacker inside organization A ------------------------------------


def test_a_valid_context_opens_its_own_organization(app_engine, enter_org, two_orgs, owner_engine):
    a, _ = two_orgs
    with app_engine.connect() as conn:
        enter_org(conn, a.org.org_id)
        assert conn.scalar(text("SELECT app_current_org()")) == a.org.org_id
        seen = _visible(conn, _all_tables(owner_engine))
        assert all(seen.values()), seen  # a row in every table, all of them A's


@pytest.mark.parametrize("signature", ["", "0" * 64, "garbage", None], ids=repr)
def test_a_plain_or_forged_set_config_of_b_reads_nothing_and_writes_nothing(
    app_engine, enter_org, two_orgs, owner_engine, signature
):
    a, b = two_orgs
    tables = _all_tables(owner_engine)
    with app_engine.connect() as conn:
        enter_org(conn, a.org.org_id)
        if signature is None:  # leave A's signature in place, change only the organization
            conn.execute(SET_PLAIN, {"o": str(b.org.org_id)})
        else:
            conn.execute(SET_BOTH, {"o": str(b.org.org_id), "s": signature})
        assert conn.scalar(text("SELECT app_current_org()")) is None
        assert _visible(conn, tables) == dict.fromkeys(tables, 0)
        # Writes: nothing to update, and an insert naming B fails WITH CHECK.
        updated = conn.execute(
            text("UPDATE organizations SET name = 'pwned' WHERE id = :b"), {"b": b.org.org_id}
        ).rowcount
        assert updated == 0
        with pytest.raises(DBAPIError, match="row-level security"):
            conn.execute(
                text(
                    "INSERT INTO audit_events (organization_id, id, action) "
                    "VALUES (:b, gen_random_uuid(), 'forged')"
                ),
                {"b": b.org.org_id},
            )
        conn.rollback()
    with owner_engine.connect() as conn:
        name = conn.scalar(
            text("SELECT name FROM organizations WHERE id = :b"), {"b": b.org.org_id}
        )
    assert name == b.org.name


def test_a_signature_for_b_cannot_be_made_from_a_s(app_engine, enter_org, two_orgs, owner_engine):
    """A's signature with B's id, and B's id with A's id's signature: both read nothing."""
    a, b = two_orgs
    with app_engine.connect() as conn:
        enter_org(conn, a.org.org_id)
        a_sig = conn.scalar(CURRENT_SIG)
        assert len(a_sig) == 64
        conn.execute(SET_BOTH, {"o": str(b.org.org_id), "s": a_sig})
        assert conn.scalar(text("SELECT count(*) FROM users")) == 0
        conn.execute(SET_BOTH, {"o": str(a.org.org_id), "s": a_sig})  # put A back: fine
        assert conn.scalar(text("SELECT count(*) FROM users")) == 1


def test_a_signature_is_dead_after_its_transaction_on_any_backend(app_engine, enter_org, two_orgs):
    """Replaying A's signature in a later transaction, here or on another backend, opens nothing."""
    a, _ = two_orgs
    with app_engine.connect() as conn:
        enter_org(conn, a.org.org_id)
        captured = conn.scalar(CURRENT_SIG)
        conn.commit()
        conn.execute(SET_BOTH, {"o": str(a.org.org_id), "s": captured})
        assert conn.scalar(text("SELECT app_current_org()")) is None
        assert conn.scalar(text("SELECT count(*) FROM users")) == 0
        conn.rollback()
        with app_engine.connect() as other:
            assert other.scalar(text("SELECT pg_backend_pid()")) != conn.scalar(
                text("SELECT pg_backend_pid()")
            )
            other.rollback()
            other.execute(SET_BOTH, {"o": str(a.org.org_id), "s": captured})
            assert other.scalar(text("SELECT count(*) FROM users")) == 0


def test_app_enter_org_refuses_a_proof_for_another_organization(app_engine, context_key, two_orgs):
    a, b = two_orgs
    proof_for_a = tenancy.entry_proof(context_key, a.org.org_id)
    with app_engine.connect() as conn:
        with pytest.raises(DBAPIError, match="bad proof"):
            conn.execute(tenancy.ENTER_ORG_SQL, {"org": str(b.org.org_id), "proof": proof_for_a})
        conn.rollback()
        forged = tenancy.entry_proof(b"not the key" * 3, b.org.org_id)
        with pytest.raises(DBAPIError, match="bad proof"):
            conn.execute(tenancy.ENTER_ORG_SQL, {"org": str(b.org.org_id), "proof": forged})
        conn.rollback()
        for malformed in ("", "x", str(b.org.org_id), "1." + "0" * 64 + "'"):
            with pytest.raises(DBAPIError, match="organization context refused"):
                conn.execute(tenancy.ENTER_ORG_SQL, {"org": str(b.org.org_id), "proof": malformed})
            conn.rollback()


def test_an_old_entry_proof_is_refused(app_engine, context_key, two_orgs):
    """A proof that leaked (a log, say) opens its organization for minutes, not for ever."""
    a, _ = two_orgs
    stale = tenancy.entry_proof(context_key, a.org.org_id, issued=int(time.time()) - 3600)
    with app_engine.connect() as conn:
        with pytest.raises(DBAPIError, match="expired"):
            conn.execute(tenancy.ENTER_ORG_SQL, {"org": str(a.org.org_id), "proof": stale})
        conn.rollback()


def test_a_refused_entry_also_drops_the_previous_organization(
    app_engine, enter_org, context_key, two_orgs
):
    a, b = two_orgs
    with app_engine.connect() as conn:
        enter_org(conn, a.org.org_id)
        conn.execute(text("SAVEPOINT probe"))
        with pytest.raises(DBAPIError):
            conn.execute(tenancy.ENTER_ORG_SQL, {"org": str(b.org.org_id), "proof": "1.x"})
        conn.execute(text("ROLLBACK TO SAVEPOINT probe"))  # A's context is intact again
        assert conn.scalar(text("SELECT app_current_org()")) == a.org.org_id
        enter_org(conn, None)
        assert conn.scalar(text("SELECT app_current_org()")) is None
        assert conn.scalar(text("SELECT count(*) FROM users")) == 0


# --- the mark of migration 0017: per-session state the tenant role reads but cannot set -------

MARK_SET = text("SELECT set_config('app.context_marked', 'on', true)")


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT setval('app_context_marks', 1)",
        "SELECT setval('app_context_marks', 1, true)",
        "SELECT nextval('app_context_marks')",
        "ALTER SEQUENCE app_context_marks RESTART",
    ],
)
def test_the_tenant_role_cannot_set_the_mark(app_engine, enter_org, make_org, statement):
    """currval is what the check trusts: only app_enter_org may move it."""
    org = make_org()
    with app_engine.connect() as conn:
        enter_org(conn, org.org_id)
        with pytest.raises(ProgrammingError) as caught:
            conn.execute(text(statement))
        conn.rollback()
    message = str(caught.value.orig)
    assert "permission denied" in message or "must be owner" in message, message


def test_an_entered_session_cannot_switch_organization_with_any_setting(
    app_engine, enter_org, two_orgs
):
    """Entered as A: B's id, with every setting the check reads set by hand, reads nothing."""
    a, b = two_orgs
    with app_engine.connect() as conn:
        enter_org(conn, a.org.org_id)
        mark = conn.scalar(text("SELECT currval('app_context_marks')"))
        for org in (str(b.org.org_id), str(b.org.org_id).upper(), "{" + str(b.org.org_id) + "}"):
            conn.execute(MARK_SET)
            conn.execute(SET_BOTH, {"o": org, "s": conn.scalar(CURRENT_SIG)})
            assert conn.scalar(text("SELECT app_current_org()")) is None
            assert conn.scalar(text("SELECT count(*) FROM users")) == 0
        assert conn.scalar(text("SELECT currval('app_context_marks')")) == mark
        conn.execute(SET_PLAIN, {"o": str(a.org.org_id)})  # A's own id again: A, as before
        assert conn.scalar(text("SELECT app_current_org()")) == a.org.org_id
        conn.rollback()


def test_a_session_never_entered_is_refused_even_when_it_claims_a_mark(app_engine, two_orgs):
    """No mark in this session: claiming one makes the check fail (an error), never B's rows."""
    _, b = two_orgs
    fresh = create_engine(app_engine.url, poolclass=NullPool)  # a backend never entered
    with fresh.connect() as conn:
        conn.execute(SET_BOTH, {"o": str(b.org.org_id), "s": "0" * 64})
        assert conn.scalar(text("SELECT count(*) FROM users")) == 0  # unmarked: no organization
        conn.execute(MARK_SET)
        with pytest.raises(DBAPIError, match="not yet defined in this session"):
            conn.execute(text("SELECT count(*) FROM users"))
        conn.rollback()
    fresh.dispose()


def test_a_mark_is_dead_after_its_transaction(app_engine, enter_org, two_orgs):
    """The next transaction starts at another time: A's mark no longer matches A."""
    a, _ = two_orgs
    with app_engine.connect() as conn:
        enter_org(conn, a.org.org_id)
        sig = conn.scalar(CURRENT_SIG)
        conn.commit()
        conn.execute(MARK_SET)
        conn.execute(SET_BOTH, {"o": str(a.org.org_id), "s": sig})
        assert conn.scalar(text("SELECT app_current_org()")) is None
        assert conn.scalar(text("SELECT count(*) FROM users")) == 0
        conn.rollback()


def test_an_entry_undone_by_a_savepoint_leaves_no_organization(
    app_engine, enter_org, context_key, two_orgs
):
    """Marks are not transactional: after ROLLBACK TO, the settings say A, the mark says B, and
    the check opens neither (closed, not open) until the next entry."""
    a, b = two_orgs
    with app_engine.connect() as conn:
        enter_org(conn, a.org.org_id)
        conn.execute(text("SAVEPOINT inner_org"))
        enter_org(conn, b.org.org_id)
        assert conn.scalar(text("SELECT app_current_org()")) == b.org.org_id
        conn.execute(text("ROLLBACK TO SAVEPOINT inner_org"))
        assert conn.scalar(text("SELECT app_current_org()")) is None
        assert conn.scalar(text("SELECT count(*) FROM users")) == 0
        enter_org(conn, a.org.org_id)
        assert conn.scalar(text("SELECT count(*) FROM users")) == 1
        conn.rollback()


def test_the_mark_ignores_the_session_s_time_zone_and_date_style(app_engine, enter_org, two_orgs):
    """The transaction's start is hashed as epoch microseconds, not as display text."""
    a, _ = two_orgs
    with app_engine.connect() as conn:
        enter_org(conn, a.org.org_id)
        conn.execute(text("SET LOCAL TimeZone = 'Asia/Tokyo'"))
        conn.execute(text("SET LOCAL DateStyle = 'German, DMY'"))
        assert conn.scalar(text("SELECT app_current_org()")) == a.org.org_id
        conn.rollback()


def test_the_check_is_inlined_into_one_initplan_per_statement(app_engine, enter_org, make_org):
    """No function call per statement: the planner inlines app_current_org() into the
    policy's InitPlan (a VOLATILE or STABLE plpgsql body here would cost a call each time)."""
    org = make_org()
    with app_engine.connect() as conn:
        enter_org(conn, org.org_id)
        plan = "\n".join(
            conn.scalars(text("EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM documents"))
        )
        conn.rollback()
    assert "InitPlan" in plan and "currval(" in plan, plan
    assert "app_current_org" not in plan, plan


@pytest.mark.parametrize("statement", PLATFORM_DOOR_CALLS)
def test_every_door_outside_the_tenant_is_denied_to_the_tenant_role(
    app_engine, enter_org, make_org, statement
):
    org = make_org()
    with app_engine.connect() as conn:
        enter_org(conn, org.org_id)
        _denied(conn, statement)


@pytest.mark.parametrize("table", ["platform_admins", "platform_audit_events", "app_context_keys"])
@pytest.mark.parametrize("template", PLATFORM_TABLE_STATEMENTS)
def test_platform_tables_and_the_key_are_out_of_the_tenant_role_s_reach(
    app_engine, enter_org, make_org, table, template
):
    org = make_org()
    with app_engine.connect() as conn:
        enter_org(conn, org.org_id)
        _denied(conn, template.format(table=table))


@pytest.mark.parametrize("statement", [ADMIN_INSERT, AUDIT_INSERT])
def test_the_tenant_role_cannot_forge_an_admin_or_a_platform_audit_event(
    app_engine, owner_engine, statement
):
    with app_engine.connect() as conn:
        _denied(conn, statement)
    with owner_engine.connect() as conn:
        assert not conn.scalar(
            text("SELECT count(*) FROM platform_admins WHERE email = 'forged@example.com'")
        )


def test_the_tenant_role_leaves_nothing_on_a_pooled_connection(app_engine):
    """No temporary table or view: one could shadow a table for the next organization."""
    with app_engine.connect() as conn:
        _denied(conn, "CREATE TEMPORARY TABLE leak (x text)")
        _denied(conn, "CREATE TABLE public.leak (x text)")


def test_tenant_tables_cannot_be_truncated_past_rls(app_engine, enter_org, make_org):
    org = make_org()
    with app_engine.connect() as conn:
        enter_org(conn, org.org_id)
        _denied(conn, "TRUNCATE audit_events")


# --- the platform role: the doors work, tenant tables do not -------------------------------


def test_the_doors_work_for_the_platform_role(platform_engine, populate_org, owner_engine):
    a = populate_org()
    with platform_engine.connect() as conn:
        key = conn.scalar(text("SELECT app_context_key()"))
        assert len(bytes(key)) == 32
        found = conn.execute(
            text("SELECT * FROM app_login_lookup(:e)"), {"e": a.org.email.upper()}
        ).one()
        assert (found.organization_id, found.user_id) == (a.org.org_id, a.org.user_id)
        assert conn.scalar(text("SELECT app_email_exists(:e)"), {"e": a.org.email})
        assert not conn.scalar(text("SELECT app_email_exists(:e)"), {"e": "x" * 300})
        record = conn.execute(
            text("SELECT * FROM app_admin_get_organization(:o, NULL)"), {"o": a.org.org_id}
        ).one()
        assert record.document_count == 1
        listed = conn.execute(
            text("SELECT id FROM app_admin_list_organizations(:s, 10, 0)"), {"s": a.org.name}
        ).scalars()
        assert list(listed) == [a.org.org_id]
        conn.execute(text("SELECT * FROM app_outbox_pending(interval '0', 10)")).all()
        conn.execute(text("SELECT * FROM app_stuck_documents(interval '0', 10)")).all()
        conn.execute(text("SELECT * FROM app_organizations_due_for_purge(interval '0', 10)")).all()
        old, new = conn.execute(
            text(
                "SELECT * FROM app_admin_update_organization(:o, NULL, 'suspended', "
                "CAST(:v AS jsonb))"
            ),
            {"o": a.org.org_id, "v": json.dumps({"members": 7})},
        ).one()
        assert (old["status"], new["status"], new["quota_overrides"]) == (
            "active",
            "suspended",
            {"members": 7},
        )
        conn.rollback()


def test_doors_check_their_arguments(platform_engine, make_org):
    org = make_org()
    with platform_engine.connect() as conn:
        with pytest.raises(DBAPIError, match="active or suspended"):
            conn.execute(
                text(
                    "SELECT * FROM app_admin_update_organization("
                    ":o, NULL, 'pending_deletion', NULL)"
                ),
                {"o": org.org_id},
            )
        conn.rollback()
        for email, name, secret in (
            ("not-an-email", "N", "$argon2id$v=19$m=1,t=1,p=1$x$y"),
            ("Upper@Example.com", "N", "$argon2id$v=19$m=1,t=1,p=1$x$y"),
            ("n@example.com", "", "$argon2id$v=19$m=1,t=1,p=1$x$y"),
            ("n@example.com", "N", "plaintext-password"),
        ):
            with pytest.raises(DBAPIError, match="violat|valid|name|Argon2"):
                conn.execute(
                    text("SELECT app_create_platform_admin(:e, :n, :h)"),
                    {"e": email, "n": name, "h": secret},
                )
            conn.rollback()
        assert (
            conn.execute(
                text("SELECT * FROM app_login_lookup(:e)"), {"e": org.email + "x" * 300}
            ).all()
            == []
        )
        conn.rollback()


def test_the_platform_role_creates_admins_only_through_the_door(platform_engine, owner_engine):
    email = f"door-{uuid.uuid4().hex[:8]}@example.com"
    with platform_engine.connect() as conn:
        _denied(
            conn,
            "INSERT INTO platform_admins (id, email, name, password_hash) "
            "VALUES (gen_random_uuid(), :e, 'N', '$argon2id$x')",
            {"e": email},
        )
        admin_id = conn.scalar(
            text("SELECT app_create_platform_admin(:e, 'Door', '$argon2id$v=19$m=1,t=1,p=1$x$y')"),
            {"e": email},
        )
        conn.commit()
        # It may stamp a log-in, never change who an admin is, nor remove one.
        conn.execute(
            text("UPDATE platform_admins SET last_login_at = now() WHERE id = :i"), {"i": admin_id}
        )
        conn.commit()
        _denied(
            conn,
            "UPDATE platform_admins SET email = 'x@example.com' WHERE id = :i",
            {"i": admin_id},
        )
        _denied(conn, "DELETE FROM platform_admins WHERE id = :i", {"i": admin_id})
    with owner_engine.connect() as conn:
        assert (
            conn.scalar(text("SELECT email FROM platform_admins WHERE id = :i"), {"i": admin_id})
            == email
        )


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT count(*) FROM documents",
        "SELECT count(*) FROM users",
        "SELECT count(*) FROM organizations",
        "SELECT app_enter_org(gen_random_uuid(), '1.x')",
        "SELECT app_current_org()",
        "SELECT * FROM app_search_documents('x'::tsquery, NULL, NULL, 1, 0, 1, 1)",
        "SELECT count(*) FROM app_context_keys",
    ],
)
def test_the_platform_role_reads_no_tenant_table(platform_engine, statement):
    with platform_engine.connect() as conn:
        _denied(conn, statement)


# --- the application: both roles in one process -------------------------------------------


def test_the_app_serves_log_in_and_admin_through_the_platform_role(app, make_org, runner):
    from tests.conftest import login

    org = make_org()
    client = app.test_client()
    assert login(client, org.email, org.password).status_code == 302
    email = f"plat-{uuid.uuid4().hex[:8]}@example.com"
    result = runner.invoke(
        args=["admin", "create-admin", "--email", email, "--name", "P", "--password", "p" * 12]
    )
    assert result.exit_code == 0, result.output
    admin = app.test_client()
    page = admin.get("/admin/login")
    assert page.status_code == 200
    from tests.conftest import CSRF_RE

    token = CSRF_RE.search(page.get_data(as_text=True))
    data = {"email": email, "password": "p" * 12}
    if token:
        data["csrf_token"] = token.group(1)
    assert admin.post("/admin/login", data=data).status_code == 302
    body = admin.get(f"/admin/?q={org.name}").get_data(as_text=True)
    assert org.name in body


def test_the_context_key_is_read_through_the_platform_role(app):
    """What the app signs with is what app_context_key() holds (and the tenant role cannot)."""
    from webapp.extensions import db

    with app.app_context():
        key = tenancy.context_key()
        assert key == tenancy.read_context_key(db.engines["platform"])
        with db.engine.connect() as conn:
            _denied(conn, "SELECT app_context_key()")


# --- the context in an implicit transaction (the app's reads: webapp/database.py) ------------


def _raw_tenant(app_engine):  # type: ignore[no-untyped-def]
    """A psycopg connection as the tenant role in autocommit, as the app's engine holds them."""
    import psycopg

    url = app_engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(url, autocommit=True)


def _proof(context_key: bytes, org) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    return (str(org.org.org_id), tenancy.entry_proof(context_key, org.org.org_id))


def test_a_context_in_an_implicit_transaction_ends_at_its_sync(app_engine, context_key, two_orgs):
    """The context and a read in one pipeline, no BEGIN: A's rows, then nothing. A's settings
    put back by hand in the next implicit transaction (or a later one) open nothing."""
    from psycopg import pq

    a, _ = two_orgs
    with _raw_tenant(app_engine) as conn:
        with conn.pipeline():
            conn.execute(tenancy.ENTER_ORG_DRIVER_SQL, _proof(context_key, a))
            seen = conn.execute("SELECT count(*) FROM users")
            sig = conn.execute("SELECT current_setting('app.current_org_sig', true)")
        assert seen.fetchone()[0] == 1
        captured = sig.fetchone()[0]
        assert len(captured) == 64
        assert conn.pgconn.transaction_status == pq.TransactionStatus.IDLE
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 0
        assert conn.execute("SELECT app_current_org()").fetchone()[0] is None
        for local in (True, False):  # transaction-local, or for the whole session
            with conn.pipeline():
                conn.execute(
                    "SELECT set_config('app.context_marked', 'on', false), "
                    "set_config('app.current_org_id', %s, %s), "
                    "set_config('app.current_org_sig', %s, %s)",
                    (str(a.org.org_id), local, captured, local),
                )
                replay = conn.execute("SELECT count(*) FROM users")
            assert replay.fetchone()[0] == 0


def test_a_refused_context_in_a_pipeline_runs_nothing_after_it(app_engine, context_key, two_orgs):
    """A bad proof aborts the implicit transaction: the statements behind it never run."""
    import psycopg

    a, b = two_orgs
    with _raw_tenant(app_engine) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="bad proof"):
            with conn.pipeline():
                conn.execute(
                    tenancy.ENTER_ORG_DRIVER_SQL,
                    (str(b.org.org_id), tenancy.entry_proof(context_key, a.org.org_id)),
                )
                conn.execute("SELECT set_config('app.probe', 'ran', false)")
                conn.execute("SELECT count(*) FROM users")
        assert conn.execute("SELECT current_setting('app.probe', true)").fetchone()[0] is None
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 0


def test_an_injected_commit_ends_the_context_of_an_implicit_transaction(
    app_engine, context_key, two_orgs
):
    """Outside BEGIN, a DO block may COMMIT (it may not inside one): whatever runs after it,
    in the same pipeline, runs in a new transaction with no organization."""
    a, _ = two_orgs
    with _raw_tenant(app_engine) as conn:
        with conn.pipeline():
            conn.execute(tenancy.ENTER_ORG_DRIVER_SQL, _proof(context_key, a))
            before = conn.execute("SELECT count(*) FROM users")
            conn.execute("DO $$ BEGIN COMMIT; END $$")
            conn.execute("SELECT set_config('app.current_org_id', %s, true)", (str(a.org.org_id),))
            after = conn.execute("SELECT count(*) FROM users")
        assert before.fetchone()[0] == 1
        assert after.fetchone()[0] == 0
