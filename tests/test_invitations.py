"""Invitations: the link works once, expires, can be revoked, and stays in its organization."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import text

from tests.conftest import csrf_token, invite
from tests.test_roles import set_plan

ACCEPT_TOKEN_RE = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')


def _path(link: str) -> str:
    return "/invitations/" + link.rsplit("/", 1)[1]


def _accept(
    client, link: str, email: str, name: str = "New Person", password: str = "pw-long-enough-1"
):  # type: ignore[no-untyped-def]
    path = _path(link)
    page = client.get(path)
    match = ACCEPT_TOKEN_RE.search(page.get_data(as_text=True))
    token = match.group(1) if match else ""
    return client.post(
        path,
        data={
            "csrf_token": token,
            "email": email,
            "name": name,
            "password": password,
            "confirm": password,
        },
    )


def _email() -> str:
    return f"invitee-{uuid.uuid4().hex[:8]}@example.com"


def test_an_invitation_is_accepted_once_and_the_person_joins_with_its_role(
    app, make_org, login_as, owner_engine
):
    org = make_org()
    admin = login_as(org)
    email = _email()
    link = invite(admin, email, "viewer")
    with owner_engine.connect() as conn:
        stored = conn.execute(
            text("SELECT token_hash FROM invitations WHERE email = :e"), {"e": email}
        ).scalar_one()
    # The link ends in <org hex>_<invitation hex>_<secret>; the secret may itself hold "_".
    secret = link.rsplit("/", 1)[1].split("_", 2)[2]
    assert len(secret) >= 40 and secret not in stored and len(stored) == 64  # only a hash is kept
    joined = _accept(app.test_client(), link, email)
    assert joined.status_code == 302, joined.get_data(as_text=True)
    with owner_engine.connect() as conn:
        row = conn.execute(
            text("SELECT organization_id, role FROM users WHERE email = :e"), {"e": email}
        ).one()
        actions = conn.scalars(
            text("SELECT action FROM audit_events WHERE organization_id = :o"), {"o": org.org_id}
        ).all()
    assert (row.organization_id, row.role) == (org.org_id, "viewer")
    assert {"member.invited", "member.joined"} <= set(actions)
    # Reused: the same link a second time.
    again = app.test_client().get(_path(link))
    assert again.status_code == 410
    assert "already been used" in again.get_data(as_text=True)


def test_an_expired_invitation_is_refused(app, make_org, login_as, owner_engine):
    org = make_org()
    email = _email()
    link = invite(login_as(org), email, "member")
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE invitations SET expires_at = now() - interval '1 minute' WHERE email = :e"
            ),
            {"e": email},
        )
    response = app.test_client().get(_path(link))
    assert response.status_code == 410
    assert "expired" in response.get_data(as_text=True)


def test_a_revoked_invitation_is_refused_and_audited(app, make_org, login_as, owner_engine):
    org = make_org()
    admin = login_as(org)
    email = _email()
    link = invite(admin, email, "member")
    invitation_id = uuid.UUID(hex=link.rsplit("/", 1)[1].split("_")[1])
    token = csrf_token(admin, "/settings/members")
    revoked = admin.post(
        f"/settings/invitations/{invitation_id}/revoke", data={"csrf_token": token}
    )
    assert revoked.status_code == 302
    response = app.test_client().get(_path(link))
    assert response.status_code == 410
    assert "revoked" in response.get_data(as_text=True)
    with owner_engine.connect() as conn:
        assert (
            conn.scalar(
                text(
                    "SELECT count(*) FROM audit_events "
                    "WHERE action = 'invitation.revoked' AND organization_id = :o"
                ),
                {"o": org.org_id},
            )
            == 1
        )


def test_a_link_with_another_organizations_id_or_a_wrong_secret_is_404(app, make_org, login_as):
    a, b = make_org(), make_org()
    email = _email()
    link = invite(login_as(a), email, "member")
    org_hex, invitation_hex, secret = link.rsplit("/", 1)[1].split("_", 2)
    client = app.test_client()
    # A's invitation presented under B's organization id: not found there.
    assert client.get(f"/invitations/{b.org_id.hex}_{invitation_hex}_{secret}").status_code == 404
    assert client.get(f"/invitations/{org_hex}_{invitation_hex}_wrong").status_code == 404
    assert client.get("/invitations/not-a-link").status_code == 404
    assert client.get(_path(link)).status_code == 200  # the real link still works


def test_the_email_is_fixed_by_the_invitation(app, make_org, login_as):
    org = make_org()
    email = _email()
    link = invite(login_as(org), email, "member")
    response = _accept(app.test_client(), link, _email())
    assert response.status_code == 400
    assert f"This invitation is for {email}" in response.get_data(as_text=True)


def test_an_email_already_used_on_the_platform_is_refused(app, make_org, login_as):
    a, b = make_org(), make_org()
    admin = login_as(a)
    token = csrf_token(admin, "/settings/members")
    response = admin.post(
        "/settings/members/invite", data={"email": b.email, "role": "member", "csrf_token": token}
    )
    assert response.status_code == 400
    assert "already has an account" in response.get_data(as_text=True)


def test_pending_invitations_count_against_the_member_quota(app, make_org, login_as, owner_engine):
    org = make_org()  # free plan: 3 members, the owner is one
    admin = login_as(org)
    invite(admin, _email(), "member")
    invite(admin, _email(), "member")
    token = csrf_token(admin, "/settings/members")
    response = admin.post(
        "/settings/members/invite", data={"email": _email(), "role": "member", "csrf_token": token}
    )
    assert response.status_code == 403
    assert "pending invitation" in response.get_data(as_text=True)
    set_plan(owner_engine, org.org_id, "pro")
    invite(admin, _email(), "member")


def test_an_admin_cannot_invite_above_their_own_role(app, make_org, login_as):
    from tests.conftest import login
    from tests.test_roles import PASSWORD, add_member

    org = make_org()
    admin_user = add_member(app, org.org_id, "admin")
    admin = app.test_client()
    login(admin, admin_user.email, PASSWORD)
    token = csrf_token(admin, "/settings/members")
    response = admin.post(
        "/settings/members/invite", data={"email": _email(), "role": "owner", "csrf_token": token}
    )
    assert response.status_code in (400, 403)
