"""Deleting an organization: typed name, grace period, restore, and the final purge."""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import csrf_token, login
from webapp.extensions import db
from webapp.org import lifecycle
from webapp.tenancy import tenant_context


def _status(owner_engine, org_id) -> tuple[str, object]:
    with owner_engine.connect() as conn:
        return tuple(
            conn.execute(
                text("SELECT status, deletion_requested_at FROM organizations WHERE id = :o"),
                {"o": org_id},
            ).one()
        )


def _delete(client, name: str):
    token = csrf_token(client, "/settings/delete")
    return client.post("/settings/delete", data={"confirm_name": name, "csrf_token": token})


def _age_deletion(owner_engine, org_id, days: int) -> None:
    """Pretend the deletion was asked for ``days`` ago."""
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE organizations "
                "SET deletion_requested_at = now() - make_interval(days => :d) WHERE id = :o"
            ),
            {"d": days, "o": org_id},
        )


def _purge(app) -> int:
    with app.app_context():
        purged = lifecycle.purge_deleted_organizations()
        db.session.remove()
    return purged


def tenant_tables(owner_engine) -> list[str]:
    with owner_engine.connect() as conn:
        return conn.scalars(
            text(
                "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' "
                "AND column_name = 'organization_id' ORDER BY 1"
            )
        ).all()


def _fingerprint(owner_engine, org_id) -> dict[str, object]:
    """Everything of one organization, table by table, as the owner role sees it."""
    with owner_engine.connect() as conn:
        found = {
            table: conn.scalar(
                text(
                    f"SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {table} t "
                    "WHERE organization_id = :o"
                ),
                {"o": org_id},
            )
            for table in tenant_tables(owner_engine)
        }
        found["organizations"] = conn.scalar(
            text("SELECT md5(t::text) FROM organizations t WHERE id = :o"), {"o": org_id}
        )
    return found


def test_a_wrong_name_deletes_nothing(make_org, login_as, owner_engine):
    org = make_org()
    client = login_as(org)
    response = _delete(client, org.name + "x")
    assert response.status_code == 400
    assert "does not match" in response.get_data(as_text=True)
    assert _status(owner_engine, org.org_id) == ("active", None)
    assert client.get("/documents").status_code == 200


def test_people_are_signed_out_and_the_owner_restores_within_the_grace_period(
    app, make_org, login_as, owner_engine
):
    org = make_org()
    owner, colleague = login_as(org), login_as(org)
    response = _delete(owner, org.name)
    assert response.status_code == 302 and response.location.endswith("/organization/restore")
    status, requested = _status(owner_engine, org.org_id)
    assert status == "pending_deletion" and requested is not None
    # Another signed-in session sees when the organization goes, and how to restore it.
    page = colleague.get("/documents")
    body = page.get_data(as_text=True)
    assert page.status_code == 403
    assert "will be deleted on" in body and org.name in body
    assert colleague.get("/documents").status_code == 302  # signed out now
    # Nobody can sign in meanwhile.
    assert login(app.test_client(), org.email, org.password).status_code != 302
    # A wrong password restores nothing.
    client = app.test_client()
    token = csrf_token(client, "/organization/restore")
    refused = client.post(
        "/organization/restore",
        data={"email": org.email, "password": "wrong-password", "csrf_token": token},
    )
    assert refused.status_code == 401
    assert _status(owner_engine, org.org_id)[0] == "pending_deletion"
    restored = client.post(
        "/organization/restore",
        data={"email": org.email, "password": org.password, "csrf_token": token},
    )
    assert restored.status_code == 302
    assert _status(owner_engine, org.org_id) == ("active", None)
    assert login(app.test_client(), org.email, org.password).status_code == 302
    with owner_engine.connect() as conn:
        actions = conn.scalars(
            text("SELECT action FROM audit_events WHERE organization_id = :o"), {"o": org.org_id}
        ).all()
    assert {"organization.deletion_requested", "organization.restored"} <= set(actions)


def test_the_purge_waits_for_the_grace_period(app, make_org, login_as, owner_engine):
    org = make_org()
    assert _delete(login_as(org), org.name).status_code == 302
    _age_deletion(owner_engine, org.org_id, 6)
    _purge(app)
    assert _status(owner_engine, org.org_id)[0] == "pending_deletion"


def test_after_the_purge_no_row_of_the_organization_remains_and_others_are_untouched(
    app, populate_org, owner_engine, app_engine, enter_org
):
    a, b = populate_org(), populate_org()
    before_b = _fingerprint(owner_engine, b.org.org_id)
    assert all(before_b.values()), "B has a row in every tenant table"
    assert _delete(a.client, a.org.name).status_code == 302
    _age_deletion(owner_engine, a.org.org_id, 8)
    assert _purge(app) >= 1
    # Counted by the owner role, which RLS cannot empty...
    with owner_engine.connect() as conn:
        for table in tenant_tables(owner_engine):
            left = conn.scalar(
                text(f"SELECT count(*) FROM {table} WHERE organization_id = :o"),
                {"o": a.org.org_id},
            )
            assert left == 0, f"{table} still holds {left} rows of the deleted organization"
        assert not conn.scalar(
            text("SELECT count(*) FROM organizations WHERE id = :o"), {"o": a.org.org_id}
        )
        purged = conn.execute(
            text(
                "SELECT actor, old_value FROM platform_audit_events "
                "WHERE action = 'organization.purged' AND target_id = :o"
            ),
            {"o": str(a.org.org_id)},
        ).one()
    assert purged.actor == "system:purge" and purged.old_value["rows_deleted"]["documents"] == 1
    # ...and by the app role with the deleted organization's context set.
    with app_engine.connect() as conn:
        enter_org(conn, a.org.org_id)
        for table in [*tenant_tables(owner_engine), "organizations"]:
            assert conn.scalar(text(f"SELECT count(*) FROM {table}")) == 0, table
    assert _fingerprint(owner_engine, b.org.org_id) == before_b
    assert b.client.get(f"/documents/{b.document_id}").status_code == 200


def test_the_purge_door_refuses_an_active_organization(make_org, platform_engine, owner_engine):
    """Even the platform role, the only one that may call it (0010), cannot purge too early."""
    org = make_org()
    with platform_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT * FROM app_purge_organization(:o, interval '0')"), {"o": org.org_id}
        ).all()
        conn.commit()
    assert rows == []
    assert _status(owner_engine, org.org_id)[0] == "active"


def test_only_the_owner_can_delete(app, make_org):
    """A non-owner gets a clear 403 (roles beyond owner come from the invitations feature)."""
    org = make_org()
    with app.app_context(), tenant_context(org.org_id):
        from webapp.models import User

        user = db.session.get(User, (org.org_id, org.user_id))
        user.role = "admin"
        db.session.commit()
        db.session.remove()
    client = app.test_client()
    assert login(client, org.email, org.password).status_code == 302
    response = client.get("/settings/delete")
    assert response.status_code == 403
    assert "owner" in response.get_data(as_text=True)
