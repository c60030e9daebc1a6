"""Accounts that run themselves (issue 12): forgot password, the profile (name, e-mail change
confirmed by a link sent to the new address), with single-use, expiring, hashed links."""

from __future__ import annotations

import hashlib
import re
import time
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from tests.conftest import (
    ROOT,
    TEST_QUEUE,
    Services,
    csrf_token,
    login,
    make_app,
    purge_queues,
    round_trips,
    run_published,
    running_worker,
)
from webapp.mail import Message

# The mail app publishes here, a queue no real worker consumes: the tests run what it
# published in-process (run_published), with the app's MAIL_SENDER.
ACCOUNTS_QUEUE = f"{TEST_QUEUE}-accounts"

LINK_RE = re.compile(r"https?://\S+/(?:reset-password|account/confirm-email)/(\S+)")


@pytest.fixture(scope="module")
def outbox() -> list[Message]:
    return []


@pytest.fixture(scope="module")
def mail_app(services: Services, outbox: list[Message]) -> Flask:
    """The app with a mailer that keeps what it sends; its tasks wait in ``ACCOUNTS_QUEUE``."""
    built = make_app(
        services,
        MAIL_SENDER=outbox.append,
        PUBLIC_URL="http://pmdi.test",
        CELERY={"task_default_queue": ACCOUNTS_QUEUE},
    )
    purge_queues(built.extensions["celery"], [ACCOUNTS_QUEUE])
    return built


def _mails_to(outbox: list[Message], address: str) -> list[Message]:
    return [m for m in outbox if m.to == address]


def _link_path(message: Message) -> str:
    match = re.search(r"http://pmdi\.test(/\S+)", message.body)
    assert match, message.body
    return match.group(1)


def _ask(client: FlaskClient, email: str):  # type: ignore[no-untyped-def]
    """Ask for a reset link through the form (the request only publishes the work)."""
    token = csrf_token(client, "/forgot-password")
    return client.post("/forgot-password", data={"email": email, "csrf_token": token})


def _forgot(client: FlaskClient, email: str):  # type: ignore[no-untyped-def]
    """Ask for a reset link, then do the worker's part in-process (the mail goes to outbox)."""
    page = _ask(client, email)
    assert page.status_code == 200, page.get_data(as_text=True)
    run_published(client.application, ACCOUNTS_QUEUE)
    return page


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


def _page_without(body: str, *values: str) -> str:
    """The page with the given values (the address asked for, the CSRF token) blanked."""
    for value in values:
        body = body.replace(value, "…")
    return body


def test_the_request_does_the_same_work_for_an_address_with_and_without_an_account(
    mail_app, make_org, outbox
):
    """No enumeration by time: the request does not look the address up, issue a link or
    mail; it publishes the same message for either address, and answers the same page."""
    org = make_org()
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    seen = {}
    for address in (org.email, unknown):
        client = mail_app.test_client()
        token = csrf_token(client, "/forgot-password")
        with round_trips() as trips:
            page = client.post("/forgot-password", data={"email": address, "csrf_token": token})
        assert page.status_code == 200
        assert _mails_to(outbox, address) == []  # nothing mailed in the request
        seen[address] = (
            trips.count,
            trips.statements,
            _page_without(page.get_data(as_text=True), address, token),
            sorted(name for name, _ in page.headers if name != "Set-Cookie"),
        )
    assert seen[org.email] == seen[unknown]
    count, statements, _, _ = seen[org.email]
    assert count == 0 and statements == []  # no lookup, no token, no audit: not a statement

    # The worker's part (run here from the published messages) mails the account only.
    assert run_published(mail_app, ACCOUNTS_QUEUE) == [True, False]
    (message,) = _mails_to(outbox, org.email)
    assert "/reset-password/" in message.body
    assert _mails_to(outbox, unknown) == []


def test_a_reset_asked_for_is_mailed_by_a_real_worker_with_a_working_link(
    services, make_org, tmp_path, owner_engine
):
    """Through the broker to a real worker process: the mail arrives with a link that sets
    the password."""
    from email import message_from_bytes, policy

    queue = f"{TEST_QUEUE}-reset-worker"
    web = make_app(services, PUBLIC_URL="http://pmdi.test", CELERY={"task_default_queue": queue})
    org = make_org()
    mail_dir = tmp_path / "mail"
    log_path = ROOT / "instance" / f"test-reset-worker-{uuid.uuid4().hex[:6]}.log"
    extra = {"MAIL_DIR": str(mail_dir), "PUBLIC_URL": "http://pmdi.test"}
    with running_worker(services, web, queue, f"{queue}@localhost", log_path, extra):
        page = _ask(web.test_client(), org.email)
        assert page.status_code == 200
        deadline = time.monotonic() + 60
        while not list(mail_dir.glob("*.eml")):
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.1)
    (written,) = mail_dir.glob("*.eml")
    message = message_from_bytes(written.read_bytes(), policy=policy.default)
    assert message["To"] == org.email
    match = re.search(r"http://pmdi\.test(/reset-password/\S+)", message.get_content())
    assert match, message.get_content()
    path = match.group(1)

    browser = web.test_client()
    assert org.email in browser.get(path).get_data(as_text=True)
    new_password = "a password set from the worker's mail"
    done = browser.post(
        path,
        data={
            "password": new_password,
            "confirm": new_password,
            "csrf_token": csrf_token(browser, path),
        },
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    assert login(web.test_client(), org.email, new_password).status_code == 302
    with owner_engine.connect() as conn:
        assert (
            conn.scalar(
                text(
                    "SELECT count(*) FROM audit_events WHERE organization_id = :o "
                    "AND action = 'auth.password_reset_requested'"
                ),
                {"o": org.org_id},
            )
            == 1
        )


def test_with_the_broker_down_every_address_gets_the_same_503(
    mail_app, make_org, outbox, monkeypatch
):
    """The message cannot be published: the page says to try again, the same for an address
    with an account and one without (nothing was looked up), and nothing is mailed."""
    celery = mail_app.extensions["celery"]

    def broker_down(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(celery, "send_task", broker_down)
    org = make_org()
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    pages = {}
    for address in (org.email, unknown):
        client = mail_app.test_client()
        token = csrf_token(client, "/forgot-password")
        page = client.post("/forgot-password", data={"email": address, "csrf_token": token})
        assert page.status_code == 503
        body = page.get_data(as_text=True)
        assert "could not be sent just now" in body and "If <strong>" not in body
        pages[address] = _page_without(body, address, token)
    assert pages[org.email] == pages[unknown]
    assert _mails_to(outbox, org.email) == [] and _mails_to(outbox, unknown) == []
