"""Roles and what each may do: one table, checked by the services so pages and API agree.

``require(action, owner_id=...)`` reads the acting person of the request (the API token's user
or the signed-in member) and raises ``Forbidden`` (403, with a message naming the role and the
act) when the table does not allow it. ``"own"`` in the table allows the act only on objects
whose ``owner_id`` is the actor. Outside a request (CLI, tasks) the caller is trusted code and
nothing is checked. Objects of another organization never reach a check: they are 404 before.
"""

from __future__ import annotations

import uuid
from typing import Literal

from flask import Flask, g, has_request_context
from flask_login import current_user

from webapp.models import ROLES, User

Scope = Literal["any", "own"]

# Higher ranks include every right of the lower ones; nobody grants a role above their own.
RANK = {role: len(ROLES) - index for index, role in enumerate(ROLES)}

# action -> role -> scope; a role missing from an action's row may not do it.
PERMISSIONS: dict[str, dict[str, Scope]] = {
    "document.view": {"owner": "any", "admin": "any", "member": "any", "viewer": "any"},
    "document.upload": {"owner": "any", "admin": "any", "member": "any"},
    "document.delete": {"owner": "any", "admin": "any", "member": "own"},
    "document.reprocess": {"owner": "any", "admin": "any", "member": "own"},
    # Correct its digest (actions, decisions, risks) and rename it (webapp/workspace/items.py).
    "document.edit": {"owner": "any", "admin": "any", "member": "own"},
    # A token acts with its user's role, so a viewer's token can only read.
    "api_token.create": {"owner": "any", "admin": "any", "member": "any", "viewer": "any"},
    "member.invite": {"owner": "any", "admin": "any"},
    "member.change_role": {"owner": "any", "admin": "any"},
    "member.remove": {"owner": "any", "admin": "any"},
    "settings.manage": {"owner": "any", "admin": "any"},
    "audit.view": {"owner": "any", "admin": "any"},
    "ownership.transfer": {"owner": "any"},
    "organization.export": {"owner": "any"},
    "organization.delete": {"owner": "any"},
}

# How a refusal names the act: "Your role (viewer) does not allow {phrase}."
PHRASES = {
    "document.view": "reading documents",
    "document.upload": "uploading documents",
    "document.delete": "deleting documents",
    "document.reprocess": "reprocessing documents",
    "document.edit": "editing documents and their digests",
    "api_token.create": "creating API tokens",
    "member.invite": "inviting members",
    "member.change_role": "changing members' roles",
    "member.remove": "removing members",
    "settings.manage": "changing the organization's settings",
    "audit.view": "reading the audit log",
    "ownership.transfer": "transferring ownership",
    "organization.export": "exporting the organization",
    "organization.delete": "deleting the organization",
}


def page_to_return_to() -> str | None:
    """The same-site page a form was posted from (its ``Referer``; the site sends
    ``Referrer-Policy: same-origin``), as a path, or None."""
    from urllib.parse import urlsplit

    from flask import request

    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.netloc != request.host or parts.scheme not in ("http", "https"):
        return None
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return None
    return path + (f"?{parts.query}" if parts.query else "")


class Forbidden(Exception):
    """A forbidden act inside one's own organization: 403 with a message a person understands."""

    code = "forbidden"
    status = 403

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def rank(role: str) -> int:
    """A role's rank (owner highest); 0 for an unknown role."""
    return RANK.get(role, 0)


def allows(role: str, action: str, *, owner_id: uuid.UUID | None = None, actor_id=None) -> bool:
    """Whether ``role`` may do ``action`` (on an object owned by ``owner_id``)."""
    scope = PERMISSIONS[action].get(role)
    if scope == "any":
        return True
    return scope == "own" and owner_id is not None and owner_id == actor_id


def current_actor() -> User | None:
    """The person acting in this request: the API token's user, else the signed-in member."""
    if not has_request_context():
        return None
    api_user = g.get("api_user")
    if api_user is not None:
        return api_user
    if current_user and current_user.is_authenticated:
        return current_user._get_current_object()  # type: ignore[attr-defined]
    return None


def can(action: str, *, owner_id: uuid.UUID | None = None) -> bool:
    """Whether the current actor may do ``action`` (for templates: show a button or not)."""
    actor = current_actor()
    return actor is not None and allows(actor.role, action, owner_id=owner_id, actor_id=actor.id)


def require(action: str, *, owner_id: uuid.UUID | None = None) -> User | None:
    """Raise ``Forbidden`` unless the current actor may do ``action``; returns the actor."""
    if action not in PERMISSIONS:
        raise KeyError(f"unknown action {action!r}")
    if not has_request_context():
        return None  # CLI and tasks: trusted code, no person acting
    actor = current_actor()
    if actor is None:
        raise Forbidden("Log in to do this.")
    if allows(actor.role, action, owner_id=owner_id, actor_id=actor.id):
        return actor
    phrase = PHRASES.get(action, action)
    if PERMISSIONS[action].get(actor.role) == "own":
        raise Forbidden(
            f"Your role ({actor.role}) allows {phrase} only when you uploaded them; "
            "ask an admin of your organization."
        )
    raise Forbidden(
        f"Your role ({actor.role}) does not allow {phrase}; ask an admin of your organization."
    )


def init_app(app: Flask) -> None:
    """Let templates ask ``can(action)`` to show only the controls a person may use."""
    app.jinja_env.globals["can"] = can
