"""Sign-up, log-in, log-out, CSRF, suspension, throttling, and their audit trail."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from tests.conftest import csrf_token, login, make_app


def _audit_actions(owner_engine, org_id) -> list[str]:
    with owner_engine.connect() as conn:
        return list(
            conn.scalars(
                text(
                    "SELECT action FROM audit_events WHERE organization_id = :o ORDER BY created_at"
                ),
                {"o": org_id},
            )
        )


def test_signup_creates_org_owner_and_logs_in(client, owner_engine):
    tag = uuid.uuid4().hex[:8]
    token = csrf_token(client, "/signup")
    response = client.post(
        "/signup",
        data={
            "organization": f"Acme {tag}",
            "name": "Ada Owner",
            "email": f"Ada-{tag}@Example.com ",
            "password": "correct horse battery",
            "confirm": "correct horse battery",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert f"Acme {tag}" in page.get_data(as_text=True)
    with owner_engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT u.role, u.email, o.plan_id, o.id, u.password_hash FROM users u "
                "JOIN organizations o ON o.id = u.organization_id WHERE u.email = :e"
            ),
            {"e": f"ada-{tag}@example.com"},
        ).one()
    assert (row.role, row.plan_id) == ("owner", "free")
    assert row.password_hash.startswith("$argon2")
    assert _audit_actions(owner_engine, row.id) == ["organization.created", "auth.signup"]


def test_signup_refuses_taken_email_and_changes_nothing(client, make_org, owner_engine):
    org = make_org()
    with owner_engine.connect() as conn:
        before = conn.scalar(text("SELECT count(*) FROM organizations"))
    token = csrf_token(client, "/signup")
    response = client.post(
        "/signup",
        data={
            "organization": "Copycat",
            "name": "Eve",
            "email": org.email.upper(),
            "password": "another long password",
            "confirm": "another long password",
            "csrf_token": token,
        },
    )
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)
    with owner_engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM organizations")) == before


def test_signup_validates_input(client):
    token = csrf_token(client, "/signup")
    response = client.post(
        "/signup",
        data={
            "organization": "X",
            "name": "",
            "email": "not-an-email",
            "password": "short",
            "confirm": "different",
            "csrf_token": token,
        },
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Use at least 10 characters." in body
    assert "An email address must have an @-sign." in body


def test_login_logout_round_trip(client, make_org, owner_engine):
    org = make_org()
    response = login(client, org.email, org.password)
    assert response.status_code == 302 and response.headers["Location"].endswith("/dashboard")
    assert client.get("/dashboard").status_code == 200
    token = csrf_token(client, "/dashboard")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    after = client.get("/dashboard")
    assert after.status_code == 302 and "/login" in after.headers["Location"]
    assert _audit_actions(owner_engine, org.org_id)[-2:] == ["auth.login", "auth.logout"]


def test_wrong_password_is_refused_and_audited(client, make_org, owner_engine):
    org = make_org()
    response = login(client, org.email, "wrong password!!")
    assert response.status_code == 401
    assert "Wrong e-mail or password." in response.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302
    assert _audit_actions(owner_engine, org.org_id)[-1] == "auth.login_failed"


def test_unknown_email_gets_the_same_message(client):
    response = login(client, f"nobody-{uuid.uuid4().hex}@example.com", "whatever password")
    assert response.status_code == 401
    assert "Wrong e-mail or password." in response.get_data(as_text=True)


def test_missing_csrf_token_is_refused(client, make_org, owner_engine):
    org = make_org()
    client.get("/login")
    response = client.post("/login", data={"email": org.email, "password": org.password})
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302
    assert "auth.login" not in _audit_actions(owner_engine, org.org_id)


def test_logout_without_csrf_token_is_refused(make_org, login_as):
    org = make_org()
    client = login_as(org)
    assert client.post("/logout").status_code == 400
    assert client.get("/dashboard").status_code == 200


def test_suspended_organization_cannot_log_in(client, make_org, login_as, owner_engine):
    org = make_org()
    signed_in = login_as(org)
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE organizations SET status = 'suspended' WHERE id = :o"), {"o": org.org_id}
        )
    response = login(client, org.email, org.password)
    assert response.status_code == 403
    assert "suspended" in response.get_data(as_text=True)
    # An existing session of that organization is signed out on its next request.
    page = signed_in.get("/dashboard")
    assert page.status_code == 403 and "is suspended" in page.get_data(as_text=True)
    assert signed_in.get("/dashboard").status_code == 302
    assert _audit_actions(owner_engine, org.org_id)[-1] == "auth.login_refused"


def test_login_throttle_per_account_engages(client, make_org):
    org = make_org()
    for _ in range(10):
        assert login(client, org.email, "wrong password!!").status_code == 401
    response = login(client, org.email, org.password)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert "Too many log-in attempts" in response.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302


def test_login_throttle_per_ip_engages(services, make_org):
    throttled = make_app(services, LOGIN_LIMIT_PER_IP="3/minute")
    client = throttled.test_client()
    address = {"REMOTE_ADDR": f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"}
    orgs = [make_org() for _ in range(4)]
    for org in orgs[:3]:
        assert login(client, org.email, "wrong password!!", environ_base=address).status_code == 401
    response = login(client, orgs[3].email, orgs[3].password, environ_base=address)
    assert response.status_code == 429


def test_session_cookie_is_httponly_and_samesite(make_org, app):
    org = make_org()
    client = app.test_client()
    response = login(client, org.email, org.password)
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_open_redirect_after_login_is_ignored(client, make_org):
    org = make_org()
    token = csrf_token(client, "/login")
    response = client.post(
        "/login?next=//evil.example.com/x",
        data={"email": org.email, "password": org.password, "csrf_token": token},
    )
    assert response.headers["Location"].endswith("/dashboard")


def _signup(client, email: str):
    token = csrf_token(client, "/signup")
    return client.post(
        "/signup",
        data={
            "organization": "Acme trial",
            "name": "Maria",
            "email": email,
            "password": "correct horse battery",
            "confirm": "correct horse battery",
            "csrf_token": token,
        },
    )


def test_signup_accepts_an_ordinary_test_domain_address(app, owner_engine):
    """``maria@acme.test`` (a trial's address) signs up; it was refused as special-use."""
    email = f"maria-{uuid.uuid4().hex[:8]}@acme.test"
    response = _signup(app.test_client(), email)
    assert response.status_code == 302, response.get_data(as_text=True)
    with owner_engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM users WHERE email = :e"), {"e": email}) == 1


@pytest.mark.parametrize(
    ("email", "reason"),
    [
        ("maria@acme", "It should have a period."),
        ("maria@localhost", "It should have a period."),
        ("maria@acme.local", "special-use or reserved name"),
        ("maria @acme.test", "invalid characters"),
        ("maria@@acme.test", "@-sign"),
    ],
)
def test_signup_refuses_undeliverable_addresses(app, owner_engine, email, reason):
    with owner_engine.connect() as conn:
        before = conn.scalar(text("SELECT count(*) FROM organizations"))
    response = _signup(app.test_client(), email)
    assert response.status_code == 400
    assert reason in response.get_data(as_text=True)
    with owner_engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM organizations")) == before
