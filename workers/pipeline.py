"""The document pipeline: extracting -> analysing -> done (or failed), progress persisted.

Runs inside the document's organization context (set by the task base). Idempotent: a second
run rebuilds the same digest into the same single analysis row.
"""

from __future__ import annotations

import io
import logging
import tempfile
import uuid
from collections.abc import Callable
from typing import IO

from billiard.exceptions import SoftTimeLimitExceeded
from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from webapp import tenancy
from webapp.documents.services import (
    DocumentError,
    DuplicateDocument,
    search_vector,
    upload_document,
)
from webapp.extensions import db
from webapp.models import Document, DocumentAnalysis, DocumentBlob, utcnow
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


def process(document_id: str) -> str:
    """Run the pipeline for one document; returns the final status."""
    try:
        key = uuid.UUID(document_id)
    except ValueError:
        return "missing"
    org_id = tenancy.require_org_id()
    document = db.session.get(Document, (org_id, key))
    if document is None:
        return "missing"  # deleted since it was queued: nothing to do
    try:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as copy:
            if document.size_bytes <= SPOOL_BYTES:
                # Read in the transaction that marks the step: one round trip, one commit.
                _copy_original(key, copy)
                _advance(document, "extracting", 5, attempt=True)
            else:
                # The step is shown first; the copy then streams a chunk at a time.
                _advance(document, "extracting", 5, attempt=True)
                _copy_original(key, copy, stream=True)
                db.session.commit()  # no transaction stays open while the text is extracted
            copy.seek(0)
            extracted = extract_text(
                copy,
                document.detected_type,
                ocr_language=ocr_language(),
                progress=_page_progress(document),
            )
        stored = _store_attachments(document, extracted.attachments)
        # One commit per stage a person could watch, without a round trip per step.
        if len(extracted.text) >= ANALYSING_STEP_CHARS:
            _advance(document, "analysing", max(50, document.progress))
        title = document.title
        if document.detected_type == "eml" and extracted.model and extracted.model.title:
            title = extracted.model.title  # the Subject names a mail better than its filename
        # TODO(lead): analyse(..., model=extracted.model, filename=document.filename) once the
        # analyse helper's keyword arguments are merged (issue 10).
        digest = analyse(extracted.text, title=title, pages=extracted.pages)
        if stored:
            digest["attachments"] = stored
        _store(document, extracted.text, digest)
        return "done"
    except ExtractionError as exc:
        return _fail(document, exc.user_message)
    except SoftTimeLimitExceeded:
        return _fail(document, time_limit_message())
    except Exception:
        log.exception("processing document %s failed", document_id)
        return _fail(document, UNEXPECTED)


def ocr_language() -> str:
    """The organization's OCR language (``settings["ocr_language"]``), English by default."""
    settings = tenancy.current_organization().settings or {}
    return valid_language(settings.get("ocr_language"))


def _page_progress(document: Document) -> Callable[[int, int], None]:
    """Persist progress after each page that needed OCR (seconds each): 5 % to 50 %."""

    def report(done: int, total: int) -> None:
        progress = 5 + int(45 * done / max(total, 1))
        if progress > document.progress:
            _advance(document, "extracting", progress)

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


def _advance(document: Document, status: str, progress: int, attempt: bool = False) -> None:
    """Persist a step at once, so progress bars move while the work goes on."""
    document.status, document.progress, document.error = status, progress, None
    document.updated_at = utcnow()
    if attempt:
        document.attempts += 1
    db.session.commit()


def _store(document: Document, text: str, digest: dict) -> None:
    """Upsert the analysis, index the text, mark the document done: one transaction."""
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
    document.search_vector = search_vector(document.organization_id, document.title, text)
    document.page_count = stats.get("pages")
    document.word_count = stats.get("words")
    document.status, document.progress, document.error = "done", 100, None
    document.processed_at = document.updated_at = utcnow()
    db.session.commit()


def _fail(document: Document, message: str) -> str:
    db.session.rollback()
    document = db.session.merge(document)
    document.status, document.error = "failed", message
    document.updated_at = utcnow()
    db.session.commit()
    return "failed"
