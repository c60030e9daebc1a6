"""Celery bound to the Flask app (the flask docs' pattern), plus per-process hygiene."""

from __future__ import annotations

from celery import Celery, signals
from flask import Flask

from workers import metrics as _task_metrics  # noqa: F401 - connects its Celery signals
from workers.base import FlaskTask


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
    """A worker, like the web app, refuses to start with a role that bypasses RLS."""
    from celery import current_app as celery_current

    from webapp.tenancy_check import verify_runtime_role

    flask_app = getattr(celery_current, "flask_app", None)
    if flask_app is not None and flask_app.config.get("TENANCY_VERIFY_ROLE", True):
        verify_runtime_role(flask_app)


@signals.worker_process_init.connect
def _fresh_connections(**_: object) -> None:
    """Never share the parent's pooled connections with a forked child."""
    from celery import current_app as celery_current

    from webapp.extensions import db

    flask_app = getattr(celery_current, "flask_app", None)
    if flask_app is not None:
        with flask_app.app_context():
            db.engine.dispose(close=False)
