"""The organization's lifecycle: export (GDPR portability) and deletion with a grace period.

Export: the owner asks; an outbox message (so a broker outage loses nothing) starts the
``export_organization`` tenant task, which writes a zip (``workers/export.py``) into
``export_chunks``; the owner downloads it until ``expires_at`` (``EXPORT_LINK_HOURS``).

Deletion: the owner types the organization's name; the organization becomes
``pending_deletion`` and its people are signed out on their next request. Until
``deletion_requested_at + DELETION_GRACE_DAYS`` the owner can restore it from the public
``/organization/restore`` page (e-mail and password; the organization cannot be signed into
while pending). Afterwards the periodic ``purge_deleted_organizations`` task removes every row
through the purge door and records it in the platform audit log.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from webapp import audit, tenancy
from webapp.extensions import db
from webapp.models import (
    Export,
    ExportChunk,
    Organization,
    OutboxMessage,
    PlatformAuditEvent,
    User,
    utcnow,
)
from webapp.permissions import allows

log = logging.getLogger(__name__)

EXPORT_TASK = "workers.tasks.export_organization"
PURGE_BATCH = 100


class LifecycleError(Exception):
    """A refusal whose message can be shown to a person."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAllowed(LifecycleError):
    status = 403


class ExportNotFound(LifecycleError):
    status = 404

    def __init__(self) -> None:
        super().__init__("No such export.")


class ExportExpired(LifecycleError):
    status = 410


class NameMismatch(LifecycleError):
    pass


def _require_owner(user: User, action: str = "organization.export") -> None:
    if not allows(user.role, action):
        raise NotAllowed("Only the organization's owner can export or delete the organization.")


# --- Export ----------------------------------------------------------------------------


def request_export(actor: User) -> Export:
    """Start an export of the whole organization; audited ``export.requested``."""
    from webapp.documents.services import dispatch

    _require_owner(actor)
    export = Export(requested_by=actor.id)
    db.session.add(export)
    db.session.flush()
    message = OutboxMessage(task=EXPORT_TASK, payload={"args": [str(export.id)]})
    db.session.add(message)
    audit.record("export.requested", actor_id=actor.id, target_type="export", target_id=export.id)
    db.session.commit()
    dispatch(message)  # on broker trouble the outbox relay sends it later
    return export


def list_exports(limit: int = 10) -> list[Export]:
    """The organization's latest exports, newest first."""
    return list(db.session.scalars(select(Export).order_by(Export.created_at.desc()).limit(limit)))


def get_export(export_id: object) -> Export:
    """One export of the current organization, or ``ExportNotFound`` (also for other orgs)."""
    try:
        key = uuid.UUID(str(export_id))
    except ValueError:
        raise ExportNotFound() from None
    export = db.session.get(Export, (tenancy.require_org_id(), key))
    if export is None:
        raise ExportNotFound()
    return export


def downloadable_export(actor: User, export_id: object) -> Export:
    """An export ready to download by the owner; refuses unfinished and expired ones."""
    _require_owner(actor)
    export = get_export(export_id)
    if export.status != "done":
        raise LifecycleError("This export is not ready yet; its page shows its progress.")
    if export.expires_at is None or export.expires_at <= utcnow():
        raise ExportExpired(
            "This download link has expired (links last "
            f"{current_app.config['EXPORT_LINK_HOURS']} hours). Start a new export."
        )
    audit.record("export.downloaded", actor_id=actor.id, target_type="export", target_id=export.id)
    db.session.commit()
    return export


def iter_export(export: Export) -> Iterator[bytes]:
    """The zip's bytes, one chunk per query (a streamed body outlives the request context)."""
    org_id, export_id = export.organization_id, export.id
    with tenancy.tenant_context(org_id):
        count = db.session.scalar(
            select(func.count()).select_from(ExportChunk).where(ExportChunk.export_id == export_id)
        )
        db.session.rollback()
    for seq in range(count or 0):
        with tenancy.tenant_context(org_id):
            chunk = db.session.scalar(
                select(ExportChunk.data).where(
                    ExportChunk.export_id == export_id, ExportChunk.seq == seq
                )
            )
            db.session.rollback()
        if chunk is None:
            return
        yield chunk


# --- Deletion and restore --------------------------------------------------------------


def grace_period() -> timedelta:
    """How long a deleted organization can still be restored."""
    return timedelta(days=float(current_app.config["DELETION_GRACE_DAYS"]))


def purge_date(org: Organization) -> datetime | None:
    """When a pending deletion becomes final (None when none is pending)."""
    if org.status != "pending_deletion" or org.deletion_requested_at is None:
        return None
    return org.deletion_requested_at + grace_period()


def request_deletion(actor: User, typed_name: str) -> datetime:
    """Mark the organization for deletion if the owner typed its exact name; returns the date.

    Its people are signed out on their next request (the identity loader only accepts active
    organizations), its API tokens stop working, and nothing changes on a mismatch.
    """
    _require_owner(actor, "organization.delete")
    org = tenancy.current_organization()
    if (typed_name or "").strip() != org.name.strip():
        raise NameMismatch(
            "The name you typed does not match the organization's name exactly, so nothing "
            "was deleted."
        )
    if org.status != "active":
        raise LifecycleError("Only an active organization can be deleted.")
    org.status = "pending_deletion"
    org.deletion_requested_at = utcnow()
    when = org.deletion_requested_at + grace_period()
    audit.record(
        "organization.deletion_requested",
        actor_id=actor.id,
        target_type="organization",
        target_id=org.id,
        details={"purge_after": when.isoformat()},
    )
    db.session.commit()
    return when


@dataclass(frozen=True)
class PendingDeletion:
    """What the restore page may tell someone who proved who they are."""

    organization_name: str
    purge_after: datetime
    is_owner: bool


def pending_deletion_of(org_id: uuid.UUID) -> PendingDeletion | None:
    """The pending deletion of an organization named by the signed session, if any."""
    with tenancy.tenant_context(org_id):
        org = db.session.get(Organization, org_id)
        when = purge_date(org) if org is not None else None
        result = None if when is None else PendingDeletion(org.name, when, False)
        db.session.rollback()
    return result


def restore_with_credentials(email: str, password: str) -> PendingDeletion:
    """Restore a pending organization for its owner; others learn only the date.

    The organization cannot be signed into while pending, so the owner proves who they are
    here with e-mail and password (looked up through the log-in door, audited).
    """
    from webapp.auth.services import InvalidCredentials, normalise_email, verify_password

    candidate = tenancy.login_lookup(normalise_email(email))
    db.session.rollback()
    if candidate is None or candidate.org_status != "pending_deletion":
        verify_password(None, password)  # the same time whether the account exists or not
        raise InvalidCredentials("No organization awaiting deletion has this e-mail and password.")
    with tenancy.tenant_context(candidate.organization_id):
        user = db.session.get(User, (candidate.organization_id, candidate.user_id))
        if user is None or not verify_password(user.password_hash, password):
            if user is not None:
                audit.record(
                    "organization.restore_refused",
                    actor_id=user.id,
                    target_type="organization",
                    target_id=user.organization_id,
                    details={"reason": "wrong password"},
                )
                db.session.commit()
            raise InvalidCredentials(
                "No organization awaiting deletion has this e-mail and password."
            )
        org = tenancy.current_organization()
        when = purge_date(org)
        assert when is not None  # the door just said it is pending
        if not user.is_active or not allows(user.role, "organization.delete"):
            db.session.rollback()
            return PendingDeletion(org.name, when, False)
        org.status = "active"
        org.deletion_requested_at = None
        audit.record(
            "organization.restored",
            actor_id=user.id,
            target_type="organization",
            target_id=org.id,
            details={"was_due": when.isoformat()},
        )
        db.session.commit()
        return PendingDeletion(org.name, when, True)


def purge_deleted_organizations() -> int:
    """Remove every row of organizations whose grace period ended; platform-audited."""
    grace = grace_period().total_seconds()
    purged = 0
    for org_id in tenancy.organizations_due_for_purge(grace, PURGE_BATCH):
        counts = tenancy.purge_organization(org_id, grace)
        if not counts:  # restored since the door listed it
            db.session.rollback()
            continue
        db.session.add(
            PlatformAuditEvent(
                actor="system:purge",
                action="organization.purged",
                target_type="organization",
                target_id=str(org_id),
                old_value={"rows_deleted": counts},
            )
        )
        db.session.commit()
        purged += 1
        log.info("purged organization %s (%d rows)", org_id, sum(counts.values()))
    return purged
