"""Digest items (actions, decisions, risks): materialised from digests, corrected by people.

``sync_digest`` runs in the transaction that stores a digest (workers/pipeline.py): it
replaces the document's untouched analyser items with the new digest's, and leaves every item
a person made, corrected or removed as it is — a human edit wins over the analyser, and an
analyser item matching one a person touched is not added again. Edits are audited.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, func, or_, select, update

from webapp import audit, permissions
from webapp.documents.services import DocumentError, get_document
from webapp.extensions import db
from webapp.models import ITEM_KINDS, DigestItem, Document, OwnerLink, User, utcnow
from webapp.workspace.owners import Directory, owner_key

MAX_TEXT = 1000
SEVERITIES = ("high", "medium", "low")
PRIORITIES = ("high", "medium", "low")
SORTS = {
    "due": "Due date",
    "document": "Document",
    "owner": "Owner",
    "newest": "Newest",
}
VIEWS = {
    "open": "Open",
    "overdue": "Overdue",
    "week": "Due this week",
    "done": "Done",
    "all": "All",
}


class ItemError(DocumentError):
    """A refused edit, with a message a person understands."""

    code = "invalid_item"


class ItemNotFound(DocumentError):
    code = "not_found"
    status = 404

    def __init__(self) -> None:
        super().__init__("There is no such item.")


@dataclass(frozen=True)
class Assignment:
    """An action newly given to a member (to notify them)."""

    item: DigestItem
    member_id: uuid.UUID


def analyser_key(kind: str, text: str) -> str:
    """What identifies an analyser item across runs: its kind and words."""
    return (kind + ":" + " ".join(re.findall(r"[^\W_]+", text.lower())))[:500]


def _parse_iso(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _analyser_items(digest: dict[str, Any], directory: Directory) -> list[DigestItem]:
    items: list[DigestItem] = []
    actions = list(digest.get("action_items") or []) + list(digest.get("done_actions") or [])
    for position, action in enumerate(actions):
        text = str(action.get("text") or "").strip()[:MAX_TEXT]
        if not text:
            continue
        owners = [str(o) for o in action.get("owners") or [] if o]
        key, member = directory.match_any(owners)
        done = bool(action.get("done"))
        items.append(
            DigestItem(
                kind="action",
                position=position,
                text=text,
                owner_text=(" and ".join(owners) or None) and " and ".join(owners)[:200],
                owner_key=key,
                member_id=member,
                due_date=_parse_iso(action.get("due_date")),
                due_text=(action.get("due_text") or None) and str(action["due_text"])[:100],
                priority=action.get("priority") if action.get("priority") in PRIORITIES else None,
                done=done,
                origin="analyser",
                analyser_key=analyser_key("action", text),
                source_line=action.get("line"),
                source_page=action.get("page"),
            )
        )
    for position, decision in enumerate(digest.get("decisions") or []):
        text = str(decision.get("text") if isinstance(decision, dict) else decision).strip()
        if text:
            items.append(
                DigestItem(
                    kind="decision",
                    position=position,
                    text=text[:MAX_TEXT],
                    origin="analyser",
                    analyser_key=analyser_key("decision", text),
                )
            )
    for position, risk in enumerate(digest.get("risks") or []):
        risk = risk if isinstance(risk, dict) else {"text": str(risk)}
        text = str(risk.get("text") or "").strip()
        if text:
            items.append(
                DigestItem(
                    kind="risk",
                    position=position,
                    text=text[:MAX_TEXT],
                    severity=risk.get("severity") if risk.get("severity") in SEVERITIES else None,
                    category=(risk.get("category") or None) and str(risk["category"])[:64],
                    origin="analyser",
                    analyser_key=analyser_key("risk", text),
                )
            )
    return items


def sync_digest(document: Document, digest: dict[str, Any]) -> list[Assignment]:
    """Materialise a stored digest's items (caller commits); the actions newly assigned."""
    directory = Directory.load()
    existing = list(
        db.session.scalars(select(DigestItem).where(DigestItem.document_id == document.id))
    )
    touched = {
        i.analyser_key
        for i in existing
        if i.origin == "analyser" and (i.edited_at is not None or i.removed_at is not None)
    }
    before = {
        (i.analyser_key, i.member_id)
        for i in existing
        if i.origin == "analyser" and i.edited_at is None and i.removed_at is None
    }
    db.session.execute(
        delete(DigestItem)
        .where(
            DigestItem.document_id == document.id,
            DigestItem.origin == "analyser",
            DigestItem.edited_at.is_(None),
            DigestItem.removed_at.is_(None),
        )
        .execution_options(synchronize_session=False)
    )
    for item in existing:
        if item.origin == "analyser" and item.edited_at is None and item.removed_at is None:
            db.session.expunge(item)
    assigned: list[Assignment] = []
    seen: set[str] = set()
    for item in _analyser_items(digest, directory):
        if item.analyser_key in touched or item.analyser_key in seen:
            continue
        seen.add(item.analyser_key or "")
        item.document_id = document.id
        db.session.add(item)
        if (
            item.kind == "action"
            and item.member_id is not None
            and not item.done
            and (item.analyser_key, item.member_id) not in before
        ):
            assigned.append(Assignment(item, item.member_id))
    db.session.flush()
    return assigned


# --------------------------------------------------------------------------------------------
# The Actions page


@dataclass(frozen=True)
class ActionFilter:
    """What the Actions page shows: a view, a member or owner, a document, an order."""

    view: str = "open"
    member_id: uuid.UUID | None = None
    owner: str | None = None  # an owner as written that matches no member
    document_id: uuid.UUID | None = None
    sort: str = "due"


def week_end(today: dt.date) -> dt.date:
    """The Sunday ending ``today``'s week (ISO weeks start on Monday)."""
    return today + dt.timedelta(days=6 - today.weekday())


def actions_query(filters: ActionFilter, today: dt.date) -> Select:
    """One indexed query over ``digest_items`` (never the JSON digests)."""
    query = (
        select(DigestItem, Document.title, User.name, Document.uploaded_by)
        .join(Document, Document.id == DigestItem.document_id)
        .outerjoin(User, User.id == DigestItem.member_id)
        .where(DigestItem.kind == "action", DigestItem.removed_at.is_(None))
    )
    if filters.view in ("open", "overdue", "week"):
        query = query.where(DigestItem.done.is_(False))
    if filters.view == "overdue":
        query = query.where(DigestItem.due_date < today)
    elif filters.view == "week":
        query = query.where(DigestItem.due_date.between(today, week_end(today)))
    elif filters.view == "done":
        query = query.where(DigestItem.done.is_(True))
    if filters.member_id is not None:
        query = query.where(DigestItem.member_id == filters.member_id)
    elif filters.owner:
        query = query.where(DigestItem.owner_key == filters.owner, DigestItem.member_id.is_(None))
    if filters.document_id is not None:
        query = query.where(DigestItem.document_id == filters.document_id)
    order = {
        "due": (DigestItem.due_date.asc().nulls_last(), Document.title, DigestItem.position),
        "document": (Document.title, DigestItem.position),
        "owner": (
            func.coalesce(User.name, DigestItem.owner_text).asc().nulls_last(),
            DigestItem.due_date.asc().nulls_last(),
        ),
        "newest": (DigestItem.created_at.desc(), DigestItem.position),
    }[filters.sort if filters.sort in SORTS else "due"]
    return query.order_by(*order, DigestItem.id)


def list_actions(
    filters: ActionFilter, today: dt.date, page: int = 1, per_page: int = 25
) -> tuple[list, int, int, int]:  # type: ignore[type-arg]
    """A page of actions: ``(rows, total, page, pages)``; a row is (item, document title,
    member name, the document's uploader)."""
    query = actions_query(filters, today)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    pages = max(1, -(-int(total or 0) // per_page))
    page = min(max(page, 1), pages)
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    return rows, int(total or 0), page, pages


def unmatched_owners() -> list[tuple[str, str]]:
    """Owners written in documents that match no member: (key, as written), for "this is …"."""
    rows = db.session.execute(
        select(DigestItem.owner_key, func.min(DigestItem.owner_text))
        .where(
            DigestItem.kind == "action",
            DigestItem.member_id.is_(None),
            DigestItem.owner_key.is_not(None),
            DigestItem.removed_at.is_(None),
        )
        .group_by(DigestItem.owner_key)
        .order_by(DigestItem.owner_key)
        .limit(200)
    ).all()
    return [(key, text) for key, text in rows]


def open_counts(member_id: uuid.UUID, today: dt.date) -> dict[str, int]:
    """A member's open and overdue actions, for the dashboard."""
    base = select(func.count()).where(
        DigestItem.kind == "action",
        DigestItem.removed_at.is_(None),
        DigestItem.done.is_(False),
        DigestItem.member_id == member_id,
    )
    return {
        "open": int(db.session.scalar(base) or 0),
        "overdue": int(db.session.scalar(base.where(DigestItem.due_date < today)) or 0),
    }


def open_by_member(today: dt.date) -> dict[uuid.UUID, int]:
    """Open actions per member (the dashboard's members table)."""
    rows = db.session.execute(
        select(DigestItem.member_id, func.count())
        .where(
            DigestItem.kind == "action",
            DigestItem.removed_at.is_(None),
            DigestItem.done.is_(False),
            DigestItem.member_id.is_not(None),
        )
        .group_by(DigestItem.member_id)
    ).all()
    return {member_id: int(count) for member_id, count in rows}


# --------------------------------------------------------------------------------------------
# Editing


def document_items(document: Document) -> dict[str, list[DigestItem]]:
    """A document's live items by kind, in digest order (human additions last)."""
    found: dict[str, list[DigestItem]] = {kind: [] for kind in ITEM_KINDS}
    for item in db.session.scalars(
        select(DigestItem)
        .where(DigestItem.document_id == document.id, DigestItem.removed_at.is_(None))
        .order_by(DigestItem.kind, DigestItem.origin, DigestItem.position, DigestItem.created_at)
    ):
        found[item.kind].append(item)
    return found


def item_json(item: DigestItem) -> dict[str, Any]:
    """What the API says about an item (the edited digest, as the pages show it)."""
    return {
        "id": str(item.id),
        "kind": item.kind,
        "text": item.text,
        "owner": item.owner_text,
        "member_id": str(item.member_id) if item.member_id else None,
        "due_date": item.due_date.isoformat() if item.due_date else None,
        "priority": item.priority,
        "severity": item.severity,
        "done": item.done,
        "origin": item.origin,
        "edited": item.human,
        "line": item.source_line,
        "page": item.source_page,
    }


def get_item(item_id: object) -> DigestItem:
    """One live item of the current organization, or ``ItemNotFound``."""
    try:
        key = uuid.UUID(str(item_id))
    except ValueError:
        raise ItemNotFound() from None
    item = db.session.scalar(
        select(DigestItem).where(DigestItem.id == key, DigestItem.removed_at.is_(None))
    )
    if item is None:
        raise ItemNotFound()
    return item


def _require_edit(document: Document) -> uuid.UUID | None:
    actor = permissions.require("document.edit", owner_id=document.uploaded_by)
    return actor.id if actor is not None else None


def _clean_text(text: str | None) -> str:
    text = " ".join((text or "").split())
    if not text:
        raise ItemError("Write the item's text; it cannot be empty.")
    if len(text) > MAX_TEXT:
        raise ItemError(f"Keep the text under {MAX_TEXT} characters.")
    return text


def _clean_due(value: str | None) -> dt.date | None:
    if not value or not value.strip():
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ItemError("Give the due date as a date (YYYY-MM-DD), or leave it empty.") from None


def _clean_owner(value: str | None) -> str | None:
    owner = " ".join((value or "").split())
    if len(owner) > 200:
        raise ItemError("Keep the owner under 200 characters.")
    return owner or None


def update_item(
    item_id: object,
    *,
    text: str | None,
    owner: str | None,
    due: str | None,
    severity: str | None = None,
) -> tuple[DigestItem, uuid.UUID | None]:
    """Correct an item (text, owner, due date; a risk's severity); returns it and a member
    newly assigned (to notify). Checked in full before anything changes."""
    item = get_item(item_id)
    document = get_document(item.document_id)
    actor_id = _require_edit(document)
    new_text = _clean_text(text)
    changes: dict[str, Any] = {}
    if new_text != item.text:
        changes["text"] = [item.text, new_text]
    newly_assigned = None
    if item.kind == "action":
        new_owner = _clean_owner(owner)
        new_due = _clean_due(due)
        if new_owner != item.owner_text:
            member = Directory.load().match(new_owner)
            changes["owner"] = [item.owner_text, new_owner]
            if member is not None and member != item.member_id:
                newly_assigned = member
            item.owner_text, item.owner_key, item.member_id = (
                new_owner,
                owner_key(new_owner),
                member,
            )
        if new_due != item.due_date:
            changes["due_date"] = [
                item.due_date.isoformat() if item.due_date else None,
                new_due.isoformat() if new_due else None,
            ]
            item.due_date, item.due_text = new_due, None
    if item.kind == "risk" and severity is not None:
        if severity not in SEVERITIES:
            raise ItemError("Choose a severity: high, medium or low.")
        if severity != item.severity:
            changes["severity"] = [item.severity, severity]
            item.severity = severity
    item.text = new_text
    if changes:
        _touch(item, actor_id)
        audit.record(
            "digest_item.edited",
            actor_id=actor_id,
            target_type="digest_item",
            target_id=item.id,
            details={"document_id": str(item.document_id), "kind": item.kind, "changes": changes},
        )
    db.session.commit()
    return item, newly_assigned


def may_complete(item: DigestItem, uploaded_by: uuid.UUID | None) -> bool:
    """Whether the current person may mark this action done: whoever may edit its document,
    and the member it is assigned to (not a viewer)."""
    if permissions.can("document.edit", owner_id=uploaded_by):
        return True
    actor = permissions.current_actor()
    return (
        actor is not None
        and item.member_id == actor.id
        and permissions.allows(actor.role, "document.upload")
    )


def set_done(item_id: object, done: bool) -> DigestItem:
    """Mark an action done or open again (audited; kept across reprocessing). Its assigned
    member may too, even on a document they may not edit otherwise."""
    item = get_item(item_id)
    if item.kind != "action":
        raise ItemError("Only actions can be marked done.")
    document = get_document(item.document_id)
    actor = permissions.current_actor()
    if actor is not None and may_complete(item, document.uploaded_by):
        actor_id: uuid.UUID | None = actor.id
    else:
        actor_id = _require_edit(document)
    if item.done != done:
        item.done = done
        item.done_at = utcnow() if done else None
        _touch(item, actor_id)
        audit.record(
            "digest_item.done" if done else "digest_item.reopened",
            actor_id=actor_id,
            target_type="digest_item",
            target_id=item.id,
            details={"document_id": str(item.document_id)},
        )
    db.session.commit()
    return item


def remove_item(item_id: object) -> DigestItem:
    """Remove an item; an analyser item stays removed when the document is processed again."""
    item = get_item(item_id)
    actor_id = _require_edit(get_document(item.document_id))
    audit.record(
        "digest_item.removed",
        actor_id=actor_id,
        target_type="digest_item",
        target_id=item.id,
        details={"document_id": str(item.document_id), "kind": item.kind, "text": item.text[:200]},
    )
    if item.origin == "human":
        db.session.delete(item)
    else:
        item.removed_at = utcnow()
        _touch(item, actor_id)
    db.session.commit()
    return item


def add_item(
    document_id: object,
    *,
    kind: str,
    text: str | None,
    owner: str | None = None,
    due: str | None = None,
    severity: str | None = None,
) -> tuple[DigestItem, uuid.UUID | None]:
    """Add an action, decision or risk by hand; returns it and its member (to notify)."""
    document = get_document(document_id)
    actor_id = _require_edit(document)
    if kind not in ITEM_KINDS:
        raise ItemError("Choose what to add: an action, a decision or a risk.")
    item = DigestItem(
        document_id=document.id,
        kind=kind,
        text=_clean_text(text),
        origin="human",
        position=10_000,
        edited_by=actor_id,
    )
    if kind == "action":
        item.owner_text = _clean_owner(owner)
        item.owner_key = owner_key(item.owner_text)
        item.member_id = Directory.load().match(item.owner_text)
        item.due_date = _clean_due(due)
    if kind == "risk":
        item.severity = severity if severity in SEVERITIES else "medium"
    db.session.add(item)
    db.session.flush()
    audit.record(
        "digest_item.added",
        actor_id=actor_id,
        target_type="digest_item",
        target_id=item.id,
        details={"document_id": str(document.id), "kind": kind, "text": item.text[:200]},
    )
    db.session.commit()
    return item, item.member_id


def _touch(item: DigestItem, actor_id: uuid.UUID | None) -> None:
    now = utcnow()
    item.updated_at = now
    item.edited_by = actor_id
    if item.origin == "analyser":
        item.edited_at = now


def rename_document(document_id: object, title: str | None) -> Document:
    """Give a document another title (audited)."""
    document = get_document(document_id)
    actor_id = _require_edit(document)
    new = " ".join((title or "").split())
    if not new:
        raise ItemError("Give the document a title.")
    if len(new) > 255:
        raise ItemError("Keep the title under 255 characters.")
    if new != document.title:
        audit.record(
            "document.renamed",
            actor_id=actor_id,
            target_type="document",
            target_id=document.id,
            details={"from": document.title, "to": new},
        )
        document.title = new
        document.updated_at = utcnow()
    db.session.commit()
    return document


def link_owner(written: str | None, user_id: object) -> tuple[OwnerLink, list[DigestItem]]:
    """ "This is …": remember that an owner as written is this member, and match every action
    written so; returns the link and the open actions it newly assigned (to notify)."""
    actor = permissions.require("document.upload")  # anyone who contributes, not viewers
    key = owner_key(written)
    if key is None:
        raise ItemError("Choose the name to link.")
    member_id = _uuid(user_id)
    member = db.session.scalar(select(User).where(User.id == member_id)) if member_id else None
    if member is None or member.status != "active":
        raise ItemError("Choose a member of your organization.")
    link = db.session.scalar(select(OwnerLink).where(OwnerLink.name_key == key))
    if link is None:
        link = OwnerLink(name_key=key, user_id=member.id, created_by=actor.id if actor else None)
        db.session.add(link)
    else:
        link.user_id = member.id
    newly = list(
        db.session.scalars(
            select(DigestItem).where(
                DigestItem.kind == "action",
                DigestItem.owner_key == key,
                DigestItem.removed_at.is_(None),
                or_(DigestItem.member_id.is_(None), DigestItem.member_id != member.id),
            )
        )
    )
    db.session.execute(
        update(DigestItem)
        .where(DigestItem.owner_key == key, DigestItem.kind == "action")
        .values(member_id=member.id)
        .execution_options(synchronize_session=False)
    )
    audit.record(
        "owner.linked",
        actor_id=actor.id if actor else None,
        target_type="user",
        target_id=member.id,
        details={"name": key},
    )
    db.session.flush()
    return link, [i for i in newly if not i.done]


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
