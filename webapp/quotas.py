"""Hard quotas: documents per month, storage, members and file size, counted in PostgreSQL.

Every check runs in the caller's own transaction, after ``lock_usage()`` has taken
``SELECT ... FOR UPDATE`` on the organization's ``usage_totals`` row: writes of one
organization that count against a quota queue behind each other until commit, so concurrent
uploads can never overshoot, while other organizations never wait. The counters change in
the same transaction as the write, so a refused or rolled-back write counts nothing.

Choices a reader should know:

* Documents per month counts uploads accepted in the calendar month (UTC); deleting a
  document does not give the upload back (otherwise upload-delete cycles would lift the
  quota). A duplicate is refused before anything is counted.
* Storage counts the original bytes of the documents the organization holds now; deleting
  documents frees it in the delete's own transaction.
* Members counts every user row of the organization (a deactivated member keeps the seat
  until removed) plus every pending, unexpired invitation (an invitation holds its seat until
  it is accepted, revoked or expires); ``check_members(extra)`` is for the writes that add
  members or invitations.
* Over a hard quota the answer is **403** ``quota_exceeded``: retrying will not help, unlike
  a rate limit's 429; the message names the quota and the plan that lifts it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import func, literal, select
from sqlalchemy.dialects.postgresql import insert

from webapp import tenancy
from webapp.documents.services import DocumentError
from webapp.extensions import db
from webapp.models import (
    Document,
    Invitation,
    MonthlyUsage,
    Organization,
    Plan,
    UsageTotals,
    User,
)
from webapp.plans import effective_limit, human_bytes

WARN_AT_PERCENT = 80


class QuotaExceeded(DocumentError):
    """A hard quota would be exceeded; 403, since retrying will not help (unlike a 429)."""

    code = "quota_exceeded"
    status = 403

    def __init__(self, quota: str, message: str) -> None:
        super().__init__(message)
        self.quota = quota


def current_period(now: datetime | None = None) -> date:
    """The first day of the current calendar month (UTC): the key of the monthly counters."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).date().replace(day=1)


def lock_usage() -> UsageTotals:
    """Lock the organization's totals row for this transaction, creating it if missing.

    A missing row (an organization that has not uploaded since usage was introduced) starts
    from the documents it already holds.
    """
    org_id = tenancy.require_org_id()
    totals = _locked_totals()
    if totals is None:
        db.session.execute(
            insert(UsageTotals)
            .from_select(
                ["organization_id", "storage_bytes"],
                select(literal(org_id), _stored_bytes(org_id)),
            )
            .on_conflict_do_nothing(index_elements=["organization_id"])
        )
        totals = _locked_totals()
    assert totals is not None  # inserted above, or by a concurrent transaction that committed
    return totals


def _locked_totals() -> UsageTotals | None:
    return db.session.scalar(
        select(UsageTotals).with_for_update().execution_options(populate_existing=True)
    )


def _stored_bytes(org_id: uuid.UUID) -> Any:
    return (
        select(func.coalesce(func.sum(Document.size_bytes), 0))
        .where(Document.organization_id == org_id)
        .scalar_subquery()
    )


def _month_start(period: date) -> datetime:
    return datetime(period.year, period.month, 1, tzinfo=UTC)


def _uploads_since(org_id: uuid.UUID, period: date) -> tuple[Any, Any]:
    """Documents created since the month began and their bytes (to start a month's row)."""
    since = (Document.organization_id == org_id) & (Document.created_at >= _month_start(period))
    return (
        select(func.count()).select_from(Document).where(since).scalar_subquery(),
        select(func.coalesce(func.sum(Document.size_bytes), 0)).where(since).scalar_subquery(),
    )


def _month_row(period: date) -> MonthlyUsage:
    """This month's counters, created if missing; call with the usage lock held."""
    org_id = tenancy.require_org_id()
    query = (
        select(MonthlyUsage)
        .where(MonthlyUsage.period == period)
        .execution_options(populate_existing=True)
    )
    row = db.session.scalar(query)
    if row is None:
        documents, uploaded = _uploads_since(org_id, period)
        db.session.execute(
            insert(MonthlyUsage)
            .from_select(
                ["organization_id", "period", "documents_uploaded", "bytes_uploaded"],
                select(literal(org_id), literal(period), documents, uploaded),
            )
            .on_conflict_do_nothing(index_elements=["organization_id", "period"])
        )
        row = db.session.scalar(query)
    assert row is not None
    return row


def _limit(org: Organization, name: str) -> int | None:
    value = effective_limit(org, name)
    return None if value is None else int(value)


def lifting_plan(org: Organization, name: str, limit: int) -> str:
    """A sentence naming the smallest other plan that allows more than ``limit`` of ``name``."""
    plans = db.session.scalars(select(Plan).where(Plan.id != org.plan_id)).all()
    better = [p for p in plans if getattr(p, name) is None or getattr(p, name) > limit]
    if not better:
        return "No plan allows more; contact support to raise it."
    best = min(better, key=lambda p: (getattr(p, name) is None, getattr(p, name) or 0))
    allowed = getattr(best, name)
    if allowed is None:
        return f"The {best.name} plan has no limit."
    shown = human_bytes(allowed) if name == "storage_bytes" else f"{allowed:,}"
    return f"The {best.name} plan allows {shown}."


def charge_upload(
    org: Organization, filename: str, size: int, totals: UsageTotals | None = None
) -> None:
    """Check documents-per-month and storage for one more upload of ``size`` bytes, and count it.

    ``totals`` is the row ``lock_usage()`` returned in this transaction (locked again if not
    given); raises ``QuotaExceeded`` counting nothing.
    """
    totals = totals or lock_usage()
    month = _month_row(current_period())
    plan = org.plan.name
    max_documents = _limit(org, "documents_per_month")
    if max_documents is not None and month.documents_uploaded + 1 > max_documents:
        raise QuotaExceeded(
            "documents_per_month",
            f"Your organization has used all {max_documents:,} documents of this month on the "
            f"{plan} plan, so “{filename}” was not uploaded. "
            + lifting_plan(org, "documents_per_month", max_documents),
        )
    max_storage = _limit(org, "storage_bytes")
    if max_storage is not None and totals.storage_bytes + size > max_storage:
        raise QuotaExceeded(
            "storage_bytes",
            f"“{filename}” ({human_bytes(size)}) does not fit in your organization's storage: "
            f"{human_bytes(totals.storage_bytes)} of the {human_bytes(max_storage)} the {plan} "
            "plan allows are used. Delete documents to free space. "
            + lifting_plan(org, "storage_bytes", max_storage),
        )
    now = datetime.now(UTC)
    totals.storage_bytes += size
    totals.updated_at = now
    month.documents_uploaded += 1
    month.bytes_uploaded += size
    month.updated_at = now


def release_storage(size: int, totals: UsageTotals | None = None) -> None:
    """Give back ``size`` bytes of storage (documents deleted in this transaction)."""
    totals = totals or lock_usage()
    totals.storage_bytes = max(0, totals.storage_bytes - size)
    totals.updated_at = datetime.now(UTC)


def check_members(extra: int = 1) -> None:
    """Refuse (``QuotaExceeded``) unless ``extra`` more members fit; holds the usage lock.

    Call it in the transaction that adds the members, before adding them.
    """
    lock_usage()
    org = tenancy.current_organization()
    limit = _limit(org, "members")
    if limit is None:
        return
    members = db.session.scalar(select(func.count()).select_from(User)) or 0
    pending = pending_invitations()
    if members + pending + extra > limit:
        waiting = f" (and {pending:,} pending invitation(s), which hold seats)" if pending else ""
        raise QuotaExceeded(
            "members",
            f"Your organization has {members:,} of the {limit:,} members the {org.plan.name} "
            f"plan allows{waiting}. " + lifting_plan(org, "members", limit),
        )


def pending_invitations() -> int:
    """Invitations not yet accepted, revoked or expired: each holds a seat until it ends."""
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Invitation)
            .where(
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > func.now(),
            )
        )
        or 0
    )


@dataclass(frozen=True)
class Meter:
    """One quota on the usage page: used of limit (``None`` = unlimited)."""

    key: str
    label: str
    used: int
    limit: int | None
    unit: str = "count"  # or "bytes"

    @property
    def percent(self) -> int | None:
        """Used, in whole percent of the limit (capped at 100); None when unlimited."""
        if self.limit is None:
            return None
        if self.limit <= 0:
            return 100
        return min(100, self.used * 100 // self.limit)

    @property
    def warning(self) -> bool:
        """True from ``WARN_AT_PERCENT`` of the limit."""
        return self.percent is not None and self.percent >= WARN_AT_PERCENT

    def show(self, value: int | None) -> str:
        """A value the way the page writes it."""
        if value is None:
            return "unlimited"
        return human_bytes(value) if self.unit == "bytes" else f"{value:,}"


@dataclass(frozen=True)
class UsageSummary:
    """What the usage page shows: the meters and the per-file limit."""

    plan_name: str
    period: date
    meters: list[Meter]
    max_file_bytes: int


def usage_summary() -> UsageSummary:
    """The current organization's usage against its effective limits (reads, never locks)."""
    org = tenancy.current_organization()
    org_id = org.id
    period = current_period()
    storage = db.session.scalar(select(UsageTotals.storage_bytes))
    if storage is None:
        # Trashed documents count until purged (webapp/documents/trash.py).
        storage = (
            db.session.scalar(select(_stored_bytes(org_id)).execution_options(include_trashed=True))
            or 0
        )
    documents = db.session.scalar(
        select(MonthlyUsage.documents_uploaded).where(MonthlyUsage.period == period)
    )
    if documents is None:
        documents = (
            db.session.scalar(
                select(_uploads_since(org_id, period)[0]).execution_options(include_trashed=True)
            )
            or 0
        )
    members = db.session.scalar(select(func.count()).select_from(User)) or 0
    meters = [
        Meter(
            "documents_per_month",
            "Documents this month",
            documents,
            _limit(org, "documents_per_month"),
        ),
        Meter("storage_bytes", "Storage", storage, _limit(org, "storage_bytes"), "bytes"),
        Meter("members", "Members", members, _limit(org, "members")),
    ]
    return UsageSummary(org.plan.name, period, meters, int(effective_limit(org, "max_file_bytes")))


@dataclass(frozen=True)
class RateWindow:
    """One rate-limit window on the usage page; ``used`` is None when it cannot be read."""

    key: str
    label: str
    limit: int | None
    per: str
    used: int | None = None

    @property
    def percent(self) -> int | None:
        """Hits in the window, in whole percent of the limit; None when unknown or unlimited."""
        if self.used is None or self.limit is None:
            return None
        return 100 if self.limit <= 0 else min(100, self.used * 100 // self.limit)

    @property
    def warning(self) -> bool:
        """True from ``WARN_AT_PERCENT`` of the limit."""
        return self.percent is not None and self.percent >= WARN_AT_PERCENT


def rate_windows() -> list[RateWindow]:
    """The organization's rate limits and, when the limiter can tell, its current windows."""
    org = tenancy.current_organization()
    counts = _window_counts(org)
    return [
        RateWindow(
            "page_requests_per_minute",
            "Page views",
            _limit(org, "page_requests_per_minute"),
            "minute",
            counts.get("page_requests_per_minute"),
        ),
        RateWindow(
            "requests_per_minute",
            "API requests",
            _limit(org, "requests_per_minute"),
            "minute",
            counts.get("requests_per_minute"),
        ),
        RateWindow(
            "uploads_per_hour",
            "Uploads",
            _limit(org, "uploads_per_hour"),
            "hour",
            counts.get("uploads_per_hour"),
        ),
    ]


def _window_counts(org: Organization) -> dict[str, int]:
    """Hits in the organization's moving windows by limit name; empty when off or unreadable."""
    limiter = current_app.extensions.get("ratelimits")
    if limiter is None or not limiter.enabled:
        return {}
    decision = limiter.peek(org)  # charges nothing; None when Redis does not answer
    if decision is None:
        return {}
    return {window.rule.name: window.count for window in decision.windows}
