"""What the pipeline tells the workspace, inside its own transactions (workers/pipeline.py)."""

from __future__ import annotations

from typing import Any

from webapp.models import Document
from webapp.workspace import items, notify


def digest_stored(document: Document, digest: dict[str, Any]) -> None:
    """Materialise the digest's items, tell the uploader and newly assigned members (the
    caller commits, then calls ``notify.request_delivery``)."""
    for assignment in items.sync_digest(document, digest):
        notify.assigned(assignment.item, assignment.member_id, document.title)
    notify.processing_finished(document)


def processing_failed(document: Document, message: str) -> None:
    """Tell the uploader their document failed, and why (the caller commits)."""
    notify.processing_finished(document, failed=True, error=message)
