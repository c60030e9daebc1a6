"""`flask tenancy check`, the start-up guard, and the migrations' shape."""

from __future__ import annotations

import importlib
import os

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from tests.conftest import APP_ROLE, PLATFORM_ROLE, make_app
from webapp.tenancy_check import UnsafeDatabaseRole

_ROLES_BY_TRUST = importlib.import_module("migrations.versions.0010_roles_by_trust")
CURRENT_ORG_PLAIN = _ROLES_BY_TRUST.CURRENT_ORG_PLAIN
CURRENT_ORG_VERIFIED = importlib.import_module("migrations.versions.0017_context").CURRENT_ORG


def test_check_passes_on_the_migrated_database(runner):
    result = runner.invoke(args=["tenancy", "check"])
    assert result.exit_code == 0, result.output
    assert "all invariants hold" in result.output


SCRATCH_CASES = [
    pytest.param(
        "CREATE TABLE scratch_notes (organization_id uuid NOT NULL REFERENCES organizations(id), "
        "id uuid NOT NULL, PRIMARY KEY (organization_id, id)); "
        "ALTER TABLE scratch_notes ENABLE ROW LEVEL SECURITY",
        [
            "scratch_notes: row-level security is not forced",
            "scratch_notes: no policy with USING and WITH CHECK",
        ],
        id="rls-not-forced-no-policy",
    ),
    pytest.param(
        "CREATE TABLE scratch_notes (id uuid PRIMARY KEY, organization_id uuid NOT NULL); "
        "ALTER TABLE scratch_notes ENABLE ROW LEVEL SECURITY; "
        "ALTER TABLE scratch_notes FORCE ROW LEVEL SECURITY; "
        "CREATE POLICY p ON scratch_notes USING (organization_id = (SELECT app_current_org()))",
        [
            "scratch_notes: primary key does not start with organization_id",
            "scratch_notes: no index leads with organization_id",
            "scratch_notes: no policy with USING and WITH CHECK",
        ],
        id="bad-key-no-with-check",
    ),
    pytest.param(
        "CREATE TABLE scratch_notes (organization_id uuid NOT NULL, id uuid NOT NULL, "
        "user_id uuid, PRIMARY KEY (organization_id, id), "
        "CONSTRAINT scratch_user FOREIGN KEY (user_id, organization_id) "
        "REFERENCES users (id, organization_id)); "
        "ALTER TABLE scratch_notes ENABLE ROW LEVEL SECURITY; "
        "ALTER TABLE scratch_notes FORCE ROW LEVEL SECURITY; "
        "CREATE POLICY p ON scratch_notes USING (organization_id = (SELECT app_current_org())) "
        "WITH CHECK (organization_id = (SELECT app_current_org()))",
        [],
        id="composite-fk-is-fine",
    ),
]


@pytest.mark.parametrize(("ddl", "expected"), SCRATCH_CASES)
def test_check_names_the_broken_table(runner, owner_engine, ddl, expected):
    """Does the check read the live catalog, naming each problem of a table added later?"""
    with owner_engine.begin() as conn:
        if "REFERENCES users (id, organization_id)" in ddl:
            conn.execute(
                text(
                    "CREATE UNIQUE INDEX IF NOT EXISTS scratch_users_id_org "
                    "ON users (id, organization_id)"
                )
            )
        conn.execute(text(ddl))
    try:
        result = runner.invoke(args=["tenancy", "check"])
    finally:
        with owner_engine.begin() as conn:
            conn.execute(text("DROP TABLE scratch_notes"))
            conn.execute(text("DROP INDEX IF EXISTS scratch_users_id_org"))
    if expected:
        assert result.exit_code == 1
        for line in expected:
            assert line in result.output
        assert "tenant-isolation violation" in result.output
    else:
        assert result.exit_code == 0, result.output


def test_check_flags_a_foreign_key_without_organization(runner, owner_engine):
    with owner_engine.begin() as conn:
        conn.execute(text("CREATE UNIQUE INDEX scratch_users_id ON users (id)"))
        conn.execute(
            text(
                "CREATE TABLE scratch_notes (organization_id uuid NOT NULL, id uuid NOT NULL, "
                "user_id uuid REFERENCES users (id), PRIMARY KEY (organization_id, id)); "
                "ALTER TABLE scratch_notes ENABLE ROW LEVEL SECURITY; "
                "ALTER TABLE scratch_notes FORCE ROW LEVEL SECURITY; "
                "CREATE POLICY p ON scratch_notes "
                "USING (organization_id = (SELECT app_current_org()))"
                " WITH CHECK (organization_id = (SELECT app_current_org()))"
            )
        )
    try:
        result = runner.invoke(args=["tenancy", "check"])
    finally:
        with owner_engine.begin() as conn:
            conn.execute(text("DROP TABLE scratch_notes"))
            conn.execute(text("DROP INDEX scratch_users_id"))
    assert result.exit_code == 1
    assert "to users does not include organization_id" in result.output


def test_startup_refuses_a_role_that_bypasses_rls(services):
    """The owner role used for migrations is a superuser here: the app must not serve as it."""
    unsafe = make_app(services, SQLALCHEMY_DATABASE_URI=services.owner_url)
    with pytest.raises(UnsafeDatabaseRole, match="superuser"):
        unsafe.test_client().get("/login")


def test_startup_refuses_a_role_with_bypassrls(services, owner_engine):
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "DO $$ BEGIN IF NOT EXISTS "
                "(SELECT FROM pg_roles WHERE rolname = 'pmdi_test_bypass') "
                "THEN CREATE ROLE pmdi_test_bypass LOGIN BYPASSRLS; END IF; END $$"
            )
        )
    from webapp.embedded import with_role

    unsafe = make_app(
        services, SQLALCHEMY_DATABASE_URI=with_role(services.app_url, "pmdi_test_bypass", "x")
    )
    with pytest.raises(UnsafeDatabaseRole, match="BYPASSRLS"):
        unsafe.test_client().get("/login")


def test_the_runtime_role_serves(client):
    assert client.get("/login").status_code == 200


def test_startup_refuses_a_platform_role_that_bypasses_rls(services):
    """The platform role is held to the same rule as the tenant role."""
    unsafe = make_app(services, PLATFORM_DATABASE_URL=services.owner_url)
    with pytest.raises(UnsafeDatabaseRole, match="superuser"):
        unsafe.test_client().get("/login")


def test_exactly_one_alembic_head(app):
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, heads


# --- the privilege matrix (migration 0010): each new kind of violation is named ------------

T, P = f'"{APP_ROLE}"', f'"{PLATFORM_ROLE}"'
MATRIX_CASES = [
    pytest.param(
        f"GRANT EXECUTE ON FUNCTION app_login_lookup(text) TO {T}",
        f"REVOKE EXECUTE ON FUNCTION app_login_lookup(text) FROM {T}",
        f"function app_login_lookup: is executable by the tenant role {APP_ROLE}",
        id="tenant-runs-a-platform-door",
    ),
    pytest.param(
        "GRANT EXECUTE ON FUNCTION app_admin_update_plan(text, jsonb) TO PUBLIC",
        "REVOKE EXECUTE ON FUNCTION app_admin_update_plan(text, jsonb) FROM PUBLIC",
        f"function app_admin_update_plan: is executable by the tenant role {APP_ROLE}",
        id="door-granted-to-public",
    ),
    pytest.param(
        f"REVOKE EXECUTE ON FUNCTION app_outbox_pending(interval, integer) FROM {P}",
        f"GRANT EXECUTE ON FUNCTION app_outbox_pending(interval, integer) TO {P}",
        f"function app_outbox_pending: is not executable by the platform role {PLATFORM_ROLE}",
        id="platform-lost-a-door",
    ),
    pytest.param(
        f"GRANT EXECUTE ON FUNCTION app_enter_org(uuid, text) TO {P}",
        f"REVOKE EXECUTE ON FUNCTION app_enter_org(uuid, text) FROM {P}",
        f"function app_enter_org: is executable by the platform role {PLATFORM_ROLE}",
        id="platform-runs-a-tenant-door",
    ),
    pytest.param(
        f"GRANT INSERT ON platform_admins TO {T}",
        f"REVOKE INSERT ON platform_admins FROM {T}",
        f"platform_admins: the tenant role {APP_ROLE} holds INSERT",
        id="tenant-writes-platform-admins",
    ),
    pytest.param(
        f"GRANT INSERT ON platform_admins TO {P}",
        f"REVOKE INSERT ON platform_admins FROM {P}",
        f"platform_admins: the platform role {PLATFORM_ROLE} holds INSERT",
        id="platform-inserts-admins-past-the-door",
    ),
    pytest.param(
        f"GRANT UPDATE (email) ON platform_admins TO {P}",
        f"REVOKE UPDATE (email) ON platform_admins FROM {P}",
        f"platform_admins: the platform role {PLATFORM_ROLE} holds UPDATE(email)",
        id="platform-changes-an-admin-s-email",
    ),
    pytest.param(
        f"REVOKE SELECT ON platform_audit_events FROM {P}",
        f"GRANT SELECT ON platform_audit_events TO {P}",
        f"platform_audit_events: the platform role {PLATFORM_ROLE} lacks SELECT",
        id="platform-lost-a-grant",
    ),
    pytest.param(
        f"GRANT SELECT ON app_context_keys TO {T}",
        f"REVOKE SELECT ON app_context_keys FROM {T}",
        f"app_context_keys: the tenant role {APP_ROLE} holds SELECT",
        id="tenant-reads-the-key",
    ),
    pytest.param(
        f"GRANT TRUNCATE ON documents TO {T}",
        f"REVOKE TRUNCATE ON documents FROM {T}",
        f"documents: the tenant role {APP_ROLE} holds TRUNCATE",
        id="tenant-truncates-past-rls",
    ),
    pytest.param(
        f"GRANT SELECT ON users TO {P}",
        f"REVOKE SELECT ON users FROM {P}",
        f"users: the platform role {PLATFORM_ROLE} holds SELECT",
        id="platform-reads-a-tenant-table",
    ),
    pytest.param(
        f"CREATE TABLE scratch_global (id int); GRANT SELECT ON scratch_global TO {T}",
        "DROP TABLE scratch_global",
        "scratch_global: is not in the privilege matrix",
        id="global-table-outside-the-matrix",
    ),
    pytest.param(
        f"GRANT TEMPORARY ON DATABASE {{db}} TO {T}",
        f"REVOKE TEMPORARY ON DATABASE {{db}} FROM {T}",
        f"tenant role {APP_ROLE}: may create TEMPORARY tables",
        id="tenant-creates-temporary-tables",
    ),
    pytest.param(
        f"GRANT CREATE ON SCHEMA public TO {P}",
        f"REVOKE CREATE ON SCHEMA public FROM {P}",
        f"platform role {PLATFORM_ROLE}: may CREATE in schema public",
        id="platform-creates-objects",
    ),
    pytest.param(
        CURRENT_ORG_PLAIN,
        CURRENT_ORG_VERIFIED,
        "app_current_org(): trusts a plain set_config",
        id="context-not-verified",
    ),
]


@pytest.mark.parametrize(("breach", "repair", "expected"), MATRIX_CASES)
def test_check_names_each_privilege_violation(
    runner, owner_engine, make_org, breach, repair, expected
):
    make_org()  # an organization whose id the live probe can try
    with owner_engine.connect() as conn:
        database = conn.scalar(text("SELECT current_database()"))
    with owner_engine.begin() as conn:
        conn.execute(text(breach.replace("{db}", f'"{database}"')))
    try:
        result = runner.invoke(args=["tenancy", "check"])
    finally:
        with owner_engine.begin() as conn:
            conn.execute(text(repair.replace("{db}", f'"{database}"')))
    assert result.exit_code == 1, result.output
    assert expected in result.output
    if "set_config" in expected:  # the live probe also counts what it could read
        assert "a plain set_config of another organization reads" in result.output
    assert runner.invoke(args=["tenancy", "check"]).exit_code == 0


def test_check_names_a_role_membership(owner_engine):
    """Membership is cluster-wide: shown on scratch roles, not the ones other runs share."""
    from webapp.tenancy_check import _check_role_reach

    member, group = f"pmdi_scratch_member_{os.getpid()}", f"pmdi_scratch_group_{os.getpid()}"
    with owner_engine.begin() as conn:
        for role in (member, group):
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
            conn.execute(text(f'CREATE ROLE "{role}"'))
        conn.execute(text(f'GRANT "{group}" TO "{member}"'))
    try:
        with owner_engine.connect() as conn:
            found = [str(v) for v in _check_role_reach(conn, "tenant", member)]
    finally:
        with owner_engine.begin() as conn:
            for role in (member, group):
                conn.execute(text(f'DROP ROLE "{role}"'))
    assert f"tenant role {member}: is a member of role {group}" in found


def test_citus_plan_distributes_the_live_schema(runner):
    """Does the real schema distribute by organization_id, every tenant table co-located?"""
    result = runner.invoke(args=["tenancy", "citus-plan"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "SELECT create_reference_table('plans');" in lines
    assert "SELECT create_reference_table('organizations');" in lines
    assert "SELECT create_distributed_table('documents', 'organization_id'" in result.output
    distributed = [line for line in lines if "create_distributed_table" in line]
    assert len(distributed) >= 8
    # One anchor, every other table co-located with it.
    assert sum("colocate_with" not in line for line in distributed) == 1
    # Referenced before referencing: plans and organizations come before any tenant table,
    # documents before its blobs.
    index = {line.split("'")[1]: i for i, line in enumerate(lines) if line.startswith("SELECT")}
    assert index["plans"] < index["organizations"] < index["documents"] < index["document_blobs"]
    assert "alembic_version" not in "".join(distributed)


CITUS_BLOCKERS = [
    pytest.param(
        "CREATE TABLE scratch_notes (id uuid PRIMARY KEY, organization_id uuid NOT NULL)",
        "scratch_notes: primary key scratch_notes_pkey does not include organization_id",
        id="primary-key-without-organization",
    ),
    pytest.param(
        "CREATE TABLE scratch_notes (organization_id uuid NOT NULL, id uuid NOT NULL, "
        "code text, PRIMARY KEY (organization_id, id), CONSTRAINT scratch_code UNIQUE (code))",
        "scratch_notes: unique index scratch_code does not include organization_id",
        id="unique-without-organization",
    ),
    pytest.param(
        "CREATE TABLE scratch_notes (organization_id uuid, id uuid NOT NULL, "
        "PRIMARY KEY (id, organization_id))",
        None,  # a primary key makes its columns NOT NULL: this one distributes
        id="organization-second-in-key",
    ),
    pytest.param(
        "CREATE TABLE scratch_notes (organization_id uuid NOT NULL, id uuid NOT NULL, "
        "document_id uuid, PRIMARY KEY (organization_id, id), "
        "CONSTRAINT scratch_doc FOREIGN KEY (document_id, organization_id) "
        "REFERENCES documents (id, organization_id))",
        None,  # the pair is (organization_id, organization_id), whatever the column order
        id="composite-fk-reordered",
    ),
    pytest.param(
        "CREATE TABLE scratch_notes (organization_id uuid NOT NULL, id uuid NOT NULL, "
        "other_org uuid, document_id uuid, PRIMARY KEY (organization_id, id), "
        "CONSTRAINT scratch_doc FOREIGN KEY (other_org, document_id) "
        "REFERENCES documents (organization_id, id))",
        "scratch_notes: foreign key scratch_doc to documents does not pair organization_id",
        id="fk-pairs-another-column",
    ),
    pytest.param(
        "CREATE TABLE scratch_notes (id uuid PRIMARY KEY, document_org uuid, document_id uuid, "
        "CONSTRAINT scratch_doc FOREIGN KEY (document_org, document_id) "
        "REFERENCES documents (organization_id, id))",
        "scratch_notes: foreign key scratch_doc to documents: a reference table cannot point",
        id="reference-to-distributed",
    ),
]


@pytest.mark.parametrize(("ddl", "expected"), CITUS_BLOCKERS)
def test_citus_plan_names_what_blocks_distribution(runner, owner_engine, ddl, expected):
    """A table added later that Citus would refuse: exit 1 naming it, the constraint and why."""
    with owner_engine.begin() as conn:
        conn.execute(text(ddl))
    try:
        result = runner.invoke(args=["tenancy", "citus-plan"])
    finally:
        with owner_engine.begin() as conn:
            conn.execute(text("DROP TABLE scratch_notes"))
    if expected is None:
        assert result.exit_code == 0, result.output
        assert "create_distributed_table('scratch_notes', 'organization_id'" in result.output
        return
    assert result.exit_code == 1, result.output
    assert expected in result.output
    assert "obstacle(s) to distributing by organization_id" in result.output
    assert "create_distributed_table" not in result.output
