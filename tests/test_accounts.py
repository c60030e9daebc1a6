"""Accounts that run themselves (issue 12): forgot password, the profile (name, e-mail change
confirmed by a link sent to the new address), with single-use, expiring, hashed links."""

from __future__ import annotations

import hashlib
import re
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from tests.conftest import Services, csrf_token, login, make_app
from webapp.mail import Message

LINK_RE = re.compile(r"https?://\S+/(?:reset-password|account/confirm-email)/(\S+)")


@pytest.fixture(scope="module")
def outbox() -> list[Message]:
    return []


@pytest.fixture(scope="module")
def mail_app(services: Services, outbox: list[Message]) -> Flask:
    """The app with a mailer that keeps what it sends."""
    return make_app(services, MAIL_SENDER=outbox.append, PUBLIC_URL="http://pmdi.test")


def _mails_to(outbox: list[Message], address: str) -> list[Message]:
    return [m for m in outbox if m.to == address]


def _link_path(message: Message) -> str:
    match = re.search(r"http://pmdi\.test(/\S+)", message.body)
    assert match, message.body
    return match.group(1)


def _forgot(client: FlaskClient, email: str):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/forgot-password")
    return client.post("/forgot-password", data={"email": email, "csrf_token": token})


def _signed_in(app: Flask, cookie: str) -> bool:
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief.get("/documents").status_code == 200


def _login_client(app: Flask, email: str, password: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, email, password).status_code == 302
    return client


def test_forgot_password_end_to_end_ends_other_sessions(mail_app, make_org, outbox, owner_engine):
    org = make_org()
    other_device = _login_client(mail_app, org.email, org.password)
    copied = other_device.get_cookie("session").value

    page = _forgot(mail_app.test_client(), org.email.upper())
    assert page.status_code == 200
    assert "If <strong>" in page.get_data(as_text=True)
    (message,) = _mails_to(outbox, org.email)
    path = _link_path(message)
    secret = path.rsplit("/", 1)[-1].split("_", 2)[2]  # <org>_<id>_<secret>
    with owner_engine.connect() as conn:
        stored = conn.execute(
            text("SELECT token_hash, purpose FROM account_tokens WHERE organization_id = :o"),
            {"o": org.org_id},
        ).one()
    assert stored.purpose == "password_reset"
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()  # only a hash

    browser = mail_app.test_client()
    form = browser.get(path)
    assert form.status_code == 200 and org.email in form.get_data(as_text=True)
    token = csrf_token(browser, path)
    new_password = "a fresh long password"
    done = browser.post(
        path, data={"password": new_password, "confirm": new_password, "csrf_token": token}
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")

    assert not _signed_in(mail_app, copied)  # the reset ended the other session
    assert login(mail_app.test_client(), org.email, org.password).status_code == 401
    _login_client(mail_app, org.email, new_password)

    again = browser.get(path)  # single use
    assert again.status_code == 410
    assert "already been used" in again.get_data(as_text=True)
    with owner_engine.connect() as conn:
        actions = conn.scalars(
            text(
                "SELECT action FROM audit_events WHERE organization_id = :o "
                "AND action LIKE 'auth.password_reset%' ORDER BY created_at"
            ),
            {"o": org.org_id},
        ).all()
    assert actions == ["auth.password_reset_requested", "auth.password_reset"]


def test_an_unknown_address_gets_the_same_answer_and_no_mail(mail_app, outbox):
    """No account enumeration: the page says the same for an address without an account."""
    address = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    page = _forgot(mail_app.test_client(), address)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert f"If <strong>{address}</strong> has an account here" in body
    assert _mails_to(outbox, address) == []


def test_expired_superseded_and_unknown_links_say_which(mail_app, make_org, outbox, owner_engine):
    org = make_org()
    _forgot(mail_app.test_client(), org.email)
    _forgot(mail_app.test_client(), org.email)
    first, second = (_link_path(m) for m in _mails_to(outbox, org.email))
    browser = mail_app.test_client()

    superseded = browser.get(first)
    assert superseded.status_code == 410
    assert "a newer one was sent" in superseded.get_data(as_text=True)

    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE account_tokens SET expires_at = now() - interval '1 minute' "
                "WHERE organization_id = :o AND used_at IS NULL"
            ),
            {"o": org.org_id},
        )
    expired = browser.get(second)
    assert expired.status_code == 410
    assert "has expired" in expired.get_data(as_text=True)

    forged = second[:-3] + ("aaa" if not second.endswith("aaa") else "bbb")
    for path in (forged, "/reset-password/nonsense", f"/reset-password/{uuid.uuid4().hex}_x_y"):
        unknown = browser.get(path)
        assert unknown.status_code == 404, path
        assert "This link is not valid" in unknown.get_data(as_text=True)
    # And nothing changed: the password still works.
    _login_client(mail_app, org.email, org.password)


def test_profile_renames_and_changes_the_address_by_a_confirmed_link(
    mail_app, make_org, outbox, owner_engine
):
    org = make_org()
    client = _login_client(mail_app, org.email, org.password)
    assert client.get("/account").status_code == 200

    token = csrf_token(client, "/account")
    renamed = client.post("/account/name", data={"name": "Maria Lopez", "csrf_token": token})
    assert renamed.status_code == 302
    assert "Maria Lopez" in client.get("/account").get_data(as_text=True)

    new_address = f"maria-{uuid.uuid4().hex[:8]}@acme.test"
    token = csrf_token(client, "/account")
    wrong = client.post(
        "/account/email",
        data={"new_email": new_address, "email_password": "not it", "csrf_token": token},
    )
    assert wrong.status_code == 400
    assert "current password is not right" in wrong.get_data(as_text=True)
    assert _mails_to(outbox, new_address) == []

    taken = client.post(
        "/account/email",
        data={
            "new_email": make_org().email,
            "email_password": org.password,
            "csrf_token": token,
        },
    )
    assert taken.status_code == 400
    assert "already uses this e-mail" in taken.get_data(as_text=True)

    asked = client.post(
        "/account/email",
        data={"new_email": new_address, "email_password": org.password, "csrf_token": token},
    )
    assert asked.status_code == 302
    (confirmation,) = _mails_to(outbox, new_address)
    assert any(new_address in m.body for m in _mails_to(outbox, org.email))  # old one told
    # Until the link is opened, the old address is the one that logs in.
    _login_client(mail_app, org.email, org.password)

    opener = mail_app.test_client()
    link = _link_path(confirmation)
    opened = opener.get(link)  # opening it (a mail scanner would) changes nothing yet
    assert opened.status_code == 200 and new_address in opened.get_data(as_text=True)
    _login_client(mail_app, org.email, org.password)
    confirmed = opener.post(link, data={"csrf_token": csrf_token(opener, link)})
    assert confirmed.status_code == 302
    assert login(mail_app.test_client(), org.email, org.password).status_code == 401
    _login_client(mail_app, new_address, org.password)
    assert mail_app.test_client().get(link).status_code == 410
    with owner_engine.connect() as conn:
        assert (
            conn.scalar(
                text(
                    "SELECT count(*) FROM audit_events WHERE organization_id = :o AND action = :a"
                ),
                {"o": org.org_id, "a": "user.email_changed"},
            )
            == 1
        )


def test_a_reset_link_of_one_organization_reads_nothing_of_another(mail_app, make_org, outbox):
    """The link names its organization; another organization's id in it finds nothing."""
    victim, other = make_org(), make_org()
    _forgot(mail_app.test_client(), victim.email)
    (message,) = _mails_to(outbox, victim.email)
    path = _link_path(message)
    token = path.rsplit("/", 1)[-1]
    _, token_id, secret = token.split("_", 2)
    swapped = f"/reset-password/{other.org_id.hex}_{token_id}_{secret}"
    assert mail_app.test_client().get(swapped).status_code == 404
