"""gunicorn settings for the one-command run (``webapp/serve.py``) and the image
(``gunicorn -c python:webapp.gunicorn_conf``); command-line flags still override them.

Slow clients must not freeze the server (issue 11 §7): the worker is threaded, so a request
holds a thread rather than a whole process, idle connections hold none, a client gets
``HEADER_TIMEOUT_SECONDS`` (10) to send its headers (``webapp/web_worker.py``) and an idle
kept-alive connection is closed after ``KEEPALIVE_SECONDS`` (5).

Environment: ``WEB_WORKERS`` (2 processes), ``WEB_THREADS`` (8 per process),
``HEADER_TIMEOUT_SECONDS``, ``KEEPALIVE_SECONDS``, ``WEB_TIMEOUT`` (60: a process silent for
that long is restarted).
"""

from __future__ import annotations

import os

worker_class = "webapp.web_worker.HeaderDeadlineWorker"
workers = int(os.environ.get("WEB_WORKERS") or 2)
threads = int(os.environ.get("WEB_THREADS") or 8)
keepalive = int(os.environ.get("KEEPALIVE_SECONDS") or 5)
timeout = int(os.environ.get("WEB_TIMEOUT") or 60)
graceful_timeout = 30
# Request line and headers stay small: nothing of this application needs more.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190


def child_exit(server: object, worker: object) -> None:
    """A web process is gone: prometheus_client stops counting its live gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
