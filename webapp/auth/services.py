"""Registering organizations and authenticating their people."""

from __future__ import annotations

import logging
import re
import secrets
import unicodedata
import uuid

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy.exc import IntegrityError

from webapp import audit, tenancy
from webapp.auth import sessions
from webapp.extensions import db
from webapp.models import Organization, User, utcnow
from webapp.ratelimit import login_attempt

log = logging.getLogger(__name__)
hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so both paths cost the same time.
_DUMMY_HASH = hasher.hash(secrets.token_hex(16))


class AuthError(Exception):
    """A refusal with a message that can be shown to the person."""

    message = "Authentication failed."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message


class EmailTaken(AuthError):
    message = "An account with this e-mail already exists. Log in instead."


class InvalidCredentials(AuthError):
    message = "Wrong e-mail or password."


class OrganizationSuspended(AuthError):
    message = (
        "Your organization has been suspended, so nobody in it can log in. "
        "Contact your account manager or support to restore access."
    )


class TooManyAttempts(AuthError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many log-in attempts. Try again in {retry_after} seconds.")
        self.retry_after = retry_after


def normalise_email(email: str) -> str:
    """E-mails compare case-insensitively and without surrounding space."""
    return email.strip().lower()


def make_slug(name: str) -> str:
    """A URL-safe slug with a random suffix, so names never collide or reveal each other."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60] or "org"
    return f"{base}-{secrets.token_hex(3)}"


def register_organization(org_name: str, user_name: str, email: str, password: str) -> User:
    """Create an organization on the free plan with its owner; audited."""
    email = normalise_email(email)
    if tenancy.email_exists(email):
        raise EmailTaken()
    org_id = uuid.uuid4()
    with tenancy.tenant_context(org_id):
        org = Organization(id=org_id, name=org_name.strip(), slug=make_slug(org_name))
        db.session.add(org)
        db.session.flush()
        user = User(
            email=email,
            name=user_name.strip(),
            password_hash=hasher.hash(password),
            role="owner",
        )
        db.session.add(user)
        db.session.flush()
        audit.record(
            "organization.created",
            actor_id=user.id,
            target_type="organization",
            target_id=org_id,
            details={"name": org.name, "plan": org.plan_id},
        )
        audit.record("auth.signup", actor_id=user.id, target_type="user", target_id=user.id)
        try:
            db.session.commit()
        except IntegrityError as exc:  # a concurrent sign-up with the same e-mail
            db.session.rollback()
            raise EmailTaken() from exc
    return user


def authenticate(email: str, password: str, ip: str | None) -> User:
    """Check a log-in attempt: throttled, looked up through the door, audited either way."""
    email = normalise_email(email)
    verdict = login_attempt(email, ip)
    if not verdict.allowed:
        log.warning("log-in throttled for %s from %s", email, ip)
        raise TooManyAttempts(verdict.retry_after)
    candidate = tenancy.login_lookup(email)
    db.session.rollback()  # end the context-free transaction of the lookup
    if candidate is None:
        verify_password(None, password)
        log.info("log-in failed: unknown e-mail from %s", ip)
        raise InvalidCredentials()
    with tenancy.tenant_context(candidate.organization_id):
        user = db.session.get(User, (candidate.organization_id, candidate.user_id))
        assert user is not None  # the door just found it
        if not verify_password(user.password_hash, password):
            _refuse(user, "auth.login_failed", "wrong password")
            raise InvalidCredentials()
        if user.organization.status == "pending_deletion":
            _refuse(user, "auth.login_refused", "organization awaiting deletion")
            raise OrganizationSuspended(
                "Your organization is scheduled for deletion, so nobody in it can log in. "
                "Its owner can still restore it at /organization/restore."
            )
        if user.organization.status != "active":
            _refuse(user, "auth.login_refused", "organization suspended")
            raise OrganizationSuspended()
        if not user.is_active:
            _refuse(user, "auth.login_refused", "account disabled")
            raise InvalidCredentials("This account has been disabled by your organization.")
        if hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hasher.hash(password)
        user.last_login_at = utcnow()
        audit.record("auth.login", actor_id=user.id, target_type="user", target_id=user.id)
        db.session.commit()
    return user


def record_logout(user: User) -> None:
    """Audit a log-out and end every session of the user (the caller clears this one's cookie).

    A copy of the cookie taken before (another browser, a stolen one) stops working too.
    """
    sessions.end_sessions(user)
    audit.record("auth.logout", actor_id=user.id, target_type="user", target_id=user.id)
    db.session.commit()


class PasswordRefused(AuthError):
    message = "The password was not changed."


def change_password(user: User, current: str, new: str, ip: str | None = None) -> None:
    """Change one's own password (the current one is asked again, throttled like a log-in, so
    a borrowed session cannot guess it); ends every session of the user, so the caller
    re-issues the one making the change. Audited."""
    verdict = login_attempt(user.email, ip)
    if not verdict.allowed:
        raise TooManyAttempts(verdict.retry_after)
    if not verify_password(user.password_hash, current):
        _refuse(user, "auth.password_change_failed", "wrong current password")
        raise PasswordRefused("Your current password is not right.")
    minimum = int(current_app.config.get("MIN_PASSWORD_LENGTH", 10))
    if len(new) < minimum:
        raise PasswordRefused(f"Use at least {minimum} characters.")
    user.password_hash = hasher.hash(new)
    sessions.end_sessions(user)
    audit.record("auth.password_changed", actor_id=user.id, target_type="user", target_id=user.id)
    db.session.commit()


def _refuse(user: User, action: str, reason: str) -> None:
    audit.record(
        action, actor_id=None, target_type="user", target_id=user.id, details={"reason": reason}
    )
    db.session.commit()


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no hash, spend the same time and answer False."""
    if password_hash is None:  # unknown account: the same work, so timing reveals nothing
        verify_password(_DUMMY_HASH, password)
        return False
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
