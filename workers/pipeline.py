"""The document pipeline: extracting -> analysing -> done (or failed), progress persisted.

Runs inside the document's organization context (set by the task base), under the document's
lease (workers/leases.py). Idempotent: a document already done by this analyser is not
processed again, and a run that does happen rebuilds the same digest into the same row.
"""

from __future__ import annotations

import io
import logging
import tempfile
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import IO

from billiard.exceptions import SoftTimeLimitExceeded
from flask import current_app
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm.attributes import set_committed_value

from webapp import tenancy
from webapp.documents.services import (
    DocumentError,
    DuplicateDocument,
    search_vector,
    upload_document,
)
from webapp.extensions import db
from webapp.models import ACTIVE_STATUSES, Document, DocumentAnalysis, DocumentBlob, utcnow
from webapp.workspace import events, notify
from workers import leases, transient
from workers.analyse import analyse
from workers.extract import Attachment, ExtractionError, extract_text
from workers.extract.ocr import valid_language

log = logging.getLogger(__name__)

# A document up to this size is read in one query and copied in memory; a larger one is read
# a chunk at a time and spooled to disk, so no worker holds a whole large file.
SPOOL_BYTES = 8 * 1024 * 1024
# Text shorter than this is analysed in a few tens of milliseconds: no progress bar could
# show an "analysing" step, so it is not committed (one transaction fewer per document).
ANALYSING_STEP_CHARS = 20_000
# Which analyser made a digest. Change it when extraction or analysis would give another
# digest for the same bytes: documents done by an older one are then processed again when
# asked, while a duplicate message for a document done by this one changes nothing.
ANALYSER_VERSION = "1"

UNEXPECTED = (
    "Something unexpected stopped the processing of this document. Use Reprocess to try "
    "again; if it fails again, contact support."
)


def time_limit_message() -> str:
    """What a person reads when processing ran out of time."""
    seconds = current_app.config["DOCUMENT_TIME_LIMIT"]
    return (
        f"Processing took longer than the {seconds}-second limit and was stopped. "
        "Very long or complex documents can exceed it; try splitting the file."
    )


def process(document_id: str, owner: str | None = None) -> str:
    """Run the pipeline for one document; returns the final status.

    A document already settled (done by this analyser, or failed for its own fault) is left
    as it is, without a write. ``owner`` names the lease holder (workers/leases.py); a live
    lease of another worker raises ``LeaseHeld``, and a transient error (database or Redis
    unavailable) propagates for the task to retry: neither is the document's fault.
    """
    try:
        key = uuid.UUID(document_id)
    except ValueError:
        return "missing"
    org_id = tenancy.require_org_id()
    document = db.session.get(Document, (org_id, key))
    if document is None:
        return "missing"  # deleted since it was queued: nothing to do
    if settled(document):
        return document.status
    owner = owner or leases.new_owner()
    try:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as copy:
            small = document.size_bytes <= SPOOL_BYTES
            if small:
                # Read in the transaction that marks the step: one round trip, one commit.
                _copy_original(key, copy)
            _take_lease(document, owner)
            with leases.renewing(org_id, key, owner):
                if not small:
                    # The step is shown first; the copy then streams a chunk at a time.
                    _copy_original(key, copy, stream=True)
                    db.session.commit()  # no transaction stays open during extraction
                copy.seek(0)
                extracted = extract_text(
                    copy,
                    document.detected_type,
                    ocr_language=ocr_language(),
                    progress=_page_progress(document, owner),
                )
                stored = _store_attachments(document, extracted.attachments)
                # One commit per stage a person could watch, without a round trip per step.
                if len(extracted.text) >= ANALYSING_STEP_CHARS:
                    _advance(document, owner, "analysing", max(50, document.progress))
                title = document.title
                if document.detected_type == "eml" and extracted.model and extracted.model.title:
                    title = extracted.model.title  # the Subject names a mail better
                digest = analyse(
                    extracted.text,
                    title=title,
                    pages=extracted.pages,
                    model=extracted.model,
                    filename=document.filename,
                )
                if stored:
                    digest["attachments"] = stored
                return _store(document, owner, extracted.text, digest)
    except LeaseHeld:
        raise
    except ExtractionError as exc:
        return _fail(document, owner, exc.user_message)
    except SoftTimeLimitExceeded:
        return _fail(document, owner, time_limit_message())
    except Exception as exc:
        if transient.is_transient(exc):
            transient.rollback_quietly()
            raise
        log.exception("processing document %s failed", document_id)
        return _fail(document, owner, UNEXPECTED)


def settled(document: Document) -> bool:
    """Whether processing it again would change nothing (a redelivered or duplicate message).

    A digest made before analyser versions were recorded counts as this analyser's.
    """
    if document.status == "failed":
        return True
    return document.status == "done" and document.analyser_version in (None, ANALYSER_VERSION)


class LeaseHeld(Exception):
    """Another worker holds the document's lease; it may be free in ``seconds``."""

    def __init__(self, document_id: uuid.UUID, seconds: float) -> None:
        super().__init__(f"document {document_id} is leased for {seconds:.0f} s more")
        self.seconds = seconds


def _take_lease(document: Document, owner: str) -> None:
    """Mark the document ``extracting`` under this owner's lease, counting the attempt.

    One conditional statement: the lease is taken only if it is free, expired or already
    this owner's, and only while the document still needs processing.
    """
    now = utcnow()
    attempts = db.session.scalar(_lease_statement(document, owner, now, free=True))
    if attempts is None:
        status, holder, seconds = db.session.execute(
            select(
                Document.status,
                Document.lease_owner,
                func.extract("epoch", Document.lease_expires_at - func.now()),
            ).where(Document.id == document.id)
        ).one()
        if status in ACTIVE_STATUSES and leases.supersedes(owner, holder):
            # An earlier run of this task met a transient error: its lease is ours to take.
            attempts = db.session.scalar(_lease_statement(document, owner, now, holder=holder))
        if attempts is None:
            db.session.commit()
            raise LeaseHeld(document.id, max(float(seconds or 0), 0.0))
    db.session.commit()
    for name, value in (
        ("status", "extracting"),
        ("progress", 5),
        ("error", None),
        ("updated_at", now),
        ("attempts", attempts),
        ("lease_owner", owner),
    ):
        set_committed_value(document, name, value)
    log.info("document %s: attempt %d by %s", document.id, attempts, owner)


def _lease_statement(  # type: ignore[no-untyped-def]
    document: Document, owner: str, now: datetime, free: bool = False, holder: str | None = None
):
    """The UPDATE that takes the lease: if free (or expired, or ours), else from ``holder``."""
    if free:
        taken = or_(
            Document.lease_owner.is_(None),
            Document.lease_owner == owner,
            Document.lease_expires_at < func.now(),
        )
    else:
        taken = Document.lease_owner == holder
    return (
        update(Document)
        .where(
            Document.organization_id == document.organization_id,
            Document.id == document.id,
            or_(
                Document.status.in_(ACTIVE_STATUSES),
                and_(Document.status == "done", Document.analyser_version != ANALYSER_VERSION),
            ),
            taken,
        )
        .values(
            status="extracting",
            progress=5,
            error=None,
            updated_at=now,
            attempts=Document.attempts + 1,
            lease_owner=owner,
            lease_expires_at=leases.lease_until(),
        )
        .returning(Document.attempts)
        .execution_options(synchronize_session=False)
    )


def ocr_language() -> str:
    """The organization's OCR language (``settings["ocr_language"]``), English by default."""
    settings = tenancy.current_organization().settings or {}
    return valid_language(settings.get("ocr_language"))


def _page_progress(document: Document, owner: str) -> Callable[[int, int], None]:
    """Persist progress after each page that needed OCR (seconds each): 5 % to 50 %."""

    def report(done: int, total: int) -> None:
        progress = 5 + int(45 * done / max(total, 1))
        if progress > document.progress:
            _advance(document, owner, "extracting", progress)

    return report


def _store_attachments(document: Document, attachments: tuple[Attachment, ...]) -> list[dict]:
    """Store each attachment of a mail as an upload of its own, processed like any other.

    Same checks, quotas and usage as an upload (``upload_document``: one transaction each,
    published after its commit), by the mail's uploader. A refusal (quota, type, size) is
    reported in the mail's digest, never raised; a rerun finds the documents already stored
    (same SHA-256) and links them again instead of storing them twice.
    """
    report: list[dict] = []
    for attachment in attachments:
        entry: dict = {"filename": attachment.filename}
        try:
            stored = upload_document(
                io.BytesIO(attachment.data), attachment.filename, document.uploaded_by
            )
            entry["document_id"] = str(stored.id)
        except DuplicateDocument as exc:
            entry["document_id"] = str(exc.existing.id)
        except DocumentError as exc:
            db.session.rollback()
            entry["error"] = exc.message
        except Exception:
            log.exception("storing attachment %r of %s failed", attachment.filename, document.id)
            db.session.rollback()
            entry["error"] = "This attachment could not be stored."
        report.append(entry)
    return report


def _copy_original(key: uuid.UUID, copy: IO[bytes], stream: bool = False) -> None:
    """Write the stored original into ``copy``: in one query, or a chunk at a time."""
    chunks = (
        select(DocumentBlob.data).where(DocumentBlob.document_id == key).order_by(DocumentBlob.seq)
    )
    if stream:  # a server-side cursor: one chunk in memory at a time
        chunks = chunks.execution_options(yield_per=1)
    for chunk in db.session.scalars(chunks):
        copy.write(chunk)


def _advance(document: Document, owner: str, status: str, progress: int) -> None:
    """Persist a step at once, so progress bars move while the work goes on."""
    db.session.execute(
        _owned(document, owner)
        .values(status=status, progress=progress, error=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _owned(document: Document, owner: str):  # type: ignore[no-untyped-def]
    """An UPDATE of the document that changes nothing unless this owner holds its lease."""
    return update(Document).where(
        Document.organization_id == document.organization_id,
        Document.id == document.id,
        Document.lease_owner == owner,
    )


def _store(document: Document, owner: str, text: str, digest: dict) -> str:
    """Upsert the analysis, index the text, mark the document done: one transaction.

    Only while this owner still holds the lease; otherwise nothing is written (``"lost"``):
    the worker now holding it writes the digest.
    """
    values = {
        "organization_id": document.organization_id,
        "document_id": document.id,
        "text": text,
        "digest": digest,
    }
    statement = insert(DocumentAnalysis).values(**values)
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=["organization_id", "document_id"],
            set_={
                "text": statement.excluded.text,
                "digest": statement.excluded.digest,
                "updated_at": utcnow(),
            },
        )
    )
    stats = digest.get("stats", {})
    now = utcnow()
    done = db.session.execute(
        _owned(document, owner)
        .values(
            status="done",
            progress=100,
            error=None,
            search_vector=search_vector(document.organization_id, document.title, text),
            page_count=stats.get("pages"),
            word_count=stats.get("words"),
            processed_at=now,
            updated_at=now,
            analyser_version=ANALYSER_VERSION,
            lease_owner=None,
            lease_expires_at=None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        db.session.rollback()
        log.warning("document %s: lease lost before the digest was stored", document.id)
        return "lost"
    # The Actions page's rows and the notifications, in the same transaction as the digest.
    events.digest_stored(document, digest)
    db.session.commit()
    notify.request_delivery(document.organization_id)
    log.info("document %s: done by %s", document.id, owner)
    return "done"


def _fail(document: Document, owner: str, message: str) -> str:
    """Fail the document with a message a person understands (if its lease is still ours)."""
    db.session.rollback()
    failed = db.session.execute(
        _owned(document, owner)
        .values(
            status="failed",
            error=message,
            updated_at=utcnow(),
            lease_owner=None,
            lease_expires_at=None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if failed:
        events.processing_failed(document, message)
    db.session.commit()
    if failed:
        notify.request_delivery(document.organization_id)
    return "failed" if failed else "lost"
