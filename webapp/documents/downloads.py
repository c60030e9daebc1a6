"""Sending an original file back: the same response for the pages and the API."""

from flask import Response, stream_with_context

from webapp.documents.services import iter_content
from webapp.models import Document


def send_document(document: Document) -> Response:
    """Stream the stored bytes as an attachment with the stored type, never sniffed."""
    response = Response(
        stream_with_context(iter_content(document)), content_type=document.content_type
    )
    response.headers["Content-Length"] = str(document.size_bytes)
    response.headers.set("Content-Disposition", "attachment", filename=document.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
