"""Platform-wide housekeeping: the outbox relay and the reaper of stuck documents.

Each learns through a door function only which (organization, id) pairs need work, then acts
on every pair inside that organization's context, and audits what it did there.
"""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import select

from webapp import audit, tenancy
from webapp.documents import services
from webapp.extensions import db
from webapp.models import ACTIVE_STATUSES, Document, OutboxMessage, utcnow

log = logging.getLogger(__name__)
BATCH = 500


def relay_outbox() -> int:
    """Send outbox messages older than a few seconds that were never dispatched."""
    sent = 0
    pending = tenancy.pending_outbox(current_app.config["OUTBOX_RELAY_AFTER"], BATCH)
    for org_id, message_id in pending:
        with tenancy.tenant_context(org_id):
            message = db.session.get(OutboxMessage, (org_id, message_id))
            if message is None or message.dispatched_at is not None:
                continue
            if services.dispatch(message):
                sent += 1
                audit.record(
                    "outbox.relayed",
                    target_type="outbox",
                    target_id=message_id,
                    details={"task": message.task},
                )
                db.session.commit()
    if pending:
        log.info("outbox relay: %d of %d pending messages sent", sent, len(pending))
    return sent


def requeue_stuck() -> int:
    """Re-queue documents whose processing stalled; fail them after too many attempts."""
    config = current_app.config
    requeued = 0
    for org_id, document_id in tenancy.stuck_documents(config["STUCK_DOCUMENT_AFTER"], BATCH):
        with tenancy.tenant_context(org_id):
            document = db.session.scalar(
                select(Document).where(Document.id == document_id).with_for_update()
            )
            if document is None or document.status not in ACTIVE_STATUSES:
                db.session.rollback()
                continue
            if tenancy.current_organization().status != "active":
                # Suspended or awaiting deletion: its documents wait for reactivation, which
                # re-sends them (webapp/admin/services.py); nothing to do, nothing to audit.
                db.session.rollback()
                continue
            if document.attempts >= config["MAX_PROCESSING_ATTEMPTS"]:
                document.status = "failed"
                document.error = (
                    "Processing was interrupted several times and has been stopped. "
                    "Use Reprocess to try again."
                )
                document.updated_at = utcnow()
                audit.record("document.abandoned", target_type="document", target_id=document.id)
                db.session.commit()
                continue
            document.updated_at = utcnow()
            message = services.enqueue_processing(document)
            audit.record(
                "document.requeued",
                target_type="document",
                target_id=document.id,
                details={"status": document.status, "attempts": document.attempts},
            )
            db.session.commit()
            services.dispatch(message)
            requeued += 1
    return requeued
