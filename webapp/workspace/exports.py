"""Exports: a digest as Markdown, its actions as CSV, a member's actions as an ICS feed.

The feed lives behind a secret URL a calendar application polls without a session:
``/calendar/<org hex>_<feed hex>_<secret>.ics``. Only the SHA-256 of the secret is stored;
the link names its organization, so the lookup runs in that organization's context (no door
across tenants), and a wrong, revoked or another organization's link is 404.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import secrets
import uuid
from typing import Any

from icalendar import Calendar, Event
from sqlalchemy import select

from webapp import audit, tenancy
from webapp.extensions import db
from webapp.models import CalendarFeed, DigestItem, Document, User, utcnow
from webapp.workspace.items import document_items

CSV_HEADER = ["text", "owner", "member", "due_date", "priority", "done", "origin", "line", "page"]
# A formula-looking cell is prefixed so a spreadsheet shows it as text (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _md(text: str) -> str:
    """One line of Markdown text with its markup characters escaped."""
    out = " ".join(text.split())
    for char in "\\`*_[]<>#|":
        out = out.replace(char, "\\" + char)
    return out


def _members() -> dict[uuid.UUID, str]:
    return {u.id: u.name for u in db.session.scalars(select(User))}


def digest_markdown(document: Document, digest: dict[str, Any] | None) -> str:
    """The digest as a Markdown document (the people's edits included)."""
    found = document_items(document)
    names = _members()
    lines = [f"# {_md(document.title)}", ""]
    summary = (digest or {}).get("summary") or []
    if summary:
        lines += ["## Summary", ""] + [f"- {_md(s)}" for s in summary] + [""]
    lines += ["## Action items", ""]
    for item in found["action"]:
        owner = names.get(item.member_id) if item.member_id else item.owner_text
        extras = [f"owner: {_md(owner)}" if owner else None]
        extras.append(f"due: {item.due_date.isoformat()}" if item.due_date else None)
        extras.append("added by a person" if item.human else None)
        tail = "; ".join(e for e in extras if e)
        lines.append(
            f"- [{'x' if item.done else ' '}] {_md(item.text)}" + (f" ({tail})" if tail else "")
        )
    if not found["action"]:
        lines.append("None.")
    lines += ["", "## Decisions", ""]
    lines += [f"- {_md(i.text)}" for i in found["decision"]] or ["None."]
    lines += ["", "## Risks", ""]
    lines += [
        f"- {_md(i.text)}" + (f" (severity: {i.severity})" if i.severity else "")
        for i in found["risk"]
    ] or ["None."]
    key_dates = (digest or {}).get("key_dates") or []
    if key_dates:
        lines += ["", "## Key dates", ""]
        lines += [f"- {d.get('date') or ''}: {_md(d.get('text') or '')}" for d in key_dates]
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def actions_csv(document: Document) -> str:
    """The document's actions as CSV, one row each, with a header row."""
    names = _members()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for item in document_items(document)["action"]:
        writer.writerow(
            [
                _cell(item.text),
                _cell(item.owner_text),
                _cell(names.get(item.member_id) if item.member_id else ""),
                item.due_date.isoformat() if item.due_date else "",
                item.priority or "",
                "yes" if item.done else "no",
                "human" if item.human else "analyser",
                item.source_line or "",
                item.source_page or "",
            ]
        )
    return out.getvalue()


# --------------------------------------------------------------------------------------------
# The calendar feed


class FeedNotFound(Exception):
    """No such feed (wrong, revoked, or another organization's link)."""


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def active_feed(user_id: uuid.UUID) -> CalendarFeed | None:
    """The member's current feed, if any."""
    return db.session.scalar(
        select(CalendarFeed).where(
            CalendarFeed.user_id == user_id, CalendarFeed.revoked_at.is_(None)
        )
    )


def create_feed(user_id: uuid.UUID) -> str:
    """A new feed for the member (the old one revoked); returns the token for the URL, once."""
    revoke_feeds(user_id, commit=False)
    secret = secrets.token_urlsafe(32)
    feed = CalendarFeed(user_id=user_id, secret_hash=_hash(secret))
    db.session.add(feed)
    db.session.flush()
    audit.record(
        "calendar_feed.created", actor_id=user_id, target_type="calendar_feed", target_id=feed.id
    )
    db.session.commit()
    return f"{feed.organization_id.hex}_{feed.id.hex}_{secret}"


def revoke_feeds(user_id: uuid.UUID, commit: bool = True) -> int:
    """Revoke the member's feeds: their URLs answer 404 from now on."""
    count = 0
    for feed in db.session.scalars(
        select(CalendarFeed).where(
            CalendarFeed.user_id == user_id, CalendarFeed.revoked_at.is_(None)
        )
    ):
        feed.revoked_at = utcnow()
        audit.record(
            "calendar_feed.revoked",
            actor_id=user_id,
            target_type="calendar_feed",
            target_id=feed.id,
        )
        count += 1
    if commit:
        db.session.commit()
    return count


def _parse(token: str) -> tuple[uuid.UUID, uuid.UUID, str]:
    parts = token.split("_", 2)
    if len(parts) != 3 or not parts[2]:
        raise FeedNotFound()
    try:
        return uuid.UUID(hex=parts[0]), uuid.UUID(hex=parts[1]), parts[2]
    except ValueError:
        raise FeedNotFound() from None


def feed_calendar(token: str, base_url: str) -> bytes:
    """The ICS of the open actions the feed's member owns (``FeedNotFound`` otherwise)."""
    org_id, feed_id, secret = _parse(token)
    with tenancy.tenant_context(org_id):
        try:
            feed = db.session.scalar(
                select(CalendarFeed).where(
                    CalendarFeed.id == feed_id, CalendarFeed.revoked_at.is_(None)
                )
            )
            if feed is None or not hmac.compare_digest(feed.secret_hash, _hash(secret)):
                raise FeedNotFound()
            member = db.session.scalar(select(User).where(User.id == feed.user_id))
            if member is None or member.status != "active":
                raise FeedNotFound()
            rows = db.session.execute(
                select(DigestItem, Document.title)
                .join(Document, Document.id == DigestItem.document_id)
                .where(
                    DigestItem.kind == "action",
                    DigestItem.member_id == member.id,
                    DigestItem.removed_at.is_(None),
                    DigestItem.done.is_(False),
                    DigestItem.due_date.is_not(None),
                )
                .order_by(DigestItem.due_date)
                .limit(1000)
            ).all()
            body = _calendar(rows, base_url, org_id)
        finally:
            db.session.rollback()
    return body


def _calendar(rows: list, base_url: str, org_id: uuid.UUID) -> bytes:  # type: ignore[type-arg]
    calendar = Calendar()
    calendar.add("prodid", "-//PM Document Intelligence//Actions//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "My actions")
    stamp = utcnow()
    for item, title in rows:
        event = Event()
        event.add("uid", f"{item.id}@{org_id}")
        event.add("dtstamp", stamp)
        event.add("summary", item.text[:250])
        event.add("dtstart", item.due_date)
        event.add("dtend", item.due_date + dt.timedelta(days=1))
        event.add("description", f"From “{title}”")
        event.add("url", f"{base_url}/documents/{item.document_id}#item-{item.id}")
        calendar.add_component(event)
    return calendar.to_ical()
