"""`flask tenancy check`, the start-up guard, and the migrations' shape."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from tests.conftest import make_app
from webapp.tenancy_check import UnsafeDatabaseRole


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
