"""Sessions end when they should (issue 11 §2): a copy of the cookie taken before an event is
replayed after it and refused — log-out, password change, removal, role change, ownership
transfer, and a platform admin's log-out.
"""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import csrf_token, login
from tests.test_admin import admin_login, platform_admin  # noqa: F401 - a fixture
from tests.test_roles import PASSWORD, add_member, set_plan

PAGE = "/documents"  # any page that needs a signed-in member


def _cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None, "no session cookie"
    return cookie.value


def _replay(app: Flask, cookie: str, path: str = PAGE):  # type: ignore[no-untyped-def]
    """The request a thief holding ``cookie`` would make, from a browser of their own."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief.get(path)


def _signed_in(app: Flask, cookie: str) -> bool:
    response = _replay(app, cookie)
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and "/login" in response.headers["Location"], (
        response.status_code
    )
    return False


def _client(app: Flask, email: str, password: str = PASSWORD) -> FlaskClient:
    client = app.test_client()
    assert login(client, email, password).status_code == 302
    return client


def _post(client: FlaskClient, path: str, form_page: str, **data: str):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": csrf_token(client, form_page), **data})


def test_a_cookie_copied_before_log_out_is_refused_after_it(app, make_org, login_as):
    org = make_org()
    client = login_as(org)
    copied = _cookie(client)
    other_device = _client(app, org.email, org.password)
    assert _signed_in(app, copied)
    assert _post(client, "/logout", PAGE).status_code == 302
    assert not _signed_in(app, copied)
    # Log-out ends the account's other sessions as well.
    assert other_device.get(PAGE).status_code == 302
    # Logging in again works and gives a session that works.
    assert _signed_in(app, _cookie(_client(app, org.email, org.password)))


def test_a_password_change_ends_other_sessions_and_keeps_the_changers(app, make_org, login_as):
    org = make_org()
    client = login_as(org)
    copied = _cookie(client)
    new_password = "a-brand-new-password"
    response = _post(
        client,
        "/account/password",
        "/account/password",
        current=org.password,
        password=new_password,
        confirm=new_password,
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert not _signed_in(app, copied)
    assert client.get(PAGE).status_code == 200  # the changer's own session was re-issued
    assert login(app.test_client(), org.email, org.password).status_code == 401
    assert _signed_in(app, _cookie(_client(app, org.email, new_password)))


def test_a_wrong_current_password_changes_nothing(app, make_org, login_as):
    org = make_org()
    client = login_as(org)
    copied = _cookie(client)
    response = _post(
        client,
        "/account/password",
        "/account/password",
        current="not-the-password",
        password="another-long-password",
        confirm="another-long-password",
    )
    assert response.status_code == 400
    assert "current password is not right" in response.get_data(as_text=True)
    assert _signed_in(app, copied)
    assert login(app.test_client(), org.email, org.password).status_code == 302


def test_a_removed_member_s_cookie_is_refused(app, make_org, login_as):
    org = make_org()
    member = add_member(app, org.org_id, "member")
    copied = _cookie(_client(app, member.email))
    assert _signed_in(app, copied)
    owner = login_as(org)
    assert _post(owner, f"/settings/members/{member.id}/remove", PAGE).status_code == 302
    assert not _signed_in(app, copied)


def test_a_role_change_ends_the_member_s_sessions(app, make_org, login_as, owner_engine):
    org = make_org()
    set_plan(owner_engine, org.org_id, "enterprise")
    member = add_member(app, org.org_id, "admin")
    copied = _cookie(_client(app, member.email))
    owner = login_as(org)
    owner_cookie = _cookie(owner)
    response = _post(owner, f"/settings/members/{member.id}/role", PAGE, role="viewer")
    assert response.status_code == 302
    assert not _signed_in(app, copied)
    assert _signed_in(app, owner_cookie)  # the one who changed it stays signed in
    # The member logs in again, and the new session works.
    assert _signed_in(app, _cookie(_client(app, member.email)))


def test_an_ownership_transfer_ends_both_people_s_earlier_sessions(
    app, make_org, login_as, owner_engine
):
    org = make_org()
    set_plan(owner_engine, org.org_id, "enterprise")
    member = add_member(app, org.org_id, "admin")
    member_cookie = _cookie(_client(app, member.email))
    owner = login_as(org)
    owner_copy = _cookie(owner)
    response = _post(owner, f"/settings/members/{member.id}/transfer", PAGE)
    assert response.status_code == 302
    assert not _signed_in(app, member_cookie)
    assert not _signed_in(app, owner_copy)
    assert owner.get(PAGE).status_code == 200  # re-issued for the one who transferred


def test_a_platform_admin_cookie_copied_before_log_out_is_refused(app, platform_admin):  # noqa: F811
    client = app.test_client()
    assert admin_login(client, platform_admin.email, platform_admin.password).status_code == 302
    copied = _cookie(client)
    other_device = app.test_client()
    response = admin_login(other_device, platform_admin.email, platform_admin.password)
    assert response.status_code == 302
    assert _replay(app, copied, "/admin/").status_code == 200
    assert _post(client, "/admin/logout", "/admin/").status_code == 302
    assert _replay(app, copied, "/admin/").status_code == 404
    assert other_device.get("/admin/").status_code == 404
    fresh = app.test_client()
    assert admin_login(fresh, platform_admin.email, platform_admin.password).status_code == 302
    assert fresh.get("/admin/").status_code == 200


def test_guessing_the_current_password_is_throttled_like_a_log_in(app, make_org, login_as):
    org = make_org()
    client = login_as(org)  # one attempt of the account's ten a minute
    for _ in range(9):
        wrong = _post(
            client,
            "/account/password",
            "/account/password",
            current="a-wrong-guess",
            password="another-long-password",
            confirm="another-long-password",
        )
        assert "current password is not right" in wrong.get_data(as_text=True)
    right = _post(
        client,
        "/account/password",
        "/account/password",
        current=org.password,
        password="another-long-password",
        confirm="another-long-password",
    )
    assert right.status_code == 400
    assert "Too many log-in attempts" in right.get_data(as_text=True)
