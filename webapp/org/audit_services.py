"""Reading the organization's audit log: filters, pages and a CSV export.

The log is append-only (the app role may INSERT and SELECT ``audit_events``, never UPDATE or
DELETE); nothing here writes to it. Every read goes through the tenant-scoped session, so an
organization only ever reads its own events.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, distinct, select, tuple_

from webapp import tenancy
from webapp.extensions import db
from webapp.models import AuditEvent

PER_PAGE = 50
CSV_BATCH = 500
SYSTEM_ACTOR = "none"  # events with no member behind them (platform admins, the reaper)
CSV_COLUMNS = (
    "created_at",
    "action",
    "actor_user_id",
    "actor_email",
    "target_type",
    "target_id",
    "ip",
    "user_agent",
    "request_id",
    "details",
)
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class AuditFilter:
    """What the audit page shows: an action, an actor, a date range (inclusive, UTC days)."""

    action: str | None = None
    actor: str | None = None  # a member's id, SYSTEM_ACTOR, or None for everyone
    date_from: date | None = None
    date_to: date | None = None

    def as_args(self) -> dict[str, str]:
        """The filter as query-string arguments (for links to other pages and the CSV)."""
        values = {
            "action": self.action,
            "actor": self.actor,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
        }
        return {key: value for key, value in values.items() if value}


def _parse_date(raw: str, label: str, errors: list[str]) -> date | None:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(f"{label}: enter a date as YYYY-MM-DD (for example 2024-05-31).")
        return None


def parse_filter(args: Mapping[str, str]) -> tuple[AuditFilter, list[str]]:
    """The filter asked for in ``args``, and a message for each part that is not valid.

    A part that is not valid is left out of the filter, so the page still shows something.
    """
    errors: list[str] = []
    action = (args.get("action") or "").strip()[:64] or None
    actor = (args.get("actor") or "").strip() or None
    if actor is not None and actor != SYSTEM_ACTOR:
        try:
            actor = str(uuid.UUID(actor))
        except ValueError:
            errors.append("Actor: choose a member from the list.")
            actor = None
    raw_from, raw_to = (args.get("from") or "").strip(), (args.get("to") or "").strip()
    date_from = _parse_date(raw_from, "From", errors) if raw_from else None
    date_to = _parse_date(raw_to, "To", errors) if raw_to else None
    if date_from and date_to and date_from > date_to:
        errors.append("The “from” date is after the “to” date.")
        date_from = date_to = None
    return AuditFilter(action, actor, date_from, date_to), errors


def _filtered(filters: AuditFilter) -> Select[Any]:
    query = select(AuditEvent)
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.actor == SYSTEM_ACTOR:
        query = query.where(AuditEvent.actor_user_id.is_(None))
    elif filters.actor:
        query = query.where(AuditEvent.actor_user_id == uuid.UUID(filters.actor))
    if filters.date_from:
        start = datetime.combine(filters.date_from, time.min, tzinfo=UTC)
        query = query.where(AuditEvent.created_at >= start)
    if filters.date_to:
        end = datetime.combine(filters.date_to + timedelta(days=1), time.min, tzinfo=UTC)
        query = query.where(AuditEvent.created_at < end)
    return query


def list_events(filters: AuditFilter, page: int = 1, per_page: int = PER_PAGE) -> Any:
    """One page of the organization's events matching ``filters``, newest first."""
    query = _filtered(filters).order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    return db.paginate(query, page=max(page, 1), per_page=per_page, error_out=False)


def known_actions() -> list[str]:
    """The actions this organization's log holds, for the filter's list."""
    return list(db.session.scalars(select(distinct(AuditEvent.action)).order_by(AuditEvent.action)))


def safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet will show as text, never run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _csv_line(values: list[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([safe_cell(v) for v in values])
    return buffer.getvalue()


def iter_csv(filters: AuditFilter, emails: Mapping[uuid.UUID, str]) -> Iterator[str]:
    """The filtered events as CSV lines, newest first, read in batches (never all at once).

    The body is streamed after the request's teardown has cleared the tenant context, so each
    batch sets it again for the organization that asked.
    """
    return _csv_lines(tenancy.require_org_id(), filters, emails)


def _csv_lines(
    org_id: uuid.UUID, filters: AuditFilter, emails: Mapping[uuid.UUID, str]
) -> Iterator[str]:
    yield _csv_line(list(CSV_COLUMNS))
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        query = _filtered(filters).order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        if after is not None:
            query = query.where(tuple_(AuditEvent.created_at, AuditEvent.id) < after)
        with tenancy.tenant_context(org_id):
            batch = list(db.session.scalars(query.limit(CSV_BATCH)))
            db.session.commit()
        for event in batch:
            yield _csv_line(
                [
                    event.created_at.isoformat(),
                    event.action,
                    event.actor_user_id,
                    emails.get(event.actor_user_id) if event.actor_user_id else None,
                    event.target_type,
                    event.target_id,
                    event.ip,
                    event.user_agent,
                    event.request_id,
                    json.dumps(event.details, sort_keys=True, default=str),
                ]
            )
        if len(batch) < CSV_BATCH:
            return
        after = (batch[-1].created_at, batch[-1].id)
