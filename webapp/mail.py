"""Outgoing mail through a pluggable sender.

There is no mail server by default: the default sender writes the message to the log (and the
page that caused it shows the link). With ``SMTP_HOST`` set (``SMTP_PORT``, ``SMTP_USERNAME``,
``SMTP_PASSWORD``, ``SMTP_STARTTLS``, ``MAIL_FROM``) messages go out over SMTP; with ``MAIL_DIR``
set each message is written there as an ``.eml`` file (development, the browser tests). Tests
and deployments may set ``MAIL_SENDER`` to any callable taking a ``Message``.
"""

from __future__ import annotations

import logging
import smtplib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from flask import current_app

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """One plain-text e-mail."""

    to: str
    subject: str
    body: str


Sender = Callable[[Message], None]


def log_sender(message: Message) -> None:
    """The default: write the message to the log instead of sending it."""
    log.info("mail to %s: %s\n%s", message.to, message.subject, message.body)


def _email(message: Message) -> EmailMessage:
    email = EmailMessage()
    email["From"] = current_app.config["MAIL_FROM"]
    email["To"] = message.to
    email["Subject"] = message.subject
    email.set_content(message.body)
    return email


def directory_sender(message: Message) -> None:
    """Write the message to ``MAIL_DIR`` as ``<time>-<random>.eml`` (written whole, then renamed,
    so a reader never sees half a message)."""
    directory = Path(current_app.config["MAIL_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
    partial = directory / (name + ".part")
    partial.write_bytes(bytes(_email(message)))
    partial.rename(directory / name)


def smtp_sender(message: Message) -> None:
    """Send over SMTP with the ``SMTP_*`` settings."""
    config = current_app.config
    email = _email(message)
    with smtplib.SMTP(config["SMTP_HOST"], int(config["SMTP_PORT"]), timeout=10) as smtp:
        if config.get("SMTP_STARTTLS"):
            smtp.starttls()
        if config.get("SMTP_USERNAME"):
            smtp.login(config["SMTP_USERNAME"], config.get("SMTP_PASSWORD") or "")
        smtp.send_message(email)


def sender() -> Sender:
    """The configured sender: ``MAIL_SENDER``, else SMTP when ``SMTP_HOST`` is set, else the
    ``MAIL_DIR`` directory when set, else the log."""
    configured = current_app.config.get("MAIL_SENDER")
    if configured is not None:
        return configured
    if current_app.config.get("SMTP_HOST"):
        return smtp_sender
    return directory_sender if current_app.config.get("MAIL_DIR") else log_sender


def send(to: str, subject: str, body: str) -> bool:
    """Send one message; False (logged) when the sender failed, so the caller can say so.

    Any failure counts, not only the network's (a refused header, an address the server
    rejects, a misconfigured sender): what was already committed (an invitation) stays, and
    the page says the mail did not go instead of answering 500.
    """
    try:
        sender()(Message(to, subject, body))
    except Exception:  # whatever the sender raised, the caller reports it
        log.exception("could not send mail to %s", to)
        return False
    return True
