"""Accounts that run themselves: a forgotten password, a new e-mail address.

Both work by a link sent by mail that acts once: ``<org hex>_<token hex>_<secret>``, of which
only the SHA-256 of the 256-bit secret is stored (``account_tokens``). As with invitations the
link names its organization, so opening it sets the tenant context before an ordinary
RLS-guarded read; finding the account for a forgotten password goes through the log-in door.

* **Forgot password**: the page answers the same, after the same work, whether or not the
  address has an account (no enumeration, by the answer or by its time): the request only
  hands the address to a worker, which looks it up; a known, active account gets a link valid
  ``PASSWORD_RESET_MINUTES`` (60). A new request replaces the earlier link; using it sets the
  password, ends every session of the account (``session_version``) and uses up every other
  reset link of it.
* **E-mail change**: asked with the current password; the link goes to the new address and is
  valid ``EMAIL_CHANGE_HOURS`` (24); the old address is told. The address must still be free
  when the link is opened.

An expired, used or unknown link gets a message that says which, and what to do next.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from webapp import audit, links, mail, tenancy
from webapp.auth import sessions
from webapp.auth.services import (
    AuthError,
    EmailTaken,
    TooManyAttempts,
    hasher,
    normalise_email,
    verify_password,
)
from webapp.emails import email_problem
from webapp.extensions import db
from webapp.models import AccountToken, User, utcnow
from webapp.ratelimit import login_attempt

log = logging.getLogger(__name__)

RESET = "password_reset"
EMAIL_CHANGE = "email_change"


class LinkUnknown(AuthError):
    message = (
        "This link is not valid: it may have been cut short when it was copied. "
        "Copy the whole link from the e-mail, or ask for a new one."
    )


class LinkExpired(AuthError):
    pass


class LinkUsed(AuthError):
    pass


_EXPIRED = {
    RESET: "This password reset link has expired. Ask for a new one below.",
    EMAIL_CHANGE: "This confirmation link has expired. Ask for the change again on your profile.",
}
_USED = {
    RESET: (
        "This password reset link has already been used, or a newer one was sent. "
        "Log in, or ask for a new link."
    ),
    EMAIL_CHANGE: "This confirmation link has already been used, or a newer one was sent.",
}


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _parse(link_token: str) -> tuple[uuid.UUID, uuid.UUID, str]:
    parts = (link_token or "").strip().split("_", 2)
    if len(parts) != 3 or not parts[2]:
        raise LinkUnknown()
    try:
        return uuid.UUID(hex=parts[0]), uuid.UUID(hex=parts[1]), parts[2]
    except ValueError:
        raise LinkUnknown() from None


def _issue(user: User, purpose: str, lifetime: timedelta, new_email: str | None = None) -> str:
    """A new link for ``user`` (earlier unused ones of the same purpose stop working)."""
    now = utcnow()
    db.session.execute(
        update(AccountToken)
        .where(
            AccountToken.user_id == user.id,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    secret = secrets.token_urlsafe(32)
    token = AccountToken(
        id=uuid.uuid4(),
        user_id=user.id,
        purpose=purpose,
        token_hash=_hash(secret),
        new_email=new_email,
        expires_at=now + lifetime,
    )
    db.session.add(token)
    db.session.flush()
    return f"{user.organization_id.hex}_{token.id.hex}_{secret}"


def _usable(link_token: str, purpose: str, *, lock: bool) -> AccountToken:
    """The token a link names, in the context the caller set from the link."""
    _, token_id, secret = _parse(link_token)
    query = select(AccountToken).where(AccountToken.id == token_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    token = db.session.scalar(query)
    if (
        token is None
        or token.purpose != purpose
        or not hmac.compare_digest(token.token_hash, _hash(secret))
    ):
        raise LinkUnknown()
    if token.used_at is not None:
        raise LinkUsed(_USED[purpose])
    if token.expires_at <= utcnow():
        raise LinkExpired(_EXPIRED[purpose])
    return token


# --- Forgot password ----------------------------------------------------------------------


RESET_TASK = "workers.tasks.send_password_reset"


class ResetUnavailable(AuthError):
    message = "The link could not be sent just now. Try again in a moment."


def request_password_reset(email: str, ip: str | None) -> None:
    """The request's part of a forgotten password: throttle, then hand the address to a worker.

    Throttled like a log-in (per address and per IP), so the form cannot be used to flood a
    mailbox. Nothing here looks the address up: an address with an account and one without
    cost the same work (two counters in Redis, one message to the broker), so neither the
    answer nor its time says whether an account exists. The worker
    (``send_password_reset``) finds the account, issues the link and mails it. A broker that
    cannot take the message raises ``ResetUnavailable``, whatever the address.
    """
    email = normalise_email(email)
    verdict = login_attempt(email, ip)
    if not verdict.allowed:
        raise TooManyAttempts(verdict.retry_after)
    try:
        current_app.extensions["celery"].send_task(
            RESET_TASK, args=[email, ip], retry=False, ignore_result=True
        )
    except Exception as exc:  # noqa: BLE001 - the broker is down: say so, the same for anyone
        log.warning("could not ask for a password reset mail", exc_info=True)
        raise ResetUnavailable() from exc


def send_password_reset(email: str, ip: str | None) -> bool:
    """Mail a reset link if ``email`` belongs to an active account (a worker runs this).

    A new link replaces the earlier one; the request is audited in the account's
    organization. Whether a mail went out (False also when the sender failed).
    """
    email = normalise_email(email)
    candidate = tenancy.login_lookup(email)
    db.session.rollback()  # end the context-free transaction of the lookup
    if candidate is None or candidate.user_status != "active" or candidate.org_status != "active":
        log.info("password reset asked for an address without an active account from %s", ip)
        return False
    with tenancy.tenant_context(candidate.organization_id):
        user = db.session.get(User, (candidate.organization_id, candidate.user_id))
        if user is None:
            db.session.rollback()
            return False
        minutes = int(current_app.config["PASSWORD_RESET_MINUTES"])
        link_token = _issue(user, RESET, timedelta(minutes=minutes))
        audit.record(
            "auth.password_reset_requested",
            actor_id=None,
            target_type="user",
            target_id=user.id,
            details={"ip": ip},
        )
        address = user.email
        db.session.commit()
    link = links.external_url("auth.reset_password", token=link_token)
    return mail.send(
        address,
        "Reset your password",
        f"Someone (we hope you) asked to reset the password of {address} on "
        f"PM Document Intelligence.\n\nChoose a new password here (the link works once, "
        f"for {minutes} minutes):\n{link}\n\nIf it was not you, ignore this message: "
        "your password stays as it is.\n",
    )


def check_reset_link(link_token: str) -> str:
    """The e-mail of the account a reset link is for, if it still works (else ``AuthError``)."""
    org_id = _parse(link_token)[0]
    with tenancy.tenant_context(org_id):
        token = _usable(link_token, RESET, lock=False)
        user = db.session.get(User, (org_id, token.user_id))
        if user is None or not user.is_active:
            raise LinkUnknown()
        email = user.email
        db.session.rollback()
    return email


def reset_password(link_token: str, password: str) -> User:
    """Set a new password from a reset link: once; ends every session of the account."""
    org_id = _parse(link_token)[0]
    minimum = int(current_app.config.get("MIN_PASSWORD_LENGTH", 10))
    if len(password) < minimum:
        raise AuthError(f"Use at least {minimum} characters.")
    with tenancy.tenant_context(org_id):
        token = _usable(link_token, RESET, lock=True)
        user = db.session.get(User, (org_id, token.user_id))
        if user is None or not user.is_active:
            db.session.rollback()
            raise LinkUnknown()
        now = utcnow()
        db.session.execute(
            update(AccountToken)
            .where(
                AccountToken.user_id == user.id,
                AccountToken.purpose == RESET,
                AccountToken.used_at.is_(None),
            )
            .values(used_at=now)
        )
        user.password_hash = hasher.hash(password)
        sessions.end_sessions(user)
        audit.record("auth.password_reset", actor_id=user.id, target_type="user", target_id=user.id)
        db.session.commit()
    return user


# --- Profile: name and e-mail ---------------------------------------------------------------


def rename(user: User, name: str) -> None:
    """Change one's own display name; audited."""
    name = name.strip()
    if not name:
        raise AuthError("Enter your name.")
    if name == user.name:
        return
    audit.record(
        "user.renamed",
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
        details={"from": user.name, "to": name},
    )
    user.name = name
    db.session.commit()


def request_email_change(user: User, new_email: str, password: str, ip: str | None) -> str:
    """Mail a confirmation link to ``new_email`` (the current password is asked again, throttled
    like a log-in); the address changes only when that link is opened. Returns the address."""
    new_email = normalise_email(new_email)
    problem = email_problem(new_email)
    if problem is not None:
        raise AuthError(problem)
    if new_email == normalise_email(user.email):
        raise AuthError("That is already your e-mail address.")
    verdict = login_attempt(user.email, ip)
    if not verdict.allowed:
        raise TooManyAttempts(verdict.retry_after)
    if not verify_password(user.password_hash, password):
        raise AuthError("Your current password is not right.")
    if tenancy.email_exists(new_email):
        raise EmailTaken("Another account already uses this e-mail address.")
    hours = int(current_app.config["EMAIL_CHANGE_HOURS"])
    link_token = _issue(user, EMAIL_CHANGE, timedelta(hours=hours), new_email=new_email)
    audit.record(
        "user.email_change_requested",
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
        details={"new_email": new_email},
    )
    db.session.commit()
    link = links.external_url("auth.confirm_email", token=link_token)
    mailed = mail.send(
        new_email,
        "Confirm your new e-mail address",
        f"{user.name} asked to use this address for PM Document Intelligence instead of "
        f"{user.email}.\n\nConfirm it here (the link works once, for {hours} hours):\n{link}\n",
    )
    if not mailed:
        raise AuthError("The confirmation e-mail could not be sent. Try again in a moment.")
    mail.send(
        user.email,
        "Your e-mail address is about to change",
        f"A change of your PM Document Intelligence address to {new_email} was asked for. It "
        "takes effect when the link sent there is opened. If it was not you, change your "
        "password now.\n",
    )
    return new_email


def check_email_link(link_token: str) -> str:
    """The new address a confirmation link is for, if the link still works."""
    org_id = _parse(link_token)[0]
    with tenancy.tenant_context(org_id):
        token = _usable(link_token, EMAIL_CHANGE, lock=False)
        new_email = token.new_email
        db.session.rollback()
    if new_email is None:
        raise LinkUnknown()
    return new_email


def confirm_email(link_token: str) -> User:
    """Move the account to the address the link was sent to; once; audited."""
    org_id = _parse(link_token)[0]
    with tenancy.tenant_context(org_id):
        token = _usable(link_token, EMAIL_CHANGE, lock=True)
        user = db.session.get(User, (org_id, token.user_id))
        if user is None or token.new_email is None:
            db.session.rollback()
            raise LinkUnknown()
        new_email = token.new_email
        old_email = user.email
        token.used_at = utcnow()
        user.email = new_email
        audit.record(
            "user.email_changed",
            actor_id=user.id,
            target_type="user",
            target_id=user.id,
            details={"from": old_email, "to": new_email},
        )
        try:
            db.session.commit()
        except IntegrityError as exc:  # the address was taken meanwhile
            db.session.rollback()
            raise EmailTaken(
                "Another account started using this address meanwhile; choose another."
            ) from exc
    return user
