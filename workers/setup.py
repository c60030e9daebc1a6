"""Celery bound to the Flask app (the flask docs' pattern), plus per-process hygiene."""

from __future__ import annotations

import logging
import resource
import sys

from celery import Celery, signals
from flask import Flask

from workers import metrics as _task_metrics  # noqa: F401 - connects its Celery signals
from workers.base import FlaskTask

log = logging.getLogger(__name__)
# The exit status of a worker that refused to start (EX_CONFIG would be 78; 3 is what
# gunicorn uses for a worker that failed to boot).
REFUSED_EXIT_STATUS = 3


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app from ``app.config["CELERY"]`` and attach it to the Flask app."""
    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.flask_app = app  # type: ignore[attr-defined]
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


@signals.worker_init.connect
def _refuse_unsafe_role(sender: object = None, **_: object) -> None:
    """A worker, like the web app, refuses to start with a role that bypasses RLS.

    It also refuses when the role cannot be checked (the database is unreachable): a worker
    that would serve without the check must not say "ready". Celery logs and swallows an
    exception from a signal handler, so the refusal is a ``SystemExit`` (status 3), which it
    lets through before any task is consumed.
    """
    from celery import current_app as celery_current

    from webapp.tenancy_check import verify_runtime_role

    flask_app = getattr(celery_current, "flask_app", None)
    if flask_app is None or not flask_app.config.get("TENANCY_VERIFY_ROLE", True):
        return
    try:
        verify_runtime_role(flask_app)
    except Exception as exc:  # noqa: BLE001 - an unsafe role and an unknown one both refuse
        log.critical("worker refuses to start: %s", exc)
        print(f"worker refuses to start: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(REFUSED_EXIT_STATUS) from exc


@signals.worker_ready.connect
def _reconcile_on_start(sender: object = None, **_: object) -> None:
    """Ask for a reconciliation as soon as a worker is ready: if Redis lost the parked lists
    and slots (a restart without its data), they are rebuilt from PostgreSQL at once."""
    from celery import current_app as celery_current

    flask_app = getattr(celery_current, "flask_app", None)
    if flask_app is None or not flask_app.config.get("RECONCILE_ON_START", True):
        return
    try:
        celery_current.send_task(
            "workers.tasks.reconcile_documents",
            expires=float(flask_app.config["RECONCILE_INTERVAL"]) * 2,
            ignore_result=True,
        )
    except Exception:  # noqa: BLE001 - beat's next run does the same a few seconds later
        log.warning("could not ask for a reconciliation at start", exc_info=True)


@signals.worker_process_init.connect
def _fresh_connections(**_: object) -> None:
    """Never share the parent's pooled connections with a forked child."""
    from celery import current_app as celery_current

    from webapp.extensions import db

    flask_app = getattr(celery_current, "flask_app", None)
    if flask_app is not None:
        with flask_app.app_context():
            for engine in db.engines.values():  # the tenant role's and the platform role's
                engine.dispose(close=False)


def apply_memory_limit(megabytes: int) -> None:
    """Cap the heap this process may allocate (RLIMIT_DATA: brk and private writable
    mappings); past it an allocation raises ``MemoryError``, which fails the document being
    processed (workers/pipeline.py) and leaves the worker, and the machine, standing.
    Children started from here (Tesseract) inherit the cap. 0 leaves the limit as it is."""
    if megabytes <= 0:
        return
    limit = megabytes * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


@signals.worker_process_init.connect
def _memory_ceiling(**_: object) -> None:
    """Each pool child gets the hard ceiling; Celery replaces a child that grew past
    ``worker_max_memory_per_child`` after its task (both set in webapp/config.py)."""
    from celery import current_app as celery_current

    flask_app = getattr(celery_current, "flask_app", None)
    if flask_app is not None:
        megabytes = int(flask_app.config.get("WORKER_MEMORY_LIMIT_MB") or 0)
        apply_memory_limit(megabytes)
        log.info("worker child memory ceiling: %s MB", megabytes or "none")
