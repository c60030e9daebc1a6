"""The audit log read as sentences: "Maria invited daniel@acme.test as member".

An event names people and documents by id; the page passes what this organization knows of
them (members' names, documents' titles — trashed ones too) and each event becomes one
sentence, falling back to what the event itself recorded (an e-mail, a file name) for people
and documents that are gone. Failed log-ins have no actor: the person trying is not known, so
they read as an attempt *on* the account, from an address, never as the account holder's act.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import AuditEvent, Document, User

# Events whose actor is, by nature, unknown: someone trying to get in.
ATTEMPTS = {
    "auth.login_failed",
    "auth.login_refused",
    "auth.password_change_failed",
    "auth.password_reset_requested",
}


@dataclass(frozen=True)
class Names:
    """What the page knows to name ids with."""

    people: Mapping[uuid.UUID, str]
    documents: Mapping[uuid.UUID, str]

    def person(self, user_id: object, fallback: str | None = None) -> str:
        key = _uuid(user_id)
        if key is not None and key in self.people:
            return self.people[key]
        return fallback or "a former member"

    def document(self, document_id: object, fallback: str | None = None) -> str:
        key = _uuid(document_id)
        if key is not None and key in self.documents:
            return f"“{self.documents[key]}”"
        return f"“{fallback}”" if fallback else "a deleted document"


def _uuid(value: object) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def names_for(events: Iterable[AuditEvent]) -> Names:
    """Names of the members and titles of the documents these events mention (one query each;
    the documents of the trash included)."""
    events = list(events)
    people = {u.id: u.name for u in db.session.scalars(select(User))}
    document_ids = {
        key
        for e in events
        if e.target_type == "document" and (key := _uuid(e.target_id)) is not None
    }
    documents: dict[uuid.UUID, str] = {}
    if document_ids:
        rows = db.session.execute(
            select(Document.id, Document.title)
            .where(Document.id.in_(document_ids))
            .execution_options(include_trashed=True)
        )
        documents = {row.id: row.title for row in rows}
    return Names(people, documents)


def actor_label(event: AuditEvent, names: Names) -> str:
    """Who did it, as the Who column says it."""
    if event.actor_user_id is not None:
        return names.person(event.actor_user_id, (event.details or {}).get("actor_email"))
    if event.action in ATTEMPTS:
        return f"Someone at {event.ip}" if event.ip else "Someone"
    return "The platform"


Sentence = Callable[[str, AuditEvent, dict[str, Any], Names], str]


def _target_person(event: AuditEvent, details: dict[str, Any], names: Names) -> str:
    return names.person(event.target_id, details.get("email"))


def _doc(event: AuditEvent, details: dict[str, Any], names: Names) -> str:
    return names.document(event.target_id, details.get("filename"))


def _reason(details: dict[str, Any]) -> str:
    return f" ({details['reason']})" if details.get("reason") else ""


SENTENCES: dict[str, Sentence] = {
    "auth.signup": lambda who, e, d, n: f"{who} signed up",
    "auth.login": lambda who, e, d, n: f"{who} logged in",
    "auth.logout": lambda who, e, d, n: f"{who} logged out",
    "auth.login_failed": lambda who, e, d, n: (
        f"Failed log-in as {_target_person(e, d, n)}{_reason(d)}"
    ),
    "auth.login_refused": lambda who, e, d, n: (
        f"Log-in as {_target_person(e, d, n)} refused{_reason(d)}"
    ),
    "auth.password_changed": lambda who, e, d, n: f"{who} changed their password",
    "auth.password_change_failed": lambda who, e, d, n: (
        f"Password change for {_target_person(e, d, n)} refused{_reason(d)}"
    ),
    "auth.password_reset_requested": lambda who, e, d, n: (
        f"Password reset link sent to {_target_person(e, d, n)}"
    ),
    "auth.password_reset": lambda who, e, d, n: f"{who} set a new password with a reset link",
    "user.renamed": lambda who, e, d, n: f"{who} changed their name from {d.get('from')}",
    "user.email_change_requested": lambda who, e, d, n: (
        f"{who} asked to change their e-mail address to {d.get('new_email')}"
    ),
    "user.email_changed": lambda who, e, d, n: (
        f"{who} changed their e-mail address from {d.get('from')} to {d.get('to')}"
    ),
    "organization.created": lambda who, e, d, n: f"{who} created the organization {d.get('name')}",
    "organization.deletion_requested": lambda who, e, d, n: (
        f"{who} asked to delete the organization"
    ),
    "organization.restored": lambda who, e, d, n: f"{who} restored the organization",
    "organization.restore_refused": lambda who, e, d, n: (
        f"Restoring the organization was refused{_reason(d)}"
    ),
    "member.invited": lambda who, e, d, n: f"{who} invited {d.get('email')} as {d.get('role')}",
    "invitation.revoked": lambda who, e, d, n: f"{who} revoked the invitation of {d.get('email')}",
    "member.joined": lambda who, e, d, n: f"{who} joined as {d.get('role')}",
    "member.role_changed": lambda who, e, d, n: (
        f"{who} changed the role of {_target_person(e, d, n)} from {d.get('old')} to {d.get('new')}"
    ),
    "member.removed": lambda who, e, d, n: (
        f"{who} removed {d.get('email') or _target_person(e, d, n)}"
        + (f" ({d['role']})" if d.get("role") else "")
    ),
    "ownership.transferred": lambda who, e, d, n: f"{who} made {_target_person(e, d, n)} the owner",
    "api_token.created": lambda who, e, d, n: f"{who} created the API token “{d.get('name')}”",
    "api_token.revoked": lambda who, e, d, n: f"{who} revoked the API token “{d.get('name')}”",
    "document.uploaded": lambda who, e, d, n: f"{who} uploaded {_doc(e, d, n)}",
    "document.viewed": lambda who, e, d, n: f"{who} opened {_doc(e, d, n)}",
    "document.downloaded": lambda who, e, d, n: f"{who} downloaded {_doc(e, d, n)}",
    "document.reprocessed": lambda who, e, d, n: f"{who} asked to process {_doc(e, d, n)} again",
    "document.deleted": lambda who, e, d, n: f"{who} deleted {_doc(e, d, n)}",
    "document.trashed": lambda who, e, d, n: f"{who} moved {_doc(e, d, n)} to the trash",
    "document.restored": lambda who, e, d, n: f"{who} restored {_doc(e, d, n)} from the trash",
    "document.purged": lambda who, e, d, n: f"{who} deleted {_doc(e, d, n)} for good",
    "document.requeued": lambda who, e, d, n: f"{_doc(e, d, n).capitalize()} was sent again",
    "document.abandoned": lambda who, e, d, n: f"Processing {_doc(e, d, n)} was given up",
    "settings.changed": lambda who, e, d, n: (
        f"{who} changed the settings" + (f" ({', '.join(sorted(d))})" if d else "")
    ),
    "export.requested": lambda who, e, d, n: f"{who} asked for an export of the organization",
    "export.downloaded": lambda who, e, d, n: f"{who} downloaded the organization's export",
    "access.not_found": lambda who, e, d, n: (
        f"{who} asked for something that is not there ({d.get('method')} {d.get('path')})"
    ),
    "outbox.relayed": lambda who, e, d, n: "A queued task was sent again",
    "worker.census": lambda who, e, d, n: "A worker checked in",
}


def describe(event: AuditEvent, names: Names) -> str:
    """One event as a sentence."""
    who = actor_label(event, names)
    details = dict(event.details or {})
    sentence = SENTENCES.get(event.action)
    if sentence is None:
        return f"{who}: {event.action.replace('.', ' ').replace('_', ' ')}"
    try:
        return sentence(who, event, details, names)
    except (KeyError, TypeError, AttributeError):  # an older event without the usual details
        return f"{who}: {event.action.replace('.', ' ').replace('_', ' ')}"
