"""API routes: thin JSON views over webapp.documents.services (the same calls as the pages)."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Any

from flask import jsonify, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import FileStorage

from webapp import audit, observe
from webapp.api import bp
from webapp.api.auth import current_api_user
from webapp.api.errors import ApiError, document_error_body
from webapp.documents import services
from webapp.documents.downloads import send_document
from webapp.jsonfast import json_response
from webapp.models import STATUSES, TYPES, Document

DEFAULT_LIMIT = 50
MAX_LIMIT = 100


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def document_json(document: Document) -> dict[str, Any]:
    """What the API says about a document (without its digest)."""
    return {
        "id": str(document.id),
        "title": document.title,
        "filename": document.filename,
        "type": document.detected_type,
        "content_type": document.content_type,
        "size_bytes": document.size_bytes,
        "sha256": document.sha256,
        "status": document.status,
        "progress": document.progress,
        "error": document.error,
        "page_count": document.page_count,
        "word_count": document.word_count,
        "uploaded_by": str(document.uploaded_by) if document.uploaded_by else None,
        "created_at": _iso(document.created_at),
        "updated_at": _iso(document.updated_at),
        "processed_at": _iso(document.processed_at),
        "url": url_for("api.get_document", document_id=document.id),
        "download_url": url_for("api.download_document", document_id=document.id),
    }


# The keys of ``document_json`` for the columns of ``services.LISTED_COLUMNS``, in order.
LISTED_KEYS = (
    "id",
    "title",
    "filename",
    "type",
    "content_type",
    "size_bytes",
    "sha256",
    "status",
    "progress",
    "error",
    "page_count",
    "word_count",
    "uploaded_by",
    "created_at",
    "updated_at",
    "processed_at",
)


def listed_json(rows: list[Any]) -> list[dict[str, Any]]:
    """``document_json`` for rows of ``services.LISTED_COLUMNS``, for ``json_response``.

    UUIDs and datetimes stay as they are: orjson writes them as ``str()`` and
    ``isoformat()`` would. The two URLs are put together from ``_document_url_parts``.
    """
    prefix, suffix, download_suffix = _document_url_parts()
    listed = []
    for row in rows:
        item = dict(zip(LISTED_KEYS, row, strict=True))
        key = str(row[0])
        item["url"] = f"{prefix}{key}{suffix}"
        item["download_url"] = f"{prefix}{key}{download_suffix}"
        listed.append(item)
    return listed


# (prefix, suffix, download suffix) of a document's URLs, by the application root they live
# under: routes are fixed in code, so one ``url_for`` each per root and process is enough.
_URL_PARTS: dict[str, tuple[str, str, str]] = {}


def _document_url_parts() -> tuple[str, str, str]:
    parts = _URL_PARTS.get(request.script_root)
    if parts is None:
        marker = "00000000-0000-0000-0000-000000000000"
        prefix, suffix = url_for("api.get_document", document_id=marker).split(marker)
        download_suffix = url_for("api.download_document", document_id=marker).split(marker)[1]
        parts = _URL_PARTS[request.script_root] = (prefix, suffix, download_suffix)
    return parts


def encode_cursor(document: Any) -> str:
    """An opaque cursor pointing just after ``document`` (a model or a listed row)."""
    raw = f"{document.created_at.isoformat()}|{document.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (created_at, id) a cursor points after; ``ApiError`` 400 when it is not ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_part, _, id_part = raw.partition("|")
        created_at, last_id = datetime.fromisoformat(created_part), uuid.UUID(id_part)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ApiError(400, "bad_cursor", "The cursor is not one this API returned.") from None
    if created_at.tzinfo is None:
        raise ApiError(400, "bad_cursor", "The cursor is not one this API returned.")
    return created_at, last_id


def _limit(default: int) -> int:
    """``?limit=``: a positive integer, at most MAX_LIMIT (larger values are capped)."""
    raw = request.args.get("limit")
    if raw is None:
        return default
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if limit < 1:
        raise ApiError(400, "bad_limit", f"limit must be an integer from 1 to {MAX_LIMIT}.")
    return min(limit, MAX_LIMIT)


def _search_filters() -> services.DocumentFilter:
    status, doc_type = request.args.get("status") or None, request.args.get("type") or None
    if status is not None and status not in STATUSES:
        raise ApiError(400, "bad_filter", f"status must be one of {', '.join(STATUSES)}.")
    if doc_type is not None and doc_type not in TYPES:
        raise ApiError(400, "bad_filter", f"type must be one of {', '.join(TYPES)}.")
    return services.DocumentFilter(status=status, doc_type=doc_type)


def _upload_result(storage: FileStorage) -> tuple[int, dict[str, Any]]:
    """Upload one file part; (HTTP status, JSON body) whether it was accepted or refused."""
    try:
        document = services.upload_document(storage.stream, storage.filename, current_api_user().id)
    except services.DocumentError as exc:
        observe.count_upload(exc)
        return exc.status, {"error": document_error_body(exc)}
    observe.count_upload(None)
    return 202, document_json(document)


@bp.post("/documents")
def upload_documents() -> ResponseReturnValue:
    """Upload the multipart ``file`` part(s); processing starts at once (202)."""
    files = [f for f in request.files.getlist("file") if f.filename or f.content_length]
    if not files:
        raise ApiError(
            400, "no_file", "Send the document as a multipart/form-data field named “file”."
        )
    if len(files) == 1:
        status, body = _upload_result(files[0])
        headers = {"Location": body["url"]} if status == 202 else {}
        return jsonify(body), status, headers
    # Several parts: one result per file, in order; 202 when at least one was accepted, else
    # the first refusal's status.
    results = []
    for storage in files:
        status, body = _upload_result(storage)
        outcome = {"document": body} if status == 202 else body
        results.append({"filename": storage.filename, "http_status": status, **outcome})
    statuses = [r["http_status"] for r in results]
    return jsonify(results=results), 202 if 202 in statuses else statuses[0]


@bp.get("/documents")
def list_documents() -> ResponseReturnValue:
    """The organization's documents, newest first, ``limit`` at a time from ``cursor``."""
    limit = _limit(DEFAULT_LIMIT)
    cursor = request.args.get("cursor")
    after = decode_cursor(cursor) if cursor else None
    # One row more than asked tells whether another page exists, so the last page has none.
    rows = services.document_rows_after(after, limit + 1)
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1]) if len(rows) > limit else None
    return json_response({"documents": listed_json(page), "next_cursor": next_cursor})


@bp.get("/documents/<document_id>")
def get_document(document_id: str) -> ResponseReturnValue:
    """One document: status, progress, error, counts, timestamps and digest (null until made)."""
    document = services.get_document(document_id)
    audit.record_now(
        "document.viewed",
        actor_id=current_api_user().id,
        target_type="document",
        target_id=document.id,
        details={"via": "api"},
    )
    analysis = services.get_analysis(document)
    from webapp.workspace.items import document_items, item_json  # imports this package

    found = document_items(document)
    return jsonify(
        document_json(document)
        | {
            "digest": analysis.digest if analysis else None,
            # The digest as people corrected it (the analyser's JSON above stays as it made it).
            "items": {kind: [item_json(i) for i in found[kind]] for kind in found},
        }
    )


@bp.get("/documents/<document_id>/download")
def download_document(document_id: str) -> ResponseReturnValue:
    """The original file, streamed chunk by chunk, always as an attachment."""
    document = services.get_document(document_id)
    audit.record_now(
        "document.downloaded",
        actor_id=current_api_user().id,
        target_type="document",
        target_id=document.id,
        details={"via": "api"},
    )
    return send_document(document)


@bp.delete("/documents/<document_id>")
def delete_document(document_id: str) -> ResponseReturnValue:
    """Delete a document, its original and its digest (204)."""
    services.delete_documents([document_id], current_api_user().id)
    return "", 204


@bp.get("/search")
def search() -> ResponseReturnValue:
    """Full-text search: ranked hits with an HTML snippet (escaped, matches in <mark>)."""
    q = request.args.get("q", "").strip()
    if not q:
        raise ApiError(400, "missing_query", "Give the words to search for as ?q=.")
    hits = services.search_documents(q, _search_filters(), limit=_limit(20))
    return jsonify(
        query=q,
        results=[
            {
                "id": str(hit.document.id),
                "title": hit.document.title,
                "status": hit.document.status,
                "rank": hit.rank,
                "snippet_html": str(hit.snippet),
                "url": url_for("api.get_document", document_id=hit.document.id),
            }
            for hit in hits
        ],
    )
