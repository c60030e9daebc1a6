"""Sending an original file back: the same response for the pages and the API."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from flask import Response, stream_with_context

from webapp.documents.services import iter_content
from webapp.models import Document

# Characters RFC 5987 lets stand unencoded in an ext-value (``attr-char``).
_ATTR_CHARS = "!#$&+-.^_`|~"
_NOT_PLAIN = re.compile(r"[^\x20-\x7e]|[\"\\]")


def ascii_fallback(filename: str, default: str = "download") -> str:
    """An ASCII name for clients that ignore ``filename*``: accents dropped (é → e), other
    characters left out, the extension kept; ``default`` when nothing readable is left."""
    simple = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    simple = _NOT_PLAIN.sub("", simple)
    stem, dot, ext = simple.rpartition(".") if "." in simple else (simple, "", "")
    stem = " ".join(stem.split())
    if not stem.strip("._- "):
        stem = default
    return f"{stem}.{ext.strip()}" if dot and ext.strip() else stem


def content_disposition(filename: str) -> dict[str, str]:
    """The ``Content-Disposition`` parameters for ``filename``: a plain ``filename`` when it is
    printable ASCII, else an ASCII fallback plus ``filename*=UTF-8''…`` (RFC 6266), which
    every current browser prefers. A header holds only Latin-1, so a Cyrillic, Japanese or
    emoji name sent as is cannot even be written."""
    if not _NOT_PLAIN.search(filename):
        return {"filename": filename}
    return {
        "filename": ascii_fallback(filename),
        "filename*": "UTF-8''" + quote(filename, safe=_ATTR_CHARS),
    }


def send_document(document: Document) -> Response:
    """Stream the stored bytes as an attachment with the stored type, never sniffed."""
    response = Response(
        stream_with_context(iter_content(document)), content_type=document.content_type
    )
    response.headers["Content-Length"] = str(document.size_bytes)
    response.headers.set(
        "Content-Disposition", "attachment", **content_disposition(document.filename)
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
