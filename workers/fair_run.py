"""Running one document within its organization's worker slots."""

from __future__ import annotations

import logging

from webapp.documents import services
from webapp.plans import effective_limit
from workers import pipeline
from workers.fairness import fairness

log = logging.getLogger(__name__)


def fair_process(org_id: str, document_id: str, task_id: str) -> str:
    """Process a document if the organization has a free slot, else park it for later.

    Redis trouble fails open: the document is processed without a slot (logged), since
    fairness is a courtesy between tenants while losing work is not acceptable.
    """
    org = services.current_organization()
    limit = int(effective_limit(org, "worker_slots"))
    slots = fairness()
    try:
        if not slots.acquire_or_park(org_id, limit, task_id, document_id):
            return "waiting"
    except Exception:  # noqa: BLE001 - fail open
        log.warning(
            "worker slots unavailable; processing %s without one", document_id, exc_info=True
        )
        return pipeline.process(document_id)
    try:
        return pipeline.process(document_id)
    finally:
        try:
            parked = slots.release(org_id, task_id)
        except Exception:  # noqa: BLE001 - the slot expires by itself
            log.warning("could not release worker slot %s", task_id, exc_info=True)
            parked = None
        if parked:
            services.send_task(services.PROCESS_TASK, org.id, parked)
