"""The members page: own role, roles above one's own, the last owner, ownership transfer."""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import csrf_token, login
from tests.test_roles import PASSWORD, add_member, set_plan


def _post(client, path: str, **data: str):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": csrf_token(client, "/settings/members"), **data})


def _role(owner_engine, user_id) -> str | None:
    with owner_engine.connect() as conn:
        return conn.scalar(text("SELECT role FROM users WHERE id = :u"), {"u": user_id})


def _client(app, user):  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert login(client, user.email, PASSWORD).status_code == 302
    return client


def test_the_page_lists_members_and_pending_invitations(app, make_org, login_as):
    org = make_org()
    member = add_member(app, org.org_id, "member", name="Listed Person")
    owner = login_as(org)
    _post(owner, "/settings/members/invite", email="pending-x@example.com", role="viewer")
    body = owner.get("/settings/members").get_data(as_text=True)
    assert member.email in body and "Listed Person" in body and "pending-x@example.com" in body


def test_nobody_changes_their_own_role(app, make_org, login_as, owner_engine):
    org = make_org()
    owner = login_as(org)
    response = _post(owner, f"/settings/members/{org.user_id}/role", role="viewer")
    assert response.status_code == 403
    assert "your own role" in response.get_data(as_text=True)
    assert _role(owner_engine, org.user_id) == "owner"


def test_an_admin_grants_no_role_above_their_own_nor_touches_an_owner(app, make_org, owner_engine):
    org = make_org()
    set_plan(owner_engine, org.org_id, "enterprise")
    admin = _client(app, add_member(app, org.org_id, "admin"))
    member = add_member(app, org.org_id, "member")
    assert _post(admin, f"/settings/members/{member.id}/role", role="owner").status_code == 403
    assert _post(admin, f"/settings/members/{org.user_id}/role", role="viewer").status_code == 403
    assert _post(admin, f"/settings/members/{org.user_id}/remove").status_code == 403
    assert _post(admin, f"/settings/members/{member.id}/role", role="admin").status_code == 302
    assert _role(owner_engine, member.id) == "admin"
    assert _role(owner_engine, org.user_id) == "owner"


def test_the_last_owner_is_protected(app, make_org, login_as, owner_engine):
    org = make_org()
    set_plan(owner_engine, org.org_id, "enterprise")
    second = add_member(app, org.org_id, "owner")
    other = _client(app, second)
    # Two owners: one may demote the other; then the remaining one is the last.
    assert _post(other, f"/settings/members/{org.user_id}/role", role="admin").status_code == 302
    first = login_as(org)
    assert _post(first, f"/settings/members/{second.id}/remove").status_code == 403
    with owner_engine.begin() as conn:  # arrange: the only owner, seen from another owner
        conn.execute(text("UPDATE users SET role = 'owner' WHERE id = :u"), {"u": org.user_id})
        conn.execute(text("UPDATE users SET role = 'admin' WHERE id = :u"), {"u": second.id})
    admin = _client(app, second)
    assert _post(admin, f"/settings/members/{org.user_id}/remove").status_code == 403
    assert _role(owner_engine, org.user_id) == "owner"


def test_ownership_transfer_makes_the_owner_an_admin_and_is_audited(
    app, make_org, login_as, owner_engine
):
    org = make_org()
    member = add_member(app, org.org_id, "member")
    owner = login_as(org)
    response = _post(owner, f"/settings/members/{member.id}/transfer")
    assert response.status_code == 302
    assert _role(owner_engine, member.id) == "owner"
    assert _role(owner_engine, org.user_id) == "admin"
    with owner_engine.connect() as conn:
        assert (
            conn.scalar(
                text(
                    "SELECT count(*) FROM audit_events WHERE organization_id = :o "
                    "AND action = 'ownership.transferred'"
                ),
                {"o": org.org_id},
            )
            == 1
        )
    # The former owner, now an admin, can no longer transfer.
    assert _post(owner, f"/settings/members/{org.user_id}/transfer").status_code == 403


def test_removing_a_member_frees_the_seat_and_is_audited(app, make_org, login_as, owner_engine):
    org = make_org()
    member = add_member(app, org.org_id, "member")
    owner = login_as(org)
    assert _post(owner, f"/settings/members/{member.id}/remove").status_code == 302
    with owner_engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM users WHERE id = :u"), {"u": member.id}) == 0
        actions = conn.scalars(
            text("SELECT action FROM audit_events WHERE organization_id = :o"), {"o": org.org_id}
        ).all()
    assert "member.removed" in actions
    assert _client_refused(app, member)


def _client_refused(app, user) -> bool:  # type: ignore[no-untyped-def]
    client = app.test_client()
    return login(client, user.email, PASSWORD).status_code != 302


def test_another_organizations_member_is_404(app, make_org, login_as):
    a, b = make_org(), make_org()
    owner_b = login_as(b)
    assert _post(owner_b, f"/settings/members/{a.user_id}/role", role="viewer").status_code == 404
    assert _post(owner_b, f"/settings/members/{a.user_id}/transfer").status_code == 404
