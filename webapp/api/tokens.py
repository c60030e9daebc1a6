"""API tokens: created and revoked on the settings page, presented as ``Bearer`` tokens.

A token reads ``pmdi_<org hex>_<token hex>_<secret>``. The organization and token ids in it
let the server set the tenant context before it looks the token up, so the lookup itself is an
ordinary RLS-guarded read; only a SHA-256 of the secret is stored (the secret is 256 random
bits, so a slow hash adds nothing), and it is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from webapp import audit, permissions, tenancy
from webapp.extensions import db
from webapp.models import ApiToken, User, utcnow

PREFIX = "pmdi"
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenNotFound(Exception):
    """No such token in this organization."""


class OrganizationSuspended(Exception):
    """A valid token of an active member whose organization is suspended."""


@dataclass(frozen=True)
class IssuedToken:
    """A new token: the row, and the plaintext shown to its owner exactly once."""

    token: ApiToken
    plaintext: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(user: User, name: str) -> IssuedToken:
    """Issue a token acting as ``user``; audited."""
    permissions.require("api_token.create")
    secret = secrets.token_urlsafe(32)
    token = ApiToken(
        id=uuid.uuid4(),
        user_id=user.id,
        name=name.strip()[:80] or "API token",
        secret_hash=_hash(secret),
        prefix=secret[:8],
        secret_tail=secret[-4:],
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        "api_token.created",
        actor_id=user.id,
        target_type="api_token",
        target_id=token.id,
        details={"name": token.name},
    )
    db.session.commit()
    plaintext = f"{PREFIX}_{user.organization_id.hex}_{token.id.hex}_{secret}"
    return IssuedToken(token, plaintext)


# Characters of the organization part shown in the list: enough to recognise the token's start.
SHOWN_START = 6


def shown_as(token: ApiToken) -> str:
    """How the list shows a token: its real first and last characters, as its holder sees it
    (``pmdi_a2326b…k3Fq``). Tokens issued before the last characters were kept show their
    real start and the secret's first characters, which also appear in the token."""
    start = f"{PREFIX}_{token.organization_id.hex[:SHOWN_START]}…"
    if token.secret_tail:
        return start + token.secret_tail
    return f"{start}_{token.prefix}…"


# Roles that see and revoke every token of their organization; others manage only their own.
MANAGER_ROLES = ("owner", "admin")


def manages_all_tokens(user: User) -> bool:
    """Whether ``user`` sees and may revoke every token of the organization."""
    return user.role in MANAGER_ROLES


def list_tokens(user_id: uuid.UUID | None = None) -> list[ApiToken]:
    """The organization's tokens (only ``user_id``'s when given), newest first, revoked too."""
    query = select(ApiToken).order_by(ApiToken.created_at.desc())
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return list(db.session.scalars(query))


def tokens_visible_to(user: User) -> list[ApiToken]:
    """The tokens ``user`` may see on the settings page."""
    return list_tokens(None if manages_all_tokens(user) else user.id)


def revoke_visible_token(user: User, token_id: object) -> ApiToken:
    """Revoke a token ``user`` may see (``TokenNotFound`` for any other); audited."""
    owner_id = None if manages_all_tokens(user) else user.id
    return revoke_token(token_id, user.id, owner_id=owner_id)


def revoke_token(
    token_id: object, actor_id: uuid.UUID, owner_id: uuid.UUID | None = None
) -> ApiToken:
    """Revoke a token at once (only ``owner_id``'s when given, else ``TokenNotFound``); audited."""
    try:
        key = uuid.UUID(str(token_id))
    except ValueError:
        raise TokenNotFound() from None
    token = db.session.get(ApiToken, (tenancy.require_org_id(), key))
    if token is None or (owner_id is not None and token.user_id != owner_id):
        raise TokenNotFound()
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(
            "api_token.revoked",
            actor_id=actor_id,
            target_type="api_token",
            target_id=token.id,
            details={"name": token.name},
        )
        db.session.commit()
    return token


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    scheme, _, credentials = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def authenticate(presented: str) -> User | None:
    """The active user a token acts as, with the tenant context set; None if not valid.

    Raises ``OrganizationSuspended`` for a valid token whose organization is suspended.
    """
    parts = presented.strip().split("_", 3)
    if len(parts) != 4 or parts[0] != PREFIX:
        return None
    try:
        org_id, token_id = uuid.UUID(hex=parts[1]), uuid.UUID(hex=parts[2])
    except ValueError:
        return None
    tenancy.set_current_org(org_id)
    # One query: the token, its user, and (joined on User) the organization and its plan,
    # which the rate limiter reads next.
    row = db.session.execute(
        select(ApiToken, User)
        .join(
            User, (User.organization_id == ApiToken.organization_id) & (User.id == ApiToken.user_id)
        )
        .where(ApiToken.id == token_id)
    ).one_or_none()
    token, user = row if row is not None else (None, None)
    if (
        token is None
        or token.revoked_at is not None
        or not hmac.compare_digest(token.secret_hash, _hash(parts[3]))
    ):
        user = None
    if user is not None and user.is_active and user.organization.status == "suspended":
        tenancy.set_current_org(None)
        raise OrganizationSuspended()
    if user is None or not user.is_active or user.organization.status != "active":
        tenancy.set_current_org(None)
        return None
    # Shown to the minute: writing (and committing) on every call would put a disk flush on
    # the path of every API request, refused ones included.
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:  # type: ignore[union-attr]
        token.last_used_at = now  # type: ignore[union-attr]
        db.session.commit()
    return user
