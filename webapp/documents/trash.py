"""The trash: deleted documents wait ``TRASH_GRACE_DAYS`` (30), restorable, then are purged.

A document in the trash (``deleted_at`` set) is gone from every page, the API, search,
downloads, the dashboard, exports and the workers: like the tenant criteria, a
``do_orm_execute`` hook adds ``deleted_at IS NULL`` for ``Document`` to every ORM statement,
unless the statement asks for the trash with ``execution_options(include_trashed=True)``
(the trash page, restore, purge and the upload's duplicate check). So a query written
tomorrow hides trashed documents without remembering to.

Quotas: the storage of a trashed document **stays counted until it is purged** — its bytes
are still held, and freeing them at the click of Delete would let delete-and-upload pass the
storage quota. "Delete forever" on the trash page frees it at once. The month's document
count is never given back (as before).

A document being processed when it is deleted stops: it is marked failed with
``TRASHED_WHILE_PROCESSING`` and its lease is dropped (the worker's last write then finds it
gone); restoring it queues it again.

Other tables that point at documents (the workspace's ``action_items``, say) hide a trashed
document's rows by joining ``Document`` in their list queries — the hook then applies to the
join — or, where they do not join, by filtering with :func:`live_document` on their
``document_id`` column.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, event, exists, func, select
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.sql import ColumnElement

from webapp import audit, permissions, tenancy
from webapp.extensions import db
from webapp.models import ACTIVE_STATUSES, Document, utcnow

INCLUDE_TRASHED = {"include_trashed": True}
TRASHED_WHILE_PROCESSING = "Moved to the trash while it was being processed."


@event.listens_for(Session, "do_orm_execute")
def _trashed_hidden(state: ORMExecuteState) -> None:
    """Add ``deleted_at IS NULL`` for documents unless the statement asked for the trash."""
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return  # the criteria propagate to these loads
    if state.execution_options.get("include_trashed"):
        return
    if not any(m.class_ is Document for m in state.all_mappers):
        return
    state.statement = state.statement.options(
        with_loader_criteria(Document, Document.deleted_at.is_(None), include_aliases=True)
    )


def live_document(document_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """``document_id`` names a document that is not in the trash (for tables that point at
    documents without joining them)."""
    return exists().where(
        and_(
            Document.__table__.c.organization_id == tenancy.require_org_id(),
            Document.__table__.c.id == document_id,
            Document.__table__.c.deleted_at.is_(None),
        )
    )


def grace() -> timedelta:
    return timedelta(days=float(current_app.config["TRASH_GRACE_DAYS"]))


def _documents(ids: list[object], *, trashed: bool) -> list[Document]:
    from webapp.documents.services import DocumentNotFound

    keys = []
    for raw in ids:
        try:
            keys.append(uuid.UUID(str(raw)))
        except ValueError:
            raise DocumentNotFound() from None
    query = select(Document).where(Document.id.in_(keys))
    query = query.where(
        Document.deleted_at.is_not(None) if trashed else Document.deleted_at.is_(None)
    )
    found = list(db.session.scalars(query.execution_options(**INCLUDE_TRASHED)))
    if len({d.id for d in found}) != len(set(keys)):
        raise DocumentNotFound()
    return found


def move_to_trash(document_ids: list[object], actor_id: uuid.UUID | None) -> int:
    """Move documents to the trash (every one checked before any moves); audited."""
    documents = _documents(document_ids, trashed=False)
    for document in documents:
        permissions.require("document.delete", owner_id=document.uploaded_by)
    now = utcnow()
    for document in documents:
        document.deleted_at, document.deleted_by = now, actor_id
        if document.status in ACTIVE_STATUSES:
            document.status, document.error = "failed", TRASHED_WHILE_PROCESSING
            document.lease_owner, document.lease_expires_at = None, None
        _audited("document.trashed", document, actor_id)
    db.session.commit()
    return len(documents)


def restore(document_ids: list[object], actor_id: uuid.UUID | None) -> int:
    """Take documents out of the trash; one stopped by the deletion is processed again."""
    from webapp.documents import services

    documents = _documents(document_ids, trashed=True)
    for document in documents:
        permissions.require("document.delete", owner_id=document.uploaded_by)
    messages = []
    for document in documents:
        document.deleted_at, document.deleted_by = None, None
        if document.status == "failed" and document.error == TRASHED_WHILE_PROCESSING:
            document.status, document.progress, document.error = "queued", 0, None
            document.updated_at = utcnow()
            messages.append(services.enqueue_processing(document))
        _audited("document.restored", document, actor_id)
    db.session.commit()
    for message in messages:
        services.dispatch(message)
    return len(documents)


def purge(document_ids: list[object], actor_id: uuid.UUID | None) -> int:
    """Delete trashed documents for good (chunks and digest with them), freeing storage."""
    from webapp import quotas

    totals = quotas.lock_usage()
    documents = _documents(document_ids, trashed=True)
    for document in documents:
        permissions.require("document.delete", owner_id=document.uploaded_by)
    # Summed afresh under the lock, so a document purged by a concurrent request is not
    # freed twice.
    freed = select(func.coalesce(func.sum(Document.size_bytes), 0)).where(
        Document.id.in_([d.id for d in documents])
    )
    quotas.release_storage(
        int(db.session.scalar(freed.execution_options(**INCLUDE_TRASHED)) or 0), totals
    )
    for document in documents:
        db.session.delete(document)
        _audited("document.purged", document, actor_id)
    db.session.commit()
    return len(documents)


def _audited(action: str, document: Document, actor_id: uuid.UUID | None) -> None:
    audit.record(
        action,
        actor_id=actor_id,
        target_type="document",
        target_id=document.id,
        details={"filename": document.filename},
    )


@dataclass(frozen=True)
class TrashSummary:
    """What the usage page says about the trash."""

    count: int
    size_bytes: int
    oldest: datetime | None
    grace_days: float


def summary() -> TrashSummary:
    """How many documents are in the trash and how much storage they hold."""
    row = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(Document.size_bytes), 0),
            func.min(Document.deleted_at),
        )
        .where(Document.deleted_at.is_not(None))
        .execution_options(**INCLUDE_TRASHED)
    ).one()
    return TrashSummary(
        int(row[0]), int(row[1]), row[2], float(current_app.config["TRASH_GRACE_DAYS"])
    )


def list_trash() -> list[Document]:
    """The trash, most recently deleted first (at most 500)."""
    return list(
        db.session.scalars(
            select(Document)
            .where(Document.deleted_at.is_not(None))
            .order_by(Document.deleted_at.desc(), Document.id)
            .limit(500)
            .execution_options(**INCLUDE_TRASHED)
        )
    )


def trashed_duplicate(sha256: str) -> Document | None:
    """A document with these bytes waiting in the trash (an upload of it is a duplicate)."""
    return db.session.scalar(
        select(Document)
        .where(Document.sha256 == sha256, Document.deleted_at.is_not(None))
        .execution_options(**INCLUDE_TRASHED)
    )


def purge_due(limit: int = 500) -> int:
    """Housekeeping: purge every document whose grace period in the trash has ended.

    The door ``app_trash_due`` gives only (organization, id) pairs; each organization's are
    purged inside its own context, audited there.
    """
    pairs = tenancy.trash_due(grace().total_seconds(), limit)
    by_org: dict[uuid.UUID, list[uuid.UUID]] = {}
    for org_id, document_id in pairs:
        by_org.setdefault(org_id, []).append(document_id)
    purged = 0
    for org_id, ids in by_org.items():
        with tenancy.tenant_context(org_id):
            due = db.session.scalars(
                select(Document.id)
                .where(Document.id.in_(ids), Document.deleted_at <= utcnow() - grace())
                .execution_options(**INCLUDE_TRASHED)
            ).all()
            if due:
                purged += purge(list(due), None)
            else:
                db.session.rollback()
    return purged
