"""Platform-wide housekeeping: the outbox relay (the reconciler is workers/reconcile.py).

It learns through a door function only which (organization, id) pairs need work, then acts
on every pair inside that organization's context, and audits what it did there.
"""

from __future__ import annotations

import logging

from flask import current_app

from webapp import audit, tenancy
from webapp.documents import services
from webapp.extensions import db
from webapp.models import OutboxMessage

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
