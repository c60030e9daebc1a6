"""Platform administration: admin accounts, plans, one organization's plan/overrides/status.

Every cross-tenant read or write goes through the admin door in ``webapp.tenancy`` (SECURITY
DEFINER functions), and every change is audited twice in the same transaction as the change:
in the global ``platform_audit_events`` (who, old value, new value) and, for a change to one
organization, in that organization's own ``audit_events`` so its admins see it too.
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app, g, has_request_context, request
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from webapp import audit, load, tenancy
from webapp.auth.services import hasher, verify_password
from webapp.extensions import db
from webapp.models import Document, Plan, PlatformAdmin, PlatformAuditEvent, utcnow
from webapp.plans import LIMIT_NAMES, effective_limit, human_bytes
from webapp.ratelimit import login_attempt

log = logging.getLogger(__name__)

STATUSES = ("active", "suspended")
INHERIT = "inherit"
UNLIMITED = "unlimited"
PER_PAGE = 50
# Largest value each limit's column holds (integer or bigint).
_MAX_VALUE = {name: 2**31 - 1 for name in LIMIT_NAMES} | {
    "storage_bytes": 2**63 - 1,
    "max_file_bytes": 2**63 - 1,
}
LIMIT_LABELS = {
    "requests_per_minute": "API requests per minute (organization)",
    "page_requests_per_minute": "Page requests per minute (organization)",
    "user_requests_per_minute": "Page requests per minute (each member)",
    "token_requests_per_minute": "API requests per minute (each token)",
    "uploads_per_hour": "Uploads per hour",
    "documents_per_month": "Documents per month",
    "storage_bytes": "Storage (bytes)",
    "members": "Members",
    "max_file_bytes": "Largest file (bytes)",
    "worker_slots": "Worker slots",
}
BYTE_LIMITS = frozenset({"storage_bytes", "max_file_bytes"})


class AdminError(Exception):
    """A refusal with a message that can be shown to the admin."""

    message = "That did not work."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message


class NotFound(AdminError):
    message = "There is no such organization or plan."


class InvalidChange(AdminError):
    message = "That change is not valid."


class AdminExists(AdminError):
    message = "A platform admin with this e-mail already exists."


class InvalidCredentials(AdminError):
    message = "Wrong e-mail or password."


class TooManyAttempts(AdminError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many log-in attempts. Try again in {retry_after} seconds.")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a signed-in platform admin, or an operator at the command line."""

    label: str
    admin_id: uuid.UUID | None = None
    email: str | None = None

    @classmethod
    def of_admin(cls, admin: PlatformAdmin) -> Actor:
        return cls(f"admin:{admin.email}", admin.id, admin.email)

    @classmethod
    def cli(cls) -> Actor:
        """``cli:<os user>`` for ``flask admin`` commands."""
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (some containers)
            user = f"uid{os.getuid()}"
        return cls(f"cli:{user}")


# --- limits: parsing and showing ----------------------------------------------------------


def may_be_unlimited(name: str) -> bool:
    """Whether the plan column of ``name`` is nullable (NULL means unlimited)."""
    return bool(Plan.__table__.c[name].nullable)


def parse_limit(name: str, raw: str | int | None, *, allow_inherit: bool) -> int | None | str:
    """A limit as typed: a non-negative integer, ``unlimited`` (None) where the plan allows
    it, or — for an override — blank / ``inherit`` (returns ``INHERIT``). Raises InvalidChange.
    """
    if name not in LIMIT_NAMES:
        raise InvalidChange(f"Unknown limit “{name}”. Limits: {', '.join(LIMIT_NAMES)}.")
    label = LIMIT_LABELS[name]
    text = "" if raw is None else str(raw).strip().lower().replace("_", "").replace(",", "")
    if text in ("", INHERIT):
        if allow_inherit:
            return INHERIT
        raise InvalidChange(f"{label}: enter a value.")
    if text == UNLIMITED:
        if may_be_unlimited(name):
            return None
        raise InvalidChange(f"{label} cannot be unlimited; enter a whole number.")
    if not re.fullmatch(r"\d+", text):
        words = "a whole number of 0 or more"
        if may_be_unlimited(name):
            words += " or “unlimited”"
        if allow_inherit:
            words += " (blank to use the plan's value)"
        raise InvalidChange(f"{label}: enter {words}.")
    value = int(text)
    if value > _MAX_VALUE[name]:
        raise InvalidChange(f"{label}: at most {_MAX_VALUE[name]}.")
    return value


def show_limit(name: str, value: Any) -> str:
    """A limit as people read it: ``10 MB``, ``600``, ``unlimited``."""
    if value is None:
        return "unlimited"
    if name in BYTE_LIMITS:
        return human_bytes(int(value))
    return f"{int(value):,}"


def as_form_text(value: Any) -> str:
    """A stored limit as an admin types it back (``unlimited`` for None)."""
    return UNLIMITED if value is None else str(value)


# --- audit --------------------------------------------------------------------------------


def _platform_event(
    actor: Actor,
    action: str,
    target_type: str | None,
    target_id: object | None,
    old: Any = None,
    new: Any = None,
) -> PlatformAuditEvent:
    event = PlatformAuditEvent(
        actor=actor.label,
        actor_admin_id=actor.admin_id,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        old_value=old,
        new_value=new,
    )
    if has_request_context():
        event.ip = request.remote_addr
        event.user_agent = (request.user_agent.string or "")[:500] or None
        event.request_id = g.get("request_id")
    db.session.add(event)
    return event


def recent_events(limit: int = 100) -> list[PlatformAuditEvent]:
    """The newest platform audit events."""
    query = select(PlatformAuditEvent).order_by(PlatformAuditEvent.created_at.desc()).limit(limit)
    return list(db.session.scalars(query))


# --- admin accounts -----------------------------------------------------------------------


def create_admin(email: str, name: str, password: str, actor: Actor) -> PlatformAdmin:
    """Create a platform admin (``flask admin create-admin``); audited."""
    email = email.strip().lower()
    name = name.strip()
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email) or len(email) > 254:
        raise InvalidChange("Give a valid e-mail address.")
    if not name or len(name) > 120:
        raise InvalidChange("Give a name of 1 to 120 characters.")
    minimum = int(current_app.config.get("MIN_PASSWORD_LENGTH", 10))
    if len(password) < minimum:
        raise InvalidChange(f"Use a password of at least {minimum} characters.")
    if _find_admin(email) is not None:
        raise AdminExists()
    # No role may INSERT into platform_admins: the platform role's door does it (0010).
    try:
        admin_id = tenancy.create_platform_admin(email, name, hasher.hash(password))
    except IntegrityError as exc:  # created concurrently
        db.session.rollback()
        raise AdminExists() from exc
    admin = db.session.get(PlatformAdmin, admin_id)
    assert admin is not None  # just inserted in this transaction
    _platform_event(
        actor, "admin.created", "platform_admin", admin.id, None, {"email": email, "name": name}
    )
    db.session.commit()
    return admin


def _find_admin(email: str) -> PlatformAdmin | None:
    query = select(PlatformAdmin).where(func.lower(PlatformAdmin.email) == email.strip().lower())
    return db.session.scalar(query)


def authenticate_admin(email: str, password: str, ip: str | None) -> PlatformAdmin:
    """Check an admin log-in: throttled like organization log-ins, audited either way."""
    email = email.strip().lower()
    # Counted apart from any organization account with the same address.
    verdict = login_attempt(f"platform-admin:{email}", ip)
    if not verdict.allowed:
        log.warning("admin log-in throttled for %s from %s", email, ip)
        raise TooManyAttempts(verdict.retry_after)
    admin = _find_admin(email)
    if not verify_password(admin.password_hash if admin else None, password):
        _platform_event(
            Actor("anonymous"),
            "admin.login_failed",
            "platform_admin",
            admin.id if admin else None,
            None,
            {"email": email},
        )
        db.session.commit()
        raise InvalidCredentials()
    if hasher.check_needs_rehash(admin.password_hash):
        admin.password_hash = hasher.hash(password)
    admin.last_login_at = utcnow()
    _platform_event(Actor.of_admin(admin), "admin.login", "platform_admin", admin.id)
    db.session.commit()
    return admin


def signed_in_admin(admin_id: object, signed_in_at: object) -> PlatformAdmin | None:
    """The admin a session names, if it still exists and the sign-in has not expired."""
    if not isinstance(admin_id, str) or not isinstance(signed_in_at, int | float):
        return None
    max_age = float(current_app.config.get("ADMIN_SESSION_SECONDS", 8 * 3600))
    if not (0 <= time.time() - signed_in_at <= max_age):
        return None
    try:
        parsed = uuid.UUID(admin_id)
    except ValueError:
        return None
    return db.session.get(PlatformAdmin, parsed)


def record_admin_logout(admin: PlatformAdmin) -> None:
    """Audit an admin's log-out (the caller ends the session)."""
    _platform_event(Actor.of_admin(admin), "admin.logout", "platform_admin", admin.id)
    db.session.commit()


# --- organizations ------------------------------------------------------------------------


@dataclass(frozen=True)
class OrganizationPage:
    """One page of the organizations list."""

    organizations: list[tenancy.OrganizationRecord]
    search: str
    next_cursor: str | None  # the page after this one (older), if there is one
    first: bool  # whether this is the first (newest) page


@dataclass(frozen=True)
class LimitRow:
    """One limit of one organization: the plan's value, the override, the effective value."""

    name: str
    label: str
    plan_value: Any
    overridden: bool
    override: Any
    effective: Any


@dataclass(frozen=True)
class OrganizationDetail:
    """An organization with its plan and effective limits."""

    record: tenancy.OrganizationRecord
    plan: Plan
    limits: list[LimitRow] = field(default_factory=list)


@dataclass(frozen=True)
class _Limits:
    """Duck-types an Organization for ``effective_limit`` (same rule as the rest of the app)."""

    quota_overrides: dict
    plan: Plan


def encode_org_cursor(record: tenancy.OrganizationRecord) -> str:
    """The opaque cursor of the page after ``record``."""
    return f"{record.created_at.isoformat()}_{record.id}"


def decode_org_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """(created_at, id) from a cursor; None (the first page) for anything else."""
    created, _, org_id = (cursor or "").rpartition("_")
    try:
        moment, key = datetime.fromisoformat(created), uuid.UUID(org_id)
    except ValueError:
        return None
    return (moment, key) if moment.tzinfo is not None else None


def list_organizations(search: str | None, cursor: str | None = None) -> OrganizationPage:
    """Organizations whose name contains ``search`` (or whose slug is it), newest first,
    a page at a time after ``cursor`` (keyset pagination: every page costs the same)."""
    search = (search or "").strip()[:120]
    after = decode_org_cursor(cursor)
    records = tenancy.admin_organizations_page(search, PER_PAGE + 1, after)
    db.session.rollback()  # end the context-free transaction of the door
    page = records[:PER_PAGE]
    next_cursor = encode_org_cursor(page[-1]) if len(records) > PER_PAGE else None
    return OrganizationPage(page, search, next_cursor, after is None)


def resolve_organization(ref: str | uuid.UUID) -> tenancy.OrganizationRecord:
    """An organization by id or slug; raises NotFound."""
    org_id: uuid.UUID | None
    if isinstance(ref, uuid.UUID):
        org_id, slug = ref, None
    else:
        try:
            org_id, slug = uuid.UUID(ref.strip()), None
        except ValueError:
            org_id, slug = None, ref.strip().lower()
    record = tenancy.admin_get_organization(org_id, slug)
    if record is None:
        raise NotFound(f"There is no organization “{ref}”.")
    return record


def organization_detail(ref: str | uuid.UUID) -> OrganizationDetail:
    """An organization, its plan, and each limit: plan value, override, effective value."""
    record = resolve_organization(ref)
    plan = db.session.get(Plan, record.plan_id)
    db.session.rollback()
    assert plan is not None  # a foreign key guarantees it
    overrides = record.quota_overrides or {}
    holder = _Limits(overrides, plan)
    rows = [
        LimitRow(
            name,
            LIMIT_LABELS[name],
            getattr(plan, name),
            name in overrides,
            overrides.get(name),
            effective_limit(holder, name),  # type: ignore[arg-type]
        )
        for name in LIMIT_NAMES
    ]
    return OrganizationDetail(record, plan, rows)


def list_plans() -> list[Plan]:
    """Every plan, cheapest first."""
    return list(db.session.scalars(select(Plan).order_by(Plan.max_file_bytes, Plan.id)))


def validate_overrides(values: dict[str, Any]) -> dict[str, int | None]:
    """Overrides as stored: each limit a non-negative integer or None (unlimited)."""
    cleaned: dict[str, int | None] = {}
    for name, raw in values.items():
        value = parse_limit(name, "unlimited" if raw is None else raw, allow_inherit=True)
        if value != INHERIT:
            cleaned[name] = value  # type: ignore[assignment]
    return cleaned


def update_organization(
    actor: Actor,
    ref: str | uuid.UUID,
    *,
    plan_id: str | None = None,
    status: str | None = None,
    overrides: dict[str, Any] | None = None,
    note: str | None = None,
) -> list[str]:
    """Change an organization's plan, status and/or overrides (None = leave as is).

    Returns the audit actions written (empty when nothing changed). The change and both
    audit records commit together.
    """
    if status is not None and status not in STATUSES:
        raise InvalidChange(f"Status must be one of: {', '.join(STATUSES)}.")
    if plan_id is not None and db.session.get(Plan, plan_id) is None:
        raise InvalidChange(f"There is no plan “{plan_id}”.")
    cleaned = None if overrides is None else validate_overrides(overrides)
    record = resolve_organization(ref)
    result = tenancy.admin_update_organization(record.id, plan_id, status, cleaned)
    if result is None:
        db.session.rollback()
        raise NotFound()
    old, new = result
    changes = []
    for key, action in (
        ("plan_id", "organization.plan_changed"),
        ("status", "organization.suspended" if new["status"] == "suspended" else None),
        ("quota_overrides", "organization.overrides_changed"),
    ):
        if old[key] == new[key]:
            continue
        if key == "status" and action is None:
            action = "organization.reactivated"
        assert action is not None
        changes.append((action, {key: old[key]}, {key: new[key]}))
    if not changes:
        db.session.rollback()
        return []
    for action, before, after in changes:
        _platform_event(actor, action, "organization", record.id, before, after)
    with tenancy.tenant_context(record.id):
        for action, before, after in changes:
            audit.record(
                action,
                actor_id=None,  # not a member: the platform admin is named in the details
                target_type="organization",
                target_id=record.id,
                details={
                    "by": "platform",
                    "actor": actor.label,
                    "platform_admin_id": None if actor.admin_id is None else str(actor.admin_id),
                    "platform_admin_email": actor.email,
                    "old": before,
                    "new": after,
                    **({"note": note} if note else {}),
                },
            )
        db.session.commit()
    log.info("%s changed organization %s: %s", actor.label, record.id, [c[0] for c in changes])
    if any(c[0] == "organization.reactivated" for c in changes):
        resume_waiting_documents(record.id)  # suspension hook (issue 5, item 6)
    return [c[0] for c in changes]


# --- suspension hook (issue 5, item 6): documents that waited while suspended -------------


def resume_waiting_documents(org_id: uuid.UUID) -> int:
    """Dispatch again every ``queued`` document of a reactivated organization.

    While suspended, workers leave its documents ``queued`` (workers/fair_run.py); this puts
    them back through the organization's worker slots. A failure to reach the broker is
    logged: the reaper re-queues documents left ``queued`` anyway.
    """
    from webapp.documents import services as documents

    with tenancy.tenant_context(org_id):
        ids = list(
            db.session.scalars(
                select(Document.id)
                .where(Document.status == "queued")
                .order_by(Document.created_at, Document.id)
            )
        )
        db.session.commit()
        for document_id in ids:
            try:
                documents.send_task(documents.PROCESS_TASK, org_id, str(document_id))
            except Exception:  # noqa: BLE001 - the reaper picks up what is left queued
                log.warning("could not resume document %s", document_id, exc_info=True)
                break
    return len(ids)


def set_organization_override(
    actor: Actor, ref: str, name: str, raw: str, note: str | None = None
) -> list[str]:
    """Set one override (``inherit`` removes it, so the plan's value applies again)."""
    value = parse_limit(name, raw, allow_inherit=True)
    record = resolve_organization(ref)
    overrides = dict(record.quota_overrides or {})
    if value == INHERIT:
        overrides.pop(name, None)
    else:
        overrides[name] = value
    return update_organization(actor, record.id, overrides=overrides, note=note)


# --- plans --------------------------------------------------------------------------------


def update_plan(actor: Actor, plan_id: str, limits: dict[str, Any]) -> dict[str, Any]:
    """Change a plan's limits for every organization on it; returns what changed (old, new)."""
    cleaned: dict[str, int | None] = {}
    for name, raw in limits.items():
        cleaned[name] = parse_limit(name, raw, allow_inherit=False)  # type: ignore[assignment]
    result = tenancy.admin_update_plan(plan_id, cleaned)
    if result is None:
        db.session.rollback()
        raise NotFound(f"There is no plan “{plan_id}”.")
    old, new = result
    changed = {name: (old[name], new[name]) for name in new if old[name] != new[name]}
    if not changed:
        db.session.rollback()
        return {}
    _platform_event(
        actor,
        "plan.limits_changed",
        "plan",
        plan_id,
        {name: before for name, (before, _) in changed.items()},
        {name: after for name, (_, after) in changed.items()},
    )
    db.session.commit()
    stale = db.session.get(Plan, plan_id)
    if stale is not None:
        db.session.expire(stale)  # the door changed it behind the ORM's back
    log.info("%s changed plan %s: %s", actor.label, plan_id, changed)
    return changed


# --- the load view (issue 13 §4; counters in webapp/load.py) --------------------------------


@dataclass(frozen=True)
class LoadRow:
    """One organization in the load view: its figures over the period, minute by minute."""

    org_id: str
    name: str
    plan_id: str
    totals: dict[str, float]
    series: dict[str, list[int]]


@dataclass(frozen=True)
class LoadTable:
    """The top organizations of the last ``minutes`` by each figure (name -> rows)."""

    minutes: int
    top: dict[str, list[LoadRow]]
    active: int  # organizations with any count in the period
    unavailable: bool = False  # Redis did not answer


def _load_redis() -> Any:
    """The rate limiter's Redis client: the load counters live with its windows."""
    return current_app.extensions["ratelimits"].windows.client


def load_top(minutes: int = 60, count: int = 10) -> LoadTable:
    """Who loads the platform: the ``count`` busiest organizations by each figure."""
    try:
        rows = load.top(_load_redis(), minutes)
    except Exception:  # noqa: BLE001 - the view says Redis is unavailable, never a 500
        log.warning("load counters unavailable", exc_info=True)
        return LoadTable(minutes, {name: [] for name in load.NAMES}, 0, unavailable=True)
    ranked = {name: load.ranked(rows, name, count) for name in load.NAMES}
    wanted = {row.org_id for chosen in ranked.values() for row in chosen}
    records: dict[str, tenancy.OrganizationRecord | None] = {}
    for org_id in sorted(wanted):
        try:
            records[org_id] = resolve_organization(uuid.UUID(org_id))
        except (ValueError, NotFound):
            records[org_id] = None  # deleted since: shown by id
    db.session.rollback()  # end the context-free transaction of the door

    def as_row(row: load.TopRow) -> LoadRow:
        record = records.get(row.org_id)
        return LoadRow(
            row.org_id,
            record.name if record else f"(deleted) {row.org_id}",
            record.plan_id if record else "",
            row.totals,
            row.series.values,
        )

    top = {name: [as_row(row) for row in chosen] for name, chosen in ranked.items()}
    active = sum(1 for row in rows if any(row.totals.values()))
    return LoadTable(minutes, top, active)


@dataclass(frozen=True)
class OrganizationLoad:
    """One organization's last 24 h (in quarter hours) and its monthly usage history."""

    totals: dict[str, float]
    quarters: dict[str, list[int]]  # figure name -> 96 values, oldest first
    months: list[tenancy.UsageMonth]
    unavailable: bool = False


def organization_load(org_id: uuid.UUID) -> OrganizationLoad:
    """What the organization's admin page charts next to its limits."""
    months = tenancy.admin_usage_history(org_id, 12)
    db.session.rollback()
    minutes = load.KEEP_SECONDS // 60
    try:
        (series,) = load.read_series(_load_redis(), [str(org_id)], minutes)
    except Exception:  # noqa: BLE001 - the page shows the limits without the charts
        log.warning("load counters unavailable", exc_info=True)
        return OrganizationLoad({}, {}, months, unavailable=True)
    totals = {name: series.total(name) for name in load.NAMES}
    quarters = {name: load.bucketed(values, 96) for name, values in series.values.items()}
    return OrganizationLoad(totals, quarters, months)
