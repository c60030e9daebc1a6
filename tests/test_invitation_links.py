"""Invitation links and mail (issue 11 §5): the mailed link comes from configuration, never
from the request's Host; a display name stays on one line; a mail failure is a message, not a
500, and the invitation can still be revoked."""

from __future__ import annotations

import socket
import uuid

import pytest
from sqlalchemy import text

from tests.conftest import INVITATION_LINK_RE, csrf_token, invite
from tests.test_invitations import _accept, _path
from webapp import links, mail
from webapp.org import members


def _email() -> str:
    return f"invitee-{uuid.uuid4().hex[:8]}@example.com"


@pytest.fixture
def mailbox(app, monkeypatch) -> list[mail.Message]:
    """Messages the application sends, kept here instead of going anywhere."""
    sent: list[mail.Message] = []
    monkeypatch.setitem(app.config, "MAIL_SENDER", sent.append)
    return sent


def _invite_with_host(client, email: str, host: str):  # type: ignore[no-untyped-def]
    """Invite through the page, the POST carrying a ``Host`` of the client's choosing (the
    session cookie is offered for that host too, as a browser sent there would)."""
    token = csrf_token(client, "/settings/members")
    client.set_cookie("session", client.get_cookie("session").value, domain=host)
    return client.post(
        "/settings/members/invite",
        data={"email": email, "role": "member", "csrf_token": token},
        headers={"Host": host, "X-Forwarded-Host": host},
    )


def test_a_forged_host_never_reaches_the_mailed_link(app, make_org, login_as, mailbox, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://pmdi.example.com/")
    client = login_as(make_org())
    email = _email()
    response = _invite_with_host(client, email, "attacker.example")
    assert response.status_code == 200, response.get_data(as_text=True)
    (message,) = mailbox
    assert message.to == email
    assert "attacker" not in message.body
    shown = INVITATION_LINK_RE.search(response.get_data(as_text=True)).group(1)
    assert shown.startswith("https://pmdi.example.com/invitations/")
    assert shown in message.body
    # And the link works.
    assert _accept(app.test_client(), shown, email).status_code == 302


def test_without_public_url_the_link_uses_server_name_or_localhost(app, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", None)
    with app.test_request_context("/", headers={"Host": "attacker.example"}):
        assert links.external_url("auth.login") == "http://localhost/login"
        monkeypatch.setitem(app.config, "SERVER_NAME", "docs.example.org")
        monkeypatch.setitem(app.config, "PREFERRED_URL_SCHEME", "https")
        assert links.external_url("auth.login") == "https://docs.example.org/login"
    with app.test_request_context("/", headers={"Host": "attacker.example"}):
        monkeypatch.setitem(app.config, "PUBLIC_URL", "https://example.com/pmdi")
        assert links.external_url("auth.login") == "https://example.com/pmdi/login"


@pytest.mark.parametrize("value", ["ftp://x", "example.com", "https://", "https://x/?a=b"])
def test_a_malformed_public_url_is_refused_at_start_up(value):
    with pytest.raises(RuntimeError, match="PUBLIC_URL"):
        links.check_public_url(value)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when this returns: connections are refused


def test_an_smtp_failure_is_a_message_and_the_invitation_stays_revocable(
    app, make_org, login_as, owner_engine, monkeypatch
):
    monkeypatch.setitem(app.config, "MAIL_SENDER", None)
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", _closed_port())
    client = login_as(make_org())
    email = _email()
    response = _invite_with_host(client, email, "localhost")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "The e-mail could not be sent" in body
    link = INVITATION_LINK_RE.search(body).group(1)
    invitation_id = uuid.UUID(hex=link.rsplit("/", 1)[1].split("_")[1])
    token = csrf_token(client, "/settings/members")
    revoked = client.post(
        f"/settings/invitations/{invitation_id}/revoke", data={"csrf_token": token}
    )
    assert revoked.status_code == 302
    with owner_engine.connect() as conn:
        state = conn.scalar(
            text("SELECT revoked_at IS NOT NULL FROM invitations WHERE id = :i"),
            {"i": invitation_id},
        )
    assert state is True
    assert app.test_client().get(_path(link)).status_code == 410


def test_any_sender_failure_is_a_message(app, make_org, login_as, monkeypatch):
    def broken(message: mail.Message) -> None:
        raise ValueError("Header values may not contain linefeed or carriage return characters")

    monkeypatch.setitem(app.config, "MAIL_SENDER", broken)
    client = login_as(make_org())
    response = _invite_with_host(client, _email(), "localhost")
    assert response.status_code == 200
    assert "The e-mail could not be sent" in response.get_data(as_text=True)


def test_a_display_name_with_a_line_break_is_refused(app, make_org, login_as, mailbox):
    client = login_as(make_org())
    email = _email()
    link = invite(client, email, "member")
    # Through the page, the input guard refuses it before the view.
    assert _accept(app.test_client(), link, email, name="Eve\r\nBcc: x@y").status_code == 400
    # The service refuses it too, whoever calls it.
    token = link.rsplit("/", 1)[1]
    with app.app_context(), pytest.raises(members.InvitationRefused, match="one line"):
        members.accept_invitation(token, email, "Eve\nBcc: x@y", "pw-long-enough-1")
    # A name with invisible format characters is stored without them.
    assert _accept(app.test_client(), link, email, name="Ev\u202ee Person").status_code == 302
