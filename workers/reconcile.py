"""The reconciler: brings Redis and the queues back in line with PostgreSQL, every few seconds.

PostgreSQL is the source of truth (DESIGN.md §6); Redis holds only what can be rebuilt from
it. Each run, under a Redis lock so overlapping runs never act twice:

1. documents whose lease expired (their worker died) go back to ``queued`` and are sent again,
   or fail after ``MAX_PROCESSING_ATTEMPTS`` real attempts;
2. for each active organization with documents waiting, slots freed by dead workers go to its
   parked documents (``wake``), and when PostgreSQL counts more waiting or running documents
   than Redis tracks (Redis restarted without its data, say), the missing ones are tracked
   again in order (``rebuild``). A document merely waiting its turn is never sent again.

Both steps learn the pairs through door functions reading small partial indexes, so a run
with nothing to do costs two index scans and a Redis command per waiting organization.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from flask import current_app
from sqlalchemy import case, select

from webapp import audit, tenancy
from webapp.documents import services
from webapp.extensions import db
from webapp.models import ACTIVE_STATUSES, Document, utcnow
from webapp.tenancy import WaitingOrganization
from workers.fairness import fairness

log = logging.getLogger(__name__)
BATCH = 500
LOCK_KEY = "reconcile:lock"
LEGACY_LEASE = timedelta(minutes=10)
# Deletes the lock only if this run still owns it (it may have expired and been taken).
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def reconcile() -> dict[str, int]:
    """One reconciliation run; returns what it did (``skipped``: another run holds the lock)."""
    config = current_app.config
    client = fairness().client
    token = uuid.uuid4().hex
    try:
        lock_ms = int(config["RECONCILE_LOCK_SECONDS"] * 1000)
        locked = client.set(LOCK_KEY, token, nx=True, px=lock_ms)
    except Exception:  # noqa: BLE001 - without Redis there is no slot or queue to reconcile
        log.warning("reconciler: Redis unavailable; skipping this run", exc_info=True)
        return {"skipped": 1}
    if not locked:
        return {"skipped": 1}
    try:
        counts = {"requeued": 0, "abandoned": 0, "woken": 0, "rebuilt": 0}
        for org_id, document_id in tenancy.expired_leases(BATCH):
            outcome = _requeue_expired(org_id, document_id)
            if outcome:
                counts[outcome] += 1
        settled = float(config["RECONCILE_SETTLE_SECONDS"])
        for waiting in tenancy.waiting_organizations(settled, BATCH):
            woken, rebuilt = _reconcile_organization(waiting, settled)
            counts["woken"] += woken
            counts["rebuilt"] += rebuilt
        if any(counts.values()):
            log.info("reconciler: %s", counts)
        return counts
    finally:
        try:
            client.eval(_UNLOCK, 1, LOCK_KEY, token)
        except Exception:  # noqa: BLE001 - it expires by itself
            log.warning("reconciler: could not release its lock", exc_info=True)


def _requeue_expired(org_id: uuid.UUID, document_id: uuid.UUID) -> str | None:
    """Send again (or give up on) a document whose worker stopped renewing its lease."""
    config = current_app.config
    with tenancy.tenant_context(org_id):
        # SKIP LOCKED: a document a worker is writing right now is not this run's business.
        document = db.session.scalar(
            select(Document)
            .where(Document.id == document_id, Document.status.in_(ACTIVE_STATUSES))
            .with_for_update(skip_locked=True)
        )
        now = utcnow()
        # A document with no lease (from before leases) expires ten minutes after its update.
        expires = document and (document.lease_expires_at or document.updated_at + LEGACY_LEASE)
        if document is None or document.status == "queued" or expires > now:
            db.session.rollback()  # taken, renewed or settled since the door looked
            return None
        document.lease_owner = document.lease_expires_at = None
        document.updated_at = now
        if document.attempts >= config["MAX_PROCESSING_ATTEMPTS"]:
            document.status = "failed"
            document.error = (
                "Processing was interrupted several times and has been stopped. "
                "Use Reprocess to try again."
            )
            audit.record("document.abandoned", target_type="document", target_id=document.id)
            db.session.commit()
            _forget(org_id, document_id)
            return "abandoned"
        details = {"status": document.status, "attempts": document.attempts}
        document.status, document.progress = "queued", 0
        message = services.enqueue_processing(document)
        audit.record(
            "document.requeued", target_type="document", target_id=document.id, details=details
        )
        db.session.commit()
        _forget(org_id, document_id)
        services.dispatch(message)  # admitted or parked; the relay sends it if the broker is down
        return "requeued"


def _forget(org_id: uuid.UUID, document_id: uuid.UUID) -> None:
    """Drop the dead worker's slot at once, rather than when it expires."""
    try:
        fairness().release(str(org_id), str(document_id))
    except Exception:  # noqa: BLE001 - it expires by itself
        log.warning("reconciler: could not release the slot of %s", document_id, exc_info=True)


def _reconcile_organization(waiting: WaitingOrganization, settled: float) -> tuple[int, int]:
    """Wake parked documents into free slots; rebuild what Redis lost. (woken, rebuilt).

    Nothing here reads PostgreSQL unless Redis tracks fewer documents than it counts.
    """
    slots = fairness()
    key = str(waiting.id)
    woken, tracked = slots.wake(key, waiting.worker_slots)
    rebuilt: list[str] = []
    if waiting.queued + waiting.running > tracked:
        with tenancy.tenant_context(waiting.id):
            running_ids, queued_ids = _waiting_documents(settled)
        rebuilt = slots.rebuild(key, waiting.worker_slots, running_ids, queued_ids)
        log.info(
            "reconciler: organization %s had %d waiting and %d running, Redis tracked %d",
            waiting.id,
            waiting.queued,
            waiting.running,
            tracked,
        )
    for document_id in [*woken, *rebuilt]:
        try:
            services.publish(services.PROCESS_TASK, waiting.id, waiting.plan_id, document_id)
        except Exception:  # noqa: BLE001 - first in line again for the next run
            log.warning("reconciler: could not publish %s", document_id, exc_info=True)
            slots.unpublished(key, document_id)
    return len(woken), len(rebuilt)


def _waiting_documents(settled: float) -> tuple[list[str], list[str]]:
    """Ids of the organization's running documents, and of its settled queued ones, in order."""
    limit = int(current_app.config["RECONCILE_REBUILD_BATCH"])
    cutoff = utcnow() - timedelta(seconds=settled)
    rows = db.session.execute(
        select(Document.id, Document.status)
        .where(
            Document.status.in_(ACTIVE_STATUSES),
            (Document.status != "queued") | (Document.updated_at < cutoff),
        )
        .order_by(case((Document.status == "queued", 1), else_=0), Document.created_at)
        .limit(limit)
    ).all()
    db.session.rollback()
    running = [str(i) for i, status in rows if status != "queued"]
    queued = [str(i) for i, status in rows if status == "queued"]
    return running, queued
