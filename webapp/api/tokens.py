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
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, select, update

from webapp import audit, permissions, tenancy
from webapp.extensions import db
from webapp.models import ApiToken, Organization, Plan, User, utcnow

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


@dataclass(frozen=True)
class PlanLimits:
    """A plan's limits, as ``plans.effective_limit`` reads them (None: unlimited), and its
    name (the limiter's messages and its rules' cache key)."""

    name: str
    requests_per_minute: int
    page_requests_per_minute: int
    user_requests_per_minute: int
    token_requests_per_minute: int
    uploads_per_hour: int
    documents_per_month: int | None
    storage_bytes: int | None
    members: int | None
    max_file_bytes: int
    worker_slots: int


@dataclass(frozen=True)
class TokenOrganization:
    """The token's organization: what the rate limiter and the request's labels read."""

    id: uuid.UUID
    name: str
    status: str
    plan_id: str
    quota_overrides: dict
    plan: PlanLimits


@dataclass(frozen=True)
class ApiUser:
    """The user a token acts as, from plain rows (not ORM objects): ``g.api_user``."""

    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    email: str
    role: str
    status: str
    organization: TokenOrganization

    @property
    def is_active(self) -> bool:
        return self.status == "active"


_tokens, _users = ApiToken.__table__, User.__table__
_orgs, _plans = Organization.__table__, Plan.__table__
_PLAN_COLUMNS = [getattr(_plans.c, name) for name in PlanLimits.__dataclass_fields__]

# One statement, compiled once (SQLAlchemy's statement cache) and run as Core: the token,
# its user, the organization and its plan's limits, as plain rows. The organization is named
# in the WHERE clause as well as by the context row-level security checks.
AUTHENTICATE = (
    select(
        _tokens.c.secret_hash,
        _tokens.c.revoked_at,
        _tokens.c.last_used_at,
        _users.c.id.label("user_id"),
        _users.c.name.label("user_name"),
        _users.c.email,
        _users.c.role,
        _users.c.status.label("user_status"),
        _orgs.c.name.label("org_name"),
        _orgs.c.status.label("org_status"),
        _orgs.c.plan_id,
        _orgs.c.quota_overrides,
        *_PLAN_COLUMNS,
    )
    .select_from(
        _tokens.join(
            _users,
            (_users.c.organization_id == _tokens.c.organization_id)
            & (_users.c.id == _tokens.c.user_id),
        )
        .join(_orgs, _orgs.c.id == _tokens.c.organization_id)
        .join(_plans, _plans.c.id == _orgs.c.plan_id)
    )
    .where(_tokens.c.organization_id == bindparam("org_id"), _tokens.c.id == bindparam("token_id"))
)
TOUCH = (
    update(_tokens)
    .where(_tokens.c.organization_id == bindparam("org_id"), _tokens.c.id == bindparam("token_id"))
    .values(last_used_at=bindparam("now"))
)


def authenticate(presented: str) -> ApiUser | None:
    """The active user a token acts as, with the tenant context set; None if not valid.

    Raises ``OrganizationSuspended`` for a valid token whose organization is suspended. A
    token authenticated a moment ago in this process is answered from ``TokenCache``.
    """
    parts = presented.strip().split("_", 3)
    if len(parts) != 4 or parts[0] != PREFIX:
        return None
    try:
        org_id, token_id = uuid.UUID(hex=parts[1]), uuid.UUID(hex=parts[2])
    except ValueError:
        return None
    cache = token_cache()
    generation = cache.generation() if cache is not None else None
    key = b""
    if generation is not None:
        key = hashlib.sha256(presented.strip().encode()).digest()
        cached = cache.recall(key, generation)  # type: ignore[union-attr]
        if cached is not None:
            tenancy.set_current_org(org_id)
            return cached
    tenancy.set_current_org(org_id)
    keys = {"org_id": org_id, "token_id": token_id}
    row = db.session.connection().execute(AUTHENTICATE, keys).one_or_none()
    if (
        row is None
        or row.revoked_at is not None
        or not hmac.compare_digest(row.secret_hash, _hash(parts[3]))
        or row.user_status != "active"
    ):
        tenancy.set_current_org(None)
        return None
    org_status = row.org_status
    if org_status == "suspended":
        tenancy.set_current_org(None)
        raise OrganizationSuspended()
    if org_status != "active":
        tenancy.set_current_org(None)
        return None
    # Shown to the minute: writing (and committing) on every call would put a disk flush on
    # the path of every API request, refused ones included.
    now = utcnow()
    last_used_at = row.last_used_at
    if last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION:
        db.session.connection().execute(TOUCH, keys | {"now": now})
        db.session.commit()
        last_used_at = now
    plan = PlanLimits(*row[12:])
    organization = TokenOrganization(
        org_id, row.org_name, org_status, row.plan_id, row.quota_overrides or {}, plan
    )
    user = ApiUser(
        row.user_id, org_id, row.user_name, row.email, row.role, row.user_status, organization
    )
    if generation is not None:
        # Kept until the next touch of last_used_at is due, at the latest.
        touch_due = (LAST_USED_RESOLUTION - (now - last_used_at)).total_seconds()
        cache.remember(key, user, generation, touch_due)  # type: ignore[union-attr]
    return user


# --- Identities kept for a moment (issue 15) -----------------------------------------------
#
# The token lookup was half of an API list's work at the database and a third of it in the
# web process. Each process keeps what an authenticated token acts as (the ``ApiUser``: user,
# role, organization, plan limits) for ``API_TOKEN_CACHE_SECONDS``, by a SHA-256 of the
# presented token (never the token itself), and answers the same token from it without the
# lookup. Only the lookup is skipped: the request's transaction still begins with the
# verified tenant context (``app_enter_org`` and its proof), and row-level security still
# checks every statement.
#
# Revocation. Every change that revokes or alters a token's identity (a token revoked or
# deleted; a member deleted, deactivated, renamed or given another role; an organization
# suspended, deleted or renamed; a plan or an organization's plan, overrides or status changed)
# fires ``NOTIFY pmdi_limits`` from a trigger (migrations 0009 and 0020), whoever makes it. The
# process's listener (``remembered.LimitChanges``, the one the rate limiter's memory uses) is
# read before every lookup (a non-blocking read, no round trip), and any notification forgets
# everything kept: the next request of that token, in every process, is looked up again.
# Without a working listener (not connected yet, broken, or reconnecting) nothing is kept or
# used: every request is looked up, as with the cache off. An entry also ends when its token's
# ``last_used_at`` is due to be written again, so that write happens as before.


@dataclass(frozen=True)
class _Kept:
    user: ApiUser
    generation: int  # LimitChanges.generation the identity was read in
    until: float  # time.monotonic()


class TokenCache:
    """This process's recently authenticated tokens, valid while no change is announced."""

    MAX_ENTRIES = 10_000

    def __init__(self, seconds: float, changes: Any) -> None:
        self.seconds = seconds
        self.changes = changes  # remembered.LimitChanges: poll() -> generation or None
        self._entries: dict[bytes, _Kept] = {}
        self._lock = threading.Lock()

    def generation(self) -> int | None:
        """Read before the lookup: None when there is no working listener (keep nothing)."""
        return self.changes.poll()

    def recall(self, key: bytes, generation: int) -> ApiUser | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.generation != generation or entry.until <= time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry.user

    def remember(self, key: bytes, user: ApiUser, generation: int, seconds: float) -> None:
        """Keep ``user`` (read after ``generation`` was) for at most ``seconds``."""
        seconds = min(seconds, self.seconds)
        if seconds <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._prune()
            self._entries[key] = _Kept(user, generation, time.monotonic() + seconds)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _prune(self) -> None:
        now = time.monotonic()
        # A copy: ``recall`` drops entries without the lock (another thread, meanwhile).
        for key, entry in list(self._entries.items()):
            if entry.until <= now:
                self._entries.pop(key, None)
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()


CACHE_EXTENSION = "api_token_cache"


def token_cache() -> TokenCache | None:
    """The current app's token cache; None when API_TOKEN_CACHE_SECONDS is 0."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cache = app.extensions.get(CACHE_EXTENSION, False)
    if cache is False:
        seconds = float(app.config.get("API_TOKEN_CACHE_SECONDS") or 0)
        limiter = app.extensions.get("ratelimits")
        cache = None
        if seconds > 0 and limiter is not None:
            cache = TokenCache(seconds, limiter.remembered.changes)
        app.extensions[CACHE_EXTENSION] = cache
    return cache
