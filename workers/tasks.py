"""Celery tasks. Thin: they take ids, call services, and let the base set the tenant."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from celery import Task, shared_task
from celery.exceptions import Ignore, Reject
from celery.utils.log import get_task_logger
from sqlalchemy import func, select

from webapp import audit
from webapp.extensions import db
from webapp.models import AuditEvent, Organization, User
from workers import housekeeping, leases, pipeline, reconcile, transient
from workers.base import FlaskTask, TenantTask
from workers.fair_run import fair_process
from workers.fairness import fairness

log = get_task_logger(__name__)
T = TypeVar("T")


@shared_task(
    base=TenantTask,
    bind=True,
    name="workers.tasks.process_document",
    acks_late=True,
    ignore_result=True,
    max_retries=None,  # counted by retry_later against TRANSIENT_RETRY_LIMIT
)
def process_document(self: Task, org_id: str, document_id: str) -> str:
    """Extract, analyse and index one document, within the organization's worker slots.

    Passing trouble (database or Redis unavailable) is retried with backoff, the slot kept;
    only the document's own fault fails it.
    """
    try:
        owner = leases.new_owner(self.request.id, self.request.retries)
        return fair_process(org_id, document_id, owner)
    except pipeline.LeaseHeld as held:
        # Another run holds the document: a live worker (this message is a duplicate the
        # broker redelivered) or a dead one whose lease has not expired yet. Either way the
        # message is dropped, the slot left alone: the live worker finishes, or the
        # reconciler sends the document again once the lease expires.
        log.info("document %s: %s; message dropped", document_id, held)
        raise Ignore() from held
    except Exception as exc:
        if not transient.is_transient(exc):
            raise
        raise retry_later(self, org_id, document_id, exc) from exc


def retry_later(task: Task, org_id: str, document_id: str, exc: BaseException) -> BaseException:
    """The exception that makes Celery run the task again later (it must be raised).

    The slot is kept for the wait, and the retry (a later run of the same task) takes back
    the lease this run may hold (workers/leases.py). Past ``TRANSIENT_RETRY_LIMIT`` retries
    the message is dropped: the document is still ``queued`` or leased in PostgreSQL, and the
    reconciler sends it again once its lease expires. A retry that cannot be published (the
    broker is the trouble) puts the message back instead of dropping it, as Celery would.
    """
    config = task.app.flask_app.config  # type: ignore[attr-defined]
    retries = task.request.retries
    if retries >= config["TRANSIENT_RETRY_LIMIT"]:
        log.error("document %s: giving up after %d retries (%r)", document_id, retries, exc)
        return Ignore()
    countdown = transient.backoff(
        retries, config["RETRY_BACKOFF_SECONDS"], config["RETRY_BACKOFF_MAX"]
    )
    log.warning("document %s: retry %d in %.1f s (%r)", document_id, retries + 1, countdown, exc)
    try:
        fairness().hold(org_id, document_id, countdown + config["LEASE_SECONDS"])
    except Exception:  # noqa: BLE001 - Redis may be the trouble; the slot is a courtesy
        pass
    try:
        return task.retry(countdown=countdown, exc=exc, throw=False)
    except Reject:
        # Celery rejects without requeue when it cannot publish the retry; requeue instead
        # (or, with Redis gone, leave it unacknowledged: it comes back after the visibility
        # timeout).
        return Reject(exc, requeue=True)


@shared_task(base=FlaskTask, name="workers.tasks.relay_outbox")
def relay_outbox() -> int | None:
    """Dispatch outbox messages that were never sent (broker down at upload time)."""
    return _housekeeping("outbox relay", housekeeping.relay_outbox)


@shared_task(base=FlaskTask, name="workers.tasks.reconcile_documents")
def reconcile_documents() -> dict[str, int] | None:
    """Bring Redis and the queues back in line with PostgreSQL (see workers/reconcile.py)."""
    return _housekeeping("reconciler", reconcile.reconcile)


def _housekeeping(name: str, run: Callable[[], T]) -> T | None:
    """Run a periodic task; while a service is down, a warning line, not a traceback every
    few seconds (the next run comes soon and does the work)."""
    try:
        return run()
    except Exception as exc:
        if not transient.is_transient(exc):
            raise
        transient.rollback_quietly()
        log.warning("%s skipped: %s", name, exc.__class__.__name__)
        return None


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


@shared_task(base=FlaskTask, name="workers.tasks.purge_trash")
def purge_trash() -> int:
    """Delete for good the documents whose grace period in the trash ended, freeing storage."""
    from webapp.documents.trash import purge_due

    return purge_due()


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


@shared_task(
    base=TenantTask,
    bind=True,
    name="workers.tasks.deliver_notifications",
    acks_late=True,
    ignore_result=True,
    max_retries=None,
)
def deliver_notifications(self: Task, org_id: str) -> None:
    """Mail the organization's pending notifications within its mail budget; over it, wait
    for the next window (a retry), so other organizations' mail is never held up."""
    from webapp.workspace import notify

    notify.delivery_started(org_id)  # before reading: a later notification asks again
    wait = notify.deliver_pending()
    if wait > 0:
        notify.delivery_waits(org_id, wait)
        raise self.retry(countdown=wait)


@shared_task(
    base=FlaskTask,
    bind=True,
    name="workers.tasks.send_password_reset",
    acks_late=True,
    ignore_result=True,
    max_retries=None,  # counted against TRANSIENT_RETRY_LIMIT below
)
def send_password_reset(self: Task, email: str, ip: str | None) -> bool:
    """Look the address up and mail a reset link if it has an active account: the forgot-
    password request only publishes this, so its answer and time are the same for any address
    (webapp/auth/account_links.py). A passing fault (database down) is retried with backoff."""
    from webapp.auth import account_links

    try:
        return account_links.send_password_reset(email, ip)
    except Exception as exc:
        config = self.app.flask_app.config  # type: ignore[attr-defined]
        if (
            not transient.is_transient(exc)
            or self.request.retries >= config["TRANSIENT_RETRY_LIMIT"]
        ):
            raise
        transient.rollback_quietly()
        countdown = transient.backoff(
            self.request.retries, config["RETRY_BACKOFF_SECONDS"], config["RETRY_BACKOFF_MAX"]
        )
        log.warning("password reset mail: retry in %.1f s (%r)", countdown, exc)
        raise self.retry(countdown=countdown, exc=exc) from exc


@shared_task(base=FlaskTask, name="workers.tasks.overdue_digests")
def overdue_digests() -> int | None:
    """Beat: ask each organization with overdue owned actions for its daily digest."""
    from workers import workspace

    return _housekeeping("overdue digests", workspace.publish_overdue_digests)


@shared_task(base=TenantTask, name="workers.tasks.overdue_digest", ignore_result=True)
def overdue_digest(org_id: str) -> int:
    """One organization's daily digest of overdue actions (once a day per member)."""
    from workers import workspace

    return workspace.overdue_digest()
