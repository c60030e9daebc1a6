"""Writing the audit log (append-only; the app role cannot change what it wrote)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import g, has_request_context, request

from webapp.extensions import db
from webapp.models import AuditEvent


def record(
    action: str,
    *,
    actor_id: uuid.UUID | None = None,
    target_type: str | None = None,
    target_id: object | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event for the current organization to the session (committed by caller)."""
    event = AuditEvent(
        actor_user_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        details=details or {},
    )
    if has_request_context():
        event.ip = request.remote_addr
        event.user_agent = (request.user_agent.string or "")[:500] or None
        event.request_id = g.get("request_id")
    db.session.add(event)
    return event
