"""Notifications: in-app (the bell) and by mail through ``webapp.mail``, at most once each.

A notification is written in the transaction of what caused it (a digest stored, a document
failed, an action assigned), with ``mail_pending`` when its member takes mail; a message
published after that commit asks for ``workers.tasks.deliver_notifications(org_id)``, which
mails what is pending within the organization's mail budget (``NOTIFY_MAIL_RATE``, counted in
Redis per organization; over it the task waits for the next window, other organizations'
mail is not held up). The daily digest of overdue actions is one more notification a member
may opt out of (``notification_preferences``).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from functools import lru_cache
from typing import Any

from flask import current_app, g
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import func, select, update

from webapp import mail, tenancy
from webapp.extensions import db
from webapp.links import public_base
from webapp.models import (
    DigestItem,
    Document,
    Notification,
    NotificationPreference,
    User,
    utcnow,
)
from workers.fairness import fairness

log = logging.getLogger(__name__)

DELIVER_TASK = "workers.tasks.deliver_notifications"


def preferences(user_id: uuid.UUID) -> NotificationPreference:
    """A member's preferences (defaults when never saved; not added to the session)."""
    found = db.session.get(NotificationPreference, (tenancy.require_org_id(), user_id))
    return found or NotificationPreference(user_id=user_id, overdue_digest=True, mail=True)


def save_preferences(user_id: uuid.UUID, *, mail_on: bool, overdue_digest: bool) -> None:
    """Store a member's opt-outs."""
    found = db.session.get(NotificationPreference, (tenancy.require_org_id(), user_id))
    if found is None:
        found = NotificationPreference(user_id=user_id)
        db.session.add(found)
    found.mail, found.overdue_digest, found.updated_at = mail_on, overdue_digest, utcnow()
    db.session.commit()


def notify(
    user_id: uuid.UUID | None, kind: str, message: str, link: str | None
) -> Notification | None:
    """Add a notification for a member (caller commits); mailed later unless they opted out."""
    if user_id is None:
        return None
    member = db.session.get(User, (tenancy.require_org_id(), user_id))
    if member is None or member.status != "active":
        return None
    note = Notification(
        user_id=user_id,
        kind=kind,
        message=message[:2000],
        link=link,
        mail_pending=preferences(user_id).mail,
    )
    db.session.add(note)
    return note


# How long a delivery asked for holds back further requests of its organization (it should
# have started by then; if its message was lost, the next request after this sends another).
ASKED_SECONDS = 60


def asked_key(org_id: uuid.UUID | str) -> str:
    """Set while a delivery of the organization is asked for and has not started yet."""
    return f"notify:{{{org_id}}}:asked"


def request_delivery(org_id: uuid.UUID | None = None) -> None:
    """Ask a worker to mail what is pending (call after the commit that wrote it).

    No outbox row: the pending notifications are themselves the durable state, so a message
    lost while the broker is down only delays their mail to the organization's next delivery.
    One message per organization while a delivery waits to start (or waits for its retry):
    that delivery reads the pending notifications after it starts, so it mails this one too;
    a document processed never costs a message and a task of its own (``asked_key``).
    """
    org_id = org_id or tenancy.require_org_id()
    key = asked_key(org_id)
    client = None
    try:
        client = fairness().client
        if not client.set(key, b"1", nx=True, ex=ASKED_SECONDS):
            return  # a delivery is on its way; it starts after this commit and sees it
    except Exception:  # noqa: BLE001 - Redis down: ask anyway, a duplicate delivery is harmless
        log.debug("could not mark the delivery asked for; sending anyway", exc_info=True)
        client = None
    try:
        current_app.extensions["celery"].send_task(
            DELIVER_TASK, args=[str(org_id)], retry=False, ignore_result=True
        )
    except Exception:  # noqa: BLE001 - mail later rather than fail what caused it
        log.warning("could not ask for notification mail; sent with the next", exc_info=True)
        if client is not None:
            try:
                client.delete(key)  # the next request sends one
            except Exception:  # noqa: BLE001 - it expires by itself
                pass


def delivery_started(org_id: uuid.UUID | str) -> None:
    """A delivery starts: what is committed from now on needs a delivery of its own."""
    try:
        fairness().client.delete(asked_key(org_id))
    except Exception:  # noqa: BLE001 - it expires by itself; requests meanwhile wait for it
        log.debug("could not clear the delivery request mark", exc_info=True)


def delivery_waits(org_id: uuid.UUID | str, seconds: float) -> None:
    """A delivery will run again in ``seconds`` (its budget ran out): it stands for every
    request until then, so they send no message each."""
    try:
        fairness().client.set(asked_key(org_id), b"1", ex=int(seconds) + ASKED_SECONDS)
    except Exception:  # noqa: BLE001 - requests then send messages of their own, as before
        log.debug("could not mark the delivery's retry", exc_info=True)


def assigned(item: DigestItem, member_id: uuid.UUID, title: str) -> Notification | None:
    """ "You were assigned an action"."""
    due = f" (due {item.due_date.isoformat()})" if item.due_date else ""
    return notify(
        member_id,
        "assigned",
        f"You were assigned an action in “{title}”: {item.text}{due}",
        f"/actions?member=me#item-{item.id}",
    )


def processing_finished(
    document: Document, failed: bool = False, error: str | None = None
) -> Notification | None:
    """ "Processing finished/failed" to the uploader."""
    if failed:
        message = f"Processing “{document.title}” failed: {error or 'see the document'}"
    else:
        message = f"“{document.title}” is processed; its digest is ready."
    return notify(
        document.uploaded_by,
        "processing_failed" if failed else "processing_done",
        message,
        f"/documents/{document.id}",
    )


def unread_count_of(user_id: Any) -> Any:
    """The bell's number as a scalar subquery, for the statement that loads the signed-in user
    (webapp/auth/identity.py), so a page pays no round trip of its own for it."""
    return (
        select(func.count())
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .scalar_subquery()
    )


def unread_count(user_id: uuid.UUID) -> int:
    """The bell's number: the one read with the user at the start of the request, if any."""
    known = g.get("unread_notifications")
    if known is not None:
        return int(known)
    return int(
        db.session.scalar(
            select(func.count()).where(
                Notification.user_id == user_id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


def recent(user_id: uuid.UUID, limit: int = 50) -> list[Notification]:
    """A member's notifications, newest first."""
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.user_id == user_id)
            .order_by(Notification.created_at.desc())
            .limit(limit)
        )
    )


def get_own(notification_id: object, user_id: uuid.UUID) -> Notification | None:
    """One of this member's notifications (another member's, or organization's: None)."""
    try:
        key = uuid.UUID(str(notification_id))
    except ValueError:
        return None
    return db.session.scalar(
        select(Notification).where(Notification.id == key, Notification.user_id == user_id)
    )


def mark_read(user_id: uuid.UUID, notification_id: object | None = None) -> int:
    """Mark one (or all) of a member's notifications read; how many changed."""
    statement = update(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    if notification_id is not None:
        statement = statement.where(Notification.id == notification_id)
    count = db.session.execute(
        statement.values(read_at=utcnow()).execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    g.pop("unread_notifications", None)  # the count read with the user is stale now
    return int(count or 0)


# --------------------------------------------------------------------------------------------
# Mail (workers)


@lru_cache(maxsize=4)
def _limiter(url: str) -> FixedWindowRateLimiter:
    return FixedWindowRateLimiter(storage_from_string(url))


def mail_allowed(org_id: uuid.UUID) -> tuple[bool, float]:
    """Take one mail from the organization's budget: (allowed, seconds until the next window).

    Redis unavailable: allowed (fail open, like the request limits), logged.
    """
    item = parse(current_app.config["NOTIFY_MAIL_RATE"])
    try:
        limiter = _limiter(current_app.config["REDIS_URL"])
        if limiter.hit(item, "notify-mail", str(org_id)):
            return True, 0.0
        reset = limiter.get_window_stats(item, "notify-mail", str(org_id)).reset_time
        return False, max(1.0, reset - dt.datetime.now(dt.UTC).timestamp())
    except Exception:  # noqa: BLE001 - a mail is better late than a task stuck on Redis
        log.warning("notification mail budget unavailable; sending anyway", exc_info=True)
        return True, 0.0


def deliver_pending(limit: int = 500) -> float:
    """Mail the organization's pending notifications; seconds to wait when its budget ran
    out (0.0 when everything pending was handled).

    One notification per transaction, locked (``SKIP LOCKED``) while its mail goes out, so
    two deliveries running at once never mail the same one twice.
    """
    org_id = tenancy.require_org_id()
    for _ in range(limit):
        row = db.session.execute(
            select(Notification, User.email)
            .join(User, User.id == Notification.user_id)
            .where(Notification.mail_pending.is_(True))
            .order_by(Notification.created_at)
            .limit(1)
            .with_for_update(of=Notification, skip_locked=True)
        ).first()
        if row is None:
            db.session.commit()
            return 0.0
        note, email = row
        allowed, wait = mail_allowed(org_id)
        if not allowed:
            db.session.commit()
            return wait
        link = public_base() + note.link if note.link else ""
        sent = mail.send(email, _subject(note), f"{note.message}\n\n{link}".strip() + "\n")
        note.mail_pending = False
        note.mailed_at = utcnow() if sent else None
        db.session.commit()
    return 1.0  # more than one run's worth: go on shortly


def _subject(note: Notification) -> str:
    return {
        "assigned": "You were assigned an action",
        "processing_done": "Your document is processed",
        "processing_failed": "Your document could not be processed",
        "overdue": "Your overdue actions",
    }.get(note.kind, "Notification")


def overdue_digest(today: dt.date) -> int:
    """One notification per member with overdue open actions, once a day, unless they opted
    out; how many were written (caller publishes the delivery)."""
    start = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
    rows = db.session.execute(
        select(DigestItem.member_id, func.count(), func.min(DigestItem.due_date))
        .where(
            DigestItem.kind == "action",
            DigestItem.done.is_(False),
            DigestItem.removed_at.is_(None),
            DigestItem.member_id.is_not(None),
            DigestItem.due_date < today,
        )
        .group_by(DigestItem.member_id)
    ).all()
    written = 0
    for member_id, count, oldest in rows:
        if not preferences(member_id).overdue_digest:
            continue
        already = db.session.scalar(
            select(func.count()).where(
                Notification.user_id == member_id,
                Notification.kind == "overdue",
                Notification.created_at >= start,
            )
        )
        if already:
            continue
        plural = "action is" if count == 1 else "actions are"
        note = notify(
            member_id,
            "overdue",
            f"{count} of your {plural} overdue (the oldest was due {oldest.isoformat()}).",
            "/actions?member=me&view=overdue",
        )
        written += note is not None
    return written
