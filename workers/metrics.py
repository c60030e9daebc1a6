"""The worker side of operations: task metrics, task log context, heartbeats, JSON logs.

- **Request ids travel with tasks.** A task published while a web request is handled carries
  that request's id in the message header ``pmdi_request_id``; the worker sets it as the
  request id of every log line the task writes, so an upload and its processing share one id.
  Tasks published by housekeeping (relay, reaper) or handed on by another task (a parked
  document) carry none: their lines name the task id instead of pretending to a request.
- **Task metrics**: ``pmdi_task_duration_seconds`` by task name, plan and outcome (Celery's
  state, lower-cased). The plan is the one whose queue the message came through (documents go
  to one queue per plan); other tasks say ``none``. No organization id, ever.
- **Heartbeats** (workers/heartbeat.py) from each worker's main process and from beat.
- **JSON logs**: with ``LOG_FORMAT=json`` Celery's own handlers get the JSON format too.
- ``WORKER_METRICS_PORT``: the worker's main process serves its metrics there (all its pool
  processes', through ``PROMETHEUS_MULTIPROC_DIR``), for when it does not share that
  directory with a web process (its own container).
"""

from __future__ import annotations

import logging
import time
from contextvars import Token
from typing import Any

from celery import current_app as celery_current
from celery import signals
from flask import g, has_request_context

from webapp import logs, metrics
from workers import heartbeat

HEADER = "pmdi_request_id"
task_log = logging.getLogger("pmdi.task")

# Per task id in this process: start time, the request-id token to reset, org id.
_running: dict[str, tuple[float, Token, str | None]] = {}
_heartbeats: list[heartbeat.Heartbeat] = []


def _flask_config() -> dict[str, Any] | None:
    flask_app = getattr(celery_current, "flask_app", None)
    return None if flask_app is None else flask_app.config


@signals.before_task_publish.connect
def _carry_request_id(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """Put the current web request's id into the task message."""
    if headers is not None and has_request_context():
        rid = g.get("request_id")
        if rid:
            headers[HEADER] = rid


def _plan_of(task: Any) -> str:
    """The plan whose queue delivered the task (``<prefix>-<plan>``), else ``none``."""
    config = _flask_config()
    queue = (getattr(task.request, "delivery_info", None) or {}).get("routing_key") or ""
    prefix = f"{config['DOCUMENT_QUEUE_PREFIX']}-" if config else "docs-"
    return queue.removeprefix(prefix) if queue.startswith(prefix) else "none"


def _org_of(task: Any, args: Any, kwargs: Any) -> str | None:
    from workers.base import TenantTask

    if not isinstance(task, TenantTask):
        return None
    if args:
        return str(args[0])
    return str((kwargs or {}).get("org_id")) if kwargs else None


@signals.task_prerun.connect
def _task_started(
    task_id: str | None = None, task: Any = None, args: Any = None, kwargs: Any = None, **_: Any
) -> None:
    """Adopt the publishing request's id (else the task's) for the task's log lines."""
    if task_id is None or task is None:
        return
    rid = getattr(task.request, HEADER, None) or None
    token = logs.request_id_var.set(rid or f"task-{task_id}")
    org_id = _org_of(task, args, kwargs)
    _running[task_id] = (time.perf_counter(), token, org_id)
    task_log.info(
        "task %s started",
        task.name,
        extra={"task": task.name, "task_id": task_id, "organization_id": org_id},
    )


@signals.task_postrun.connect
def _task_finished(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    """Measure the task, write its closing line, and forget its request id."""
    started = _running.pop(task_id or "", None)
    if started is None or task is None:
        return
    began, token, org_id = started
    elapsed = time.perf_counter() - began
    outcome = (state or "unknown").lower()
    plan = _plan_of(task)
    metrics.TASKS.labels(task.name, plan, outcome).observe(elapsed)
    task_log.info(
        "task %s %s",
        task.name,
        outcome,
        extra={
            "task": task.name,
            "task_id": task_id,
            "organization_id": org_id,
            "plan": plan,
            "outcome": outcome,
            "duration_ms": round(elapsed * 1000, 3),
        },
    )
    logs.request_id_var.reset(token)


def _json_handlers(logger: logging.Logger | None = None, **_: Any) -> None:
    config = _flask_config()
    if logger is None or config is None or config.get("LOG_FORMAT") != "json":
        return
    for handler in logger.handlers:
        logs.use_json(handler)


signals.after_setup_logger.connect(_json_handlers, weak=False)
signals.after_setup_task_logger.connect(_json_handlers, weak=False)


def _start_heartbeat(kind: str) -> None:
    config = _flask_config()
    if config is None:
        return
    _heartbeats.append(
        heartbeat.start(
            config["REDIS_URL"],
            kind,
            config["WORKER_HEARTBEAT_KEY"],
            float(config["READY_WORKER_HEARTBEAT_SECONDS"]),
        )
    )


@signals.worker_ready.connect
def _worker_ready(**_: Any) -> None:
    """The worker consumes: beat, and serve metrics if asked to."""
    _start_heartbeat("worker")
    config = _flask_config() or {}
    port = config.get("WORKER_METRICS_PORT")
    if port:
        from prometheus_client import start_http_server

        start_http_server(int(port), registry=metrics.registry_for_scrape())


@signals.beat_init.connect
def _beat_started(**_: Any) -> None:
    _start_heartbeat("beat")


@signals.worker_shutdown.connect
def _worker_stopping(**_: Any) -> None:
    """Stop beating and withdraw, so /readyz sees at once that this worker is gone."""
    while _heartbeats:
        _heartbeats.pop().stop()
