"""Celery tasks. Thin: they take ids, call services, and let the base set the tenant."""

from __future__ import annotations

import os
from typing import Any

from celery import shared_task
from sqlalchemy import func, select

from webapp import audit
from webapp.extensions import db
from webapp.models import AuditEvent, Organization, User
from workers import housekeeping
from workers.base import FlaskTask, TenantTask
from workers.fair_run import fair_process


@shared_task(
    base=TenantTask, name="workers.tasks.process_document", acks_late=True, ignore_result=True
)
def process_document(org_id: str, document_id: str) -> str:
    """Extract, analyse and index one document, within the organization's worker slots."""
    return fair_process(org_id, document_id)


@shared_task(base=FlaskTask, name="workers.tasks.relay_outbox")
def relay_outbox() -> int:
    """Dispatch outbox messages that were never sent (broker down at upload time)."""
    return housekeeping.relay_outbox()


@shared_task(base=FlaskTask, name="workers.tasks.requeue_stuck_documents")
def requeue_stuck_documents() -> int:
    """Re-queue documents stuck in a processing state (a worker died mid-task)."""
    return housekeeping.requeue_stuck()


@shared_task(
    base=TenantTask, name="workers.tasks.export_organization", acks_late=True, ignore_result=True
)
def export_organization(org_id: str, export_id: str) -> str:
    """Build the organization's export zip (JSON of every tenant table, original files)."""
    from workers.export import build_export

    return build_export(export_id)


@shared_task(base=FlaskTask, name="workers.tasks.purge_deleted_organizations")
def purge_deleted_organizations() -> int:
    """Remove organizations whose deletion grace period ended (platform-audited)."""
    from webapp.org.lifecycle import purge_deleted_organizations as purge

    return purge()


@shared_task(base=TenantTask, name="workers.tasks.tenant_census")
def tenant_census(org_id: str, note: str = "") -> dict[str, Any]:
    """Record that a worker ran for the organization, and report what it could see."""
    audit.record(
        "worker.census", target_type="organization", target_id=org_id, details={"note": note}
    )
    db.session.commit()
    return {
        "org_id": org_id,
        "pid": os.getpid(),
        "organizations": [str(i) for i in db.session.scalars(select(Organization.id))],
        "user_orgs": sorted({str(u.organization_id) for u in db.session.scalars(select(User))}),
        "census_events": db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "worker.census")
        ),
    }
