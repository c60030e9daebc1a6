"""Running one document within its organization's worker slots (see workers/fairness.py)."""

from __future__ import annotations

import logging
import time
import uuid

from sqlalchemy import and_, select

from webapp import tenancy
from webapp.documents import services
from webapp.extensions import db
from webapp.models import Document, Organization
from workers import pipeline
from workers.fairness import fairness

log = logging.getLogger(__name__)

# Outcomes after which the document no longer needs its slot. Any other ending ("lost": another
# worker holds its lease; an exception: the task retries) leaves the slot where it is.
FINAL = frozenset({"done", "failed", "missing", "suspended"})


def fair_process(org_id: str, document_id: str, owner: str | None = None) -> str:
    """Process a document in its slot, then hand the slot to the organization's next one.

    A suspended organization's document is left ``queued`` (returns ``"suspended"``). A
    transient error (the task retries) or another run's live lease (``pipeline.LeaseHeld``:
    that run keeps the slot) propagates, the slot left where it is.
    """
    outcome = "error"
    plan_id = None
    took: float | None = None  # seconds the pipeline worked on it (the load counters)
    try:
        # Read once: the status decides whether to process, the plan which queue the
        # organization's next document goes to.
        org, document = _organization_and_document(document_id)
        plan_id = org.plan_id
        if org.status == "suspended":
            # Not processed: it stays ``queued``. Its slot is handed on below, so the
            # organization's parked documents drain through here too; reactivation
            # (webapp/admin/services.py) dispatches every queued document again.
            log.info("organization %s is suspended; document %s waits", org_id, document_id)
            outcome = "suspended"
        elif document is None:
            outcome = "missing"  # deleted since it was queued (or never existed)
        else:
            started = time.monotonic()
            outcome = pipeline.process(document_id, owner)  # finds ``document`` in the session
            if outcome in ("done", "failed"):
                took = time.monotonic() - started
        return outcome
    finally:
        if outcome in FINAL:
            _hand_on(org_id, plan_id, document_id, took)


def _hand_on(org_id: str, plan_id: str | None, document_id: str, took: float | None = None) -> None:
    """Free the document's slot and publish the parked document it goes to, if any."""
    slots = fairness()
    try:
        parked = slots.finish(org_id, document_id, took)
    except Exception:  # noqa: BLE001 - the slot expires; the reconciler wakes the next one
        log.warning("could not free the worker slot of %s", document_id, exc_info=True)
        return
    if not parked:
        return
    try:
        if plan_id is None:  # the organization could not be read: the reconciler sends it
            raise LookupError("no plan to choose the queue by")
        services.publish(services.PROCESS_TASK, org_id, plan_id, parked)
    except Exception:  # noqa: BLE001 - broker down: first in line again, for the reconciler
        log.warning("could not publish %s; it waits for the reconciler", parked, exc_info=True)
        try:
            slots.unpublished(org_id, parked)
        except Exception:  # noqa: BLE001
            log.warning("could not put %s back in line", parked, exc_info=True)


def _organization_and_document(document_id: str) -> tuple[Organization, Document | None]:
    """The organization in context and its document (None if gone), in one statement.

    While the caller holds the document, the pipeline's own lookup finds it in the session
    (whose identity map keeps only referenced objects) without a query: one round trip per
    task instead of two.
    """
    try:
        key: uuid.UUID | None = uuid.UUID(document_id)
    except ValueError:
        key = None  # matches no document: the task reports it missing
    org_id = tenancy.require_org_id()
    row = db.session.execute(
        select(Organization, Document)
        .outerjoin(Document, and_(Document.organization_id == Organization.id, Document.id == key))
        .where(Organization.id == org_id)
    ).first()
    if row is None:  # RLS would hide it only if the database context were wrong
        raise tenancy.TenantContextMissing("the organization in context is not visible")
    return row[0], row[1]
