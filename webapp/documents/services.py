"""Document services, shared by the pages, the JSON API and the tasks.

Everything here runs in the current organization's context (wall 1 and RLS scope every
statement); functions take ids and values, return models or results, and raise
``DocumentError`` subclasses whose message can be shown to a person.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from flask import current_app
from flask_sqlalchemy.pagination import SelectPagination
from markupsafe import Markup, escape
from sqlalchemy import (
    Float,
    Uuid,
    bindparam,
    column,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError, PendingRollbackError

from webapp import audit, permissions, tenancy
from webapp.documents import trash
from webapp.documents.filenames import sanitize_filename, title_from_filename
from webapp.extensions import db
from webapp.models import (
    ACTIVE_STATUSES,
    Document,
    DocumentAnalysis,
    DocumentBlob,
    OutboxMessage,
    utcnow,
)
from webapp.plans import effective_limit, human_bytes
from workers.extract import ExtractionError, detect_type
from workers.fairness import fairness, queue_for

log = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024
PROCESS_TASK = "workers.tasks.process_document"
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "txt": "text/plain; charset=utf-8",
    "markdown": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "eml": "message/rfc822",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "tiff": "image/tiff",
}
TYPE_LABELS = {
    "pdf": "PDF",
    "docx": "DOCX",
    "txt": "Text",
    "markdown": "Markdown",
    "html": "HTML",
    "csv": "CSV",
    "eml": "E-mail",
    "png": "PNG image",
    "jpeg": "JPEG image",
    "tiff": "TIFF image",
}
# Text indexed for search; to_tsvector refuses vectors over 1 MB, and the head of a
# document carries its vocabulary.
SEARCH_TEXT_CHARS = 400_000
SNIPPET_TEXT_CHARS = 50_000
# Broad queries rank only this many of the newest matches (bounded work per search), looked
# for first among this many newest documents (see migration 0003).
SEARCH_CANDIDATES = 1000
SEARCH_RECENT_WINDOW = 2500
# Markers that cannot occur in extracted text (it is stripped of control characters), so the
# highlighted snippet can be escaped as a whole and only these turned into <mark>.
_MARK_START, _MARK_STOP = "\x02", "\x03"


class DocumentError(Exception):
    """A refusal with a person-readable message and a stable code for the API."""

    code = "document_error"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EmptyUpload(DocumentError):
    code = "empty_file"


class FileTooLarge(DocumentError):
    code = "file_too_large"
    status = 413


class UnsupportedDocument(DocumentError):
    code = "unsupported_type"
    status = 415


class DuplicateDocument(DocumentError):
    code = "duplicate"
    status = 409

    def __init__(self, existing: Document) -> None:
        super().__init__(f"This file was already uploaded as “{existing.title}”.")
        self.existing = existing


class DuplicateInTrash(DocumentError):
    code = "duplicate"
    status = 409

    def __init__(self, existing: Document) -> None:
        super().__init__(
            f"This file is in the trash as “{existing.title}”: restore it from the trash "
            "instead of uploading it again."
        )
        self.existing = existing


class DocumentNotFound(DocumentError):
    code = "not_found"
    status = 404

    def __init__(self) -> None:
        super().__init__("There is no such document.")


class StorageUnavailable(DocumentError):
    """The database went away while a file was being stored: nothing of it was kept."""

    code = "service_unavailable"
    status = 503


class DocumentBusy(DocumentError):
    code = "busy"
    status = 409


def _hash_and_measure(stream: IO[bytes], limit: int) -> tuple[str, int]:
    """SHA-256 and size of a seekable stream, read in chunks; stops once over ``limit``."""
    digest = hashlib.sha256()
    size = 0
    stream.seek(0)
    while chunk := stream.read(CHUNK_SIZE):
        size += len(chunk)
        if size > limit:
            break
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest(), size


def upload_document(
    stream: IO[bytes], filename: str | None, uploader_id: uuid.UUID | None
) -> Document:
    """Validate and store one upload (row, chunks, outbox in one transaction), then dispatch.

    ``stream`` must be seekable (Werkzeug spools uploads to a temporary file). Nothing is
    stored when a check fails, nor when the database is unavailable (``StorageUnavailable``:
    a request storing several files reports each, the ones stored before included).
    """
    try:
        return _upload_document(stream, filename, uploader_id)
    except (OperationalError, InterfaceError, PendingRollbackError) as exc:
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001 - the connection may be gone; the pool replaces it
            log.debug("rollback after a failed upload failed", exc_info=True)
        name = sanitize_filename(filename)
        raise StorageUnavailable(
            f"“{name}” could not be stored: the service is temporarily unavailable. Nothing "
            "of it was kept; upload it again in a moment."
        ) from exc


def _upload_document(
    stream: IO[bytes], filename: str | None, uploader_id: uuid.UUID | None
) -> Document:
    permissions.require("document.upload")
    org = tenancy.current_organization()
    safe_name = sanitize_filename(filename)
    max_bytes = int(effective_limit(org, "max_file_bytes"))
    sha256, size = _hash_and_measure(stream, max_bytes)
    if size == 0:
        raise EmptyUpload(f"“{safe_name}” is empty (0 bytes); nothing was uploaded.")
    if size > max_bytes:
        raise FileTooLarge(
            f"“{safe_name}” is larger than the {human_bytes(max_bytes)} per file that the "
            f"{org.plan.name} plan allows."
        )
    try:
        detected = detect_type(stream, safe_name)
    except ExtractionError as exc:
        raise UnsupportedDocument(f"“{safe_name}”: {exc.user_message}") from exc
    # Imported here: the quota service's error is a DocumentError, defined above.
    from webapp import quotas

    try:
        # The usage lock first, so the duplicate check and the quota count see every upload
        # of this organization that committed before, and none can overtake.
        totals = quotas.lock_usage()
        existing = db.session.scalar(select(Document).where(Document.sha256 == sha256))
        if existing is not None:
            raise DuplicateDocument(existing)
        in_trash = trash.trashed_duplicate(sha256)
        if in_trash is not None:
            raise DuplicateInTrash(in_trash)
        quotas.charge_upload(org, safe_name, size, totals)
    except DocumentError:
        db.session.rollback()  # nothing was stored; release the lock for the next upload
        raise
    document = Document(
        title=title_from_filename(safe_name),
        filename=safe_name,
        content_type=CONTENT_TYPES[detected],
        detected_type=detected,
        size_bytes=size,
        sha256=sha256,
        uploaded_by=uploader_id,
    )
    db.session.add(document)
    db.session.flush()
    _store_chunks(document, stream)
    message = enqueue_processing(document)
    audit.record(
        "document.uploaded",
        actor_id=uploader_id,
        target_type="document",
        target_id=document.id,
        details={"filename": safe_name, "size": size},
    )
    try:
        db.session.commit()
    except IntegrityError as exc:  # the same file uploaded concurrently
        db.session.rollback()
        existing = db.session.scalar(select(Document).where(Document.sha256 == sha256))
        if existing is None:
            raise
        raise DuplicateDocument(existing) from exc
    dispatch(message)
    return document


def _store_chunks(document: Document, stream: IO[bytes]) -> None:
    """Insert the bytes chunk by chunk, so no more than one chunk is held in memory."""
    stream.seek(0)
    seq = 0
    while chunk := stream.read(CHUNK_SIZE):
        db.session.execute(
            insert(DocumentBlob),
            [
                {
                    "organization_id": document.organization_id,
                    "document_id": document.id,
                    "seq": seq,
                    "data": chunk,
                }
            ],
        )
        seq += 1


def enqueue_processing(document: Document) -> OutboxMessage:
    """Add an outbox message that will run the pipeline for ``document``."""
    message = OutboxMessage(task=PROCESS_TASK, payload={"args": [str(document.id)]})
    db.session.add(message)
    db.session.flush()
    return message


# Until when (time.monotonic()) this process leaves a broker that just failed alone.
_broker_down_until = 0.0


def dispatch(message: OutboxMessage) -> bool:
    """Send an outbox message to the broker; on failure the relay sends it later.

    After a failure the broker is not tried again for ``BROKER_RETRY_INTERVAL`` seconds, so
    a request storing several files waits on a broker that is down at most once.
    """
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        db.session.rollback()
        return False
    try:
        send_task(message.task, message.organization_id, *message.payload.get("args", []))
    except Exception:  # noqa: BLE001 - broker trouble must not fail the upload
        log.warning("dispatch of %s failed; the outbox relay will retry", message.id, exc_info=True)
        _broker_down_until = time.monotonic() + current_app.config["BROKER_RETRY_INTERVAL"]
        db.session.rollback()
        return False
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id)
        .values(dispatched_at=utcnow(), attempts=OutboxMessage.attempts + 1)
    )
    db.session.commit()
    return True


def send_task(task: str, org_id: uuid.UUID, *args: object) -> None:
    """Publish a tenant task; a document first needs one of its organization's worker slots.

    A document that finds its organization's slots taken waits in the organization's own
    list and is published when a slot frees up (workers/fairness.py).
    """
    org = tenancy.current_organization()
    if task == PROCESS_TASK:
        limit = int(effective_limit(org, "worker_slots"))
        try:
            admitted = fairness().admit(str(org_id), limit, str(args[0]))
        except Exception:  # noqa: BLE001 - fail open: better unfair than lost
            log.warning("worker slots unavailable; publishing without one", exc_info=True)
            admitted = True
        if not admitted:
            return
    publish(task, org.id, org.plan_id, *args)


def publish(task: str, org_id: uuid.UUID | str, plan_id: str, *args: object) -> None:
    """Publish a tenant task by name (the web process does not import the task modules).

    Tenant tasks take the organization first; the message carries it, never a worker-side
    default. Documents go to the queue of the organization's plan (``plan_id``). Nobody waits
    for these tasks' results (``ignore_result``): without it the Redis result backend would
    subscribe this process to a result channel per message, two more Redis commands each.
    """
    options: dict[str, object] = {}
    if task == PROCESS_TASK:
        options["queue"] = queue_for(plan_id)
    current_app.extensions["celery"].send_task(
        task, args=[str(org_id), *args], retry=False, ignore_result=True, **options
    )


def get_document(document_id: object) -> Document:
    """One document of the current organization, or ``DocumentNotFound``."""
    try:
        key = uuid.UUID(str(document_id))
    except ValueError:
        raise DocumentNotFound() from None
    document = db.session.get(Document, (tenancy.require_org_id(), key))
    if document is None:
        raise DocumentNotFound()
    return document


def get_analysis(document: Document, with_text: bool = False) -> DocumentAnalysis | None:
    """The digest of a document (and its text when asked), if it has been analysed."""
    query = select(DocumentAnalysis).where(DocumentAnalysis.document_id == document.id)
    if with_text:
        from sqlalchemy.orm import undefer

        query = query.options(undefer(DocumentAnalysis.text))
    return db.session.scalar(query)


def text_preview(document: Document, chars: int = 3000) -> str | None:
    """The first ``chars`` characters of the extracted text."""
    return db.session.scalar(
        select(func.left(DocumentAnalysis.text, chars)).where(
            DocumentAnalysis.document_id == document.id
        )
    )


def iter_content(document: Document) -> Iterator[bytes]:
    """The original bytes, one chunk per query, so a large file is never whole in memory."""
    org_id = document.organization_id
    # A streamed body runs after the request's teardown has cleared the tenant context (Flask
    # 3.1 re-pushes only the request context), so every query here sets it itself.
    with tenancy.tenant_context(org_id):
        count = db.session.scalar(
            select(func.count())
            .select_from(DocumentBlob)
            .where(DocumentBlob.document_id == document.id)
        )
    for seq in range(count or 0):
        with tenancy.tenant_context(org_id):
            chunk = db.session.scalar(
                select(DocumentBlob.data).where(
                    DocumentBlob.document_id == document.id, DocumentBlob.seq == seq
                )
            )
        if chunk is None:
            return
        yield chunk


def delete_documents(document_ids: list[object], actor_id: uuid.UUID | None) -> int:
    """Delete documents: they move to the trash (restorable for ``TRASH_GRACE_DAYS``, their
    storage counted until purged; webapp/documents/trash.py); returns how many."""
    return trash.move_to_trash(document_ids, actor_id)


def reprocess_documents(document_ids: list[object], actor_id: uuid.UUID | None) -> int:
    """Queue documents for processing again (those already in progress are skipped)."""
    messages = []
    documents = [get_document(i) for i in document_ids]
    for document in documents:  # every one checked before any is queued
        permissions.require("document.reprocess", owner_id=document.uploaded_by)
    for document in documents:
        if document.status in ACTIVE_STATUSES:
            continue
        document.status, document.progress, document.error = "queued", 0, None
        document.updated_at = utcnow()
        messages.append(enqueue_processing(document))
        audit.record(
            "document.reprocessed", actor_id=actor_id, target_type="document", target_id=document.id
        )
    db.session.commit()
    for message in messages:
        dispatch(message)
    return len(messages)


SORTS = {
    "newest": (Document.created_at.desc(), Document.id),
    "oldest": (Document.created_at.asc(), Document.id),
    "title": (func.lower(Document.title).asc(), Document.id),
    "size": (Document.size_bytes.desc(), Document.id),
    "status": (Document.status.asc(), Document.created_at.desc()),
}


@dataclass(frozen=True)
class DocumentFilter:
    """What the list shows: status and type filters and the sort order."""

    status: str | None = None
    doc_type: str | None = None
    sort: str = "newest"

    def apply(self, query: Any) -> Any:
        if self.status:
            query = query.where(Document.status == self.status)
        if self.doc_type:
            query = query.where(Document.detected_type == self.doc_type)
        return query.order_by(*SORTS.get(self.sort, SORTS["newest"]))


class CountedPagination(SelectPagination):
    """``db.paginate`` whose page statement also counts the rows (``count(*) OVER ()``).

    One statement where Flask-SQLAlchemy sends two (the page, then a count of the whole
    query); the count runs on its own only for a page past the end, which has no row to
    carry it.
    """

    def _query_items(self) -> list[Any]:
        select_ = self._query_args["select"].add_columns(func.count().over().label("total"))
        select_ = select_.limit(self.per_page).offset(self._query_offset)
        rows = self._query_args["session"].execute(select_).all()
        self._counted = rows[0].total if rows else None
        return [row[0] for row in rows]

    def _query_count(self) -> int:
        if self._counted is not None:
            return int(self._counted)
        if self.page == 1:
            return 0
        return super()._query_count()


def list_documents(filters: DocumentFilter, page: int = 1, per_page: int = 25) -> Any:
    """A page of the organization's documents, and how many there are: one statement."""
    query = filters.apply(select(Document))
    return CountedPagination(
        select=query,
        session=db.session(),
        page=page,
        per_page=per_page,
        max_per_page=100,
        error_out=False,
    )


def documents_after(cursor: tuple[Any, uuid.UUID] | None, limit: int) -> list[Document]:
    """Newest first, keyset pagination for the API: documents strictly after ``cursor``."""
    query = select(Document).order_by(Document.created_at.desc(), Document.id.desc())
    if cursor is not None:
        created_at, last_id = cursor
        query = query.where(
            (Document.created_at < created_at)
            | ((Document.created_at == created_at) & (Document.id < last_id))
        )
    return list(db.session.scalars(query.limit(limit)))


# The columns the API's list returns, in its order (webapp/api/views.py: list_documents).
_documents = Document.__table__
LISTED_COLUMNS = (
    _documents.c.id,
    _documents.c.title,
    _documents.c.filename,
    _documents.c.detected_type,
    _documents.c.content_type,
    _documents.c.size_bytes,
    _documents.c.sha256,
    _documents.c.status,
    _documents.c.progress,
    _documents.c.error,
    _documents.c.page_count,
    _documents.c.word_count,
    _documents.c.uploaded_by,
    _documents.c.created_at,
    _documents.c.updated_at,
    _documents.c.processed_at,
)
_ROWS_AFTER = (
    select(*LISTED_COLUMNS)
    .where(_documents.c.organization_id == bindparam("org_id"))
    # A Core statement: the trash's ORM criteria (webapp/documents/trash.py) do not reach it.
    .where(_documents.c.deleted_at.is_(None))
    .order_by(_documents.c.created_at.desc(), _documents.c.id.desc())
    .limit(bindparam("limit"))
)
_ROWS_AFTER_CURSOR = _ROWS_AFTER.where(
    (_documents.c.created_at < bindparam("created_at"))
    | (
        (_documents.c.created_at == bindparam("created_at"))
        & (_documents.c.id < bindparam("last_id"))
    )
)


def document_rows_after(cursor: tuple[Any, uuid.UUID] | None, limit: int) -> list[Any]:
    """``documents_after`` as plain rows of ``LISTED_COLUMNS``: one cached Core statement."""
    params: dict[str, Any] = {"org_id": tenancy.require_org_id(), "limit": limit}
    statement = _ROWS_AFTER
    if cursor is not None:
        statement = _ROWS_AFTER_CURSOR
        params["created_at"], params["last_id"] = cursor
    return db.session.connection().execute(statement, params).all()


def progress_of(document_ids: list[str]) -> list[dict[str, Any]]:
    """Status and progress of some documents, for the live progress bars."""
    keys = []
    for raw in document_ids[:200]:
        try:
            keys.append(uuid.UUID(raw))
        except ValueError:
            continue
    if not keys:
        return []
    rows = db.session.execute(
        select(Document.id, Document.status, Document.progress, Document.error).where(
            Document.id.in_(keys)
        )
    )
    return [
        {"id": str(r.id), "status": r.status, "progress": r.progress, "error": r.error}
        for r in rows
    ]


# --- Search -----------------------------------------------------------------------------


def org_lexeme(org_id: uuid.UUID) -> str:
    """A lexeme naming the organization, added to every search vector.

    Combined with the query (``&&``), it lets the one GIN index answer "this organization's
    documents matching q" directly, instead of fetching every organization's matches and
    filtering them (RLS and wall 1 still filter by organization_id on top).
    """
    return "org" + org_id.hex


def search_vector(org_id: uuid.UUID, title: Any, text: Any) -> Any:
    """The tsvector stored on a document: title (weight A), text (B), the org lexeme."""
    return (
        func.setweight(func.to_tsvector("english", title), literal_column("'A'"))
        .op("||")(
            func.setweight(
                func.to_tsvector("english", func.left(text, SEARCH_TEXT_CHARS)),
                literal_column("'B'"),
            )
        )
        .op("||")(func.array_to_tsvector(array([org_lexeme(org_id)])))
    )


@dataclass(frozen=True)
class SearchHit:
    """A document matching a search, its rank and a highlighted snippet (safe HTML)."""

    document: Document
    rank: float
    snippet: Markup


def search_documents(
    q: str, filters: DocumentFilter | None = None, limit: int = 20, offset: int = 0
) -> list[SearchHit]:
    """Full-text search over title and text, ranked, with highlighted snippets.

    Matching and ranking run in ``app_search_documents`` (migration 0003), which applies the
    tenant predicate itself so the GIN index can be used under RLS; broad queries rank the
    newest ``SEARCH_CANDIDATES`` matches.
    """
    q = (q or "").strip()[:200]
    if not q:
        return []
    filters = filters or DocumentFilter()
    user_query = func.websearch_to_tsquery("english", q)
    matches = func.app_search_documents(
        user_query,
        filters.status,
        filters.doc_type,
        min(limit, 100),
        offset,
        SEARCH_CANDIDATES,
        SEARCH_RECENT_WINDOW,
    ).table_valued(column("id", Uuid), column("rank", Float))
    rows = db.session.execute(
        select(Document, matches.c.rank)
        .join(matches, Document.id == matches.c.id)
        .order_by(matches.c.rank.desc(), Document.created_at.desc(), Document.id)
    ).all()
    snippets = _snippets([row.Document.id for row in rows], user_query)
    return [
        SearchHit(row.Document, float(row.rank), snippets.get(row.Document.id, Markup("")))
        for row in rows
    ]


def _snippets(document_ids: list[uuid.UUID], user_query: Any) -> dict[uuid.UUID, Markup]:
    if not document_ids:
        return {}
    headline = func.ts_headline(
        "english",
        func.left(DocumentAnalysis.text, SNIPPET_TEXT_CHARS),
        user_query,
        f"StartSel={_MARK_START}, StopSel={_MARK_STOP}, MaxWords=30, MinWords=12, "
        'MaxFragments=2, FragmentDelimiter=" … "',
    )
    rows = db.session.execute(
        select(DocumentAnalysis.document_id, headline).where(
            DocumentAnalysis.document_id.in_(document_ids)
        )
    )
    return {row[0]: highlight(row[1]) for row in rows}


def highlight(headline: str) -> Markup:
    """Escape a ts_headline result whole, then turn only our markers into <mark>."""
    escaped = str(escape(headline))
    return Markup(escaped.replace(_MARK_START, "<mark>").replace(_MARK_STOP, "</mark>"))
