"""Writing the audit log (append-only; the app role cannot change what it wrote)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import g, has_request_context, request
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from webapp import tenancy
from webapp.extensions import db
from webapp.models import AuditEvent

log = logging.getLogger(__name__)


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


def record_now(action: str, **fields: Any) -> AuditEvent:
    """Record and commit at once: for reads (view, download), whose request writes nothing."""
    event = record(action, **fields)
    db.session.commit()
    return event


def requester_id() -> uuid.UUID | None:
    """The member acting in this request: the API token's user, else the signed-in one."""
    api_user = g.get("api_user")
    if api_user is not None:
        return api_user.id
    if current_user and current_user.is_authenticated:
        return current_user.id
    return None


def record_not_found() -> None:
    """Audit a 404 on a routed path asked by a signed-in member, in THEIR organization.

    Another organization's object answers 404 (its existence is not revealed); this keeps a
    trace of the attempt — path, method and the ids asked for — without ever looking into the
    other organization. One INSERT, committed even though the response is an error.
    """
    if request.url_rule is None or tenancy.current_org_id() is None:
        return
    actor_id = requester_id()
    if actor_id is None:
        return
    asked = {name: str(value)[:100] for name, value in (request.view_args or {}).items()}
    target = next(((n, v) for n, v in asked.items() if n.endswith("_id")), None)
    try:
        record_now(
            "access.not_found",
            actor_id=actor_id,
            target_type=target[0].removesuffix("_id")[:32] if target else None,
            target_id=target[1][:64] if target else None,
            details={"path": request.path[:500], "method": request.method, "asked": asked},
        )
    except SQLAlchemyError:
        db.session.rollback()
        log.warning("could not audit a 404 on %s", request.path, exc_info=True)
