"""Running one document within its organization's worker slots (see workers/fairness.py)."""

from __future__ import annotations

import logging

from webapp import tenancy
from webapp.documents import services
from workers import pipeline
from workers.fairness import fairness

log = logging.getLogger(__name__)


def fair_process(org_id: str, document_id: str) -> str:
    """Process a document in its slot, then hand the slot to the organization's next one.

    A suspended organization's document is left ``queued`` (returns ``"suspended"``).
    """
    slots = fairness()
    try:
        slots.started(org_id, document_id)
    except Exception:  # noqa: BLE001 - fairness is a courtesy; the work must go on
        log.warning("worker slots unavailable while starting %s", document_id, exc_info=True)
    plan_id = None
    try:
        # Read once, before the pipeline's commits expire it: the status decides whether to
        # process, the plan which queue the organization's next document goes to.
        org = tenancy.current_organization()
        plan_id = org.plan_id
        if org.status == "suspended":
            # Not processed: it stays ``queued``. Its slot is handed on below, so the
            # organization's parked documents drain through here too; reactivation
            # (webapp/admin/services.py) dispatches every queued document again.
            log.info("organization %s is suspended; document %s waits", org_id, document_id)
            return "suspended"
        return pipeline.process(document_id)
    finally:
        try:
            parked = slots.finish(org_id, document_id)
        except Exception:  # noqa: BLE001 - the slot expires by itself
            log.warning("could not free the worker slot of %s", document_id, exc_info=True)
            parked = None
        if parked and plan_id is not None:  # (else the reaper re-queues it if still queued)
            services.publish(services.PROCESS_TASK, org_id, plan_id, parked)
