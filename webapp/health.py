"""Health for operators and orchestrators: ``/healthz``, ``/readyz``, and the door to ``/metrics``.

- ``/healthz``: the process answers. No I/O at all.
- ``/readyz``: the process can do its work: PostgreSQL answers as the runtime role and its
  schema is at the migrations' head, Redis and the Celery broker answer, and at least one
  worker wrote its heartbeat (workers/heartbeat.py) within ``READY_WORKER_HEARTBEAT_SECONDS``.
  200 when all hold, else 503; the body names each component ``ok`` or ``failing`` and nothing
  else (no error text, no host, no tenant).

Both are answered by ``OperatorDoor``, a WSGI middleware ahead of everything else: no session,
no identity, no rate limit, no request metrics, no access log line — an orchestrator polling
every few seconds costs a few milliseconds and never spends anybody's allowance. Each probe
has its own connections with short timeouts (``READY_TIMEOUT_SECONDS``), so a dead service
answers "failing" within about that long instead of hanging the probe, and never takes a
connection from the application's pools.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import Flask
from kombu import Connection
from sqlalchemy.engine import Engine
from werkzeug.wrappers import Response

from webapp import metrics
from webapp.database import connect_args
from webapp.redis_client import redis_from_url

log = logging.getLogger(__name__)

ALEMBIC_VERSION = sa.table("alembic_version", sa.column("version_num"))


class Readiness:
    """The probes of one app, each on connections of its own."""

    def __init__(self, app: Flask) -> None:
        config = app.config
        self.timeout = float(config["READY_TIMEOUT_SECONDS"])
        self.heartbeat_seconds = float(config["READY_WORKER_HEARTBEAT_SECONDS"])
        self.heartbeat_key = config["WORKER_HEARTBEAT_KEY"]
        self.database_url = config["SQLALCHEMY_DATABASE_URI"]
        self.connect_extra = connect_args(config)
        self.migrations = app.extensions["migrate"].directory
        self.redis = redis_from_url(
            config["REDIS_URL"], socket_timeout=self.timeout, socket_connect_timeout=self.timeout
        )
        self.broker_url = config["CELERY"]["broker_url"]
        self.broker_options = config["CELERY"].get("broker_transport_options", {})
        self.broker_redis = metrics._broker_client(config)
        self._engine: Engine | None = None
        self._head: str | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        """One pooled connection as the runtime role, made on first use (not at start-up)."""
        with self._lock:
            if self._engine is None:
                self._engine = sa.create_engine(
                    self.database_url,
                    pool_size=1,
                    max_overflow=0,
                    pool_timeout=self.timeout,
                    connect_args={
                        "connect_timeout": max(1, round(self.timeout)),
                        "options": f"-c statement_timeout={int(self.timeout * 1000)}",
                        **self.connect_extra,
                    },
                )
            return self._engine

    def close(self) -> None:
        """Close the probe's database connection (the app is going away)."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()

    @property
    def head(self) -> str | None:
        """The migrations' head revision, read from the scripts once."""
        if self._head is None:
            from alembic.config import Config

            config = Config()
            config.set_main_option("script_location", self.migrations)
            self._head = ScriptDirectory.from_config(config).get_current_head()
        return self._head

    def postgres(self) -> bool:
        """The runtime role connects and reads the schema's revision (it must be the head)."""
        with self.engine.connect() as connection:
            version = connection.execute(sa.select(ALEMBIC_VERSION.c.version_num)).scalar()
        return version == self.head

    def redis_answers(self) -> bool:
        """Redis (rate limits, worker slots, heartbeats) answers a PING."""
        return bool(self.redis.ping())

    def broker(self) -> bool:
        """The Celery broker answers: a PING on Redis, else a connection it accepts."""
        if self.broker_redis is not None:
            return bool(self.broker_redis.ping())
        with Connection(
            self.broker_url,
            connect_timeout=self.timeout,
            transport_options=self.broker_options,
        ) as connection:
            connection.ensure_connection(max_retries=1, timeout=self.timeout)
        return True

    def workers(self) -> bool:
        """Some worker's heartbeat is fresher than ``READY_WORKER_HEARTBEAT_SECONDS``."""
        newest = self.redis.zrevrange(self.heartbeat_key, 0, 0, withscores=True)
        return bool(newest) and time.time() - newest[0][1] <= self.heartbeat_seconds

    def check(self) -> dict[str, bool]:
        """Every component's state; a probe that raises counts as failing (logged, once)."""
        probes: dict[str, Callable[[], bool]] = {
            "postgres": self.postgres,
            "redis": self.redis_answers,
            "broker": self.broker,
            "workers": self.workers,
        }
        states = {}
        for name, probe in probes.items():
            try:
                states[name] = probe()
            except Exception as exc:  # noqa: BLE001 - a failing service is an answer, not an error
                log.debug("readiness probe %s failed: %s", name, exc)
                states[name] = False
        return states


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(
        json.dumps(body),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def healthz() -> Response:
    """The process answers."""
    return _json(200, {"status": "ok"})


def readyz(readiness: Readiness) -> Response:
    """200 with every component ok, else 503; components only, never why or where."""
    states = readiness.check()
    ready = all(states.values())
    body = {
        "status": "ready" if ready else "unready",
        "components": {name: "ok" if ok else "failing" for name, ok in states.items()},
    }
    return _json(200 if ready else 503, body)


class OperatorDoor:
    """WSGI middleware answering ``/healthz``, ``/readyz`` and ``/metrics`` before the app.

    ``/metrics`` asked without the right credentials falls through to the app, whose answer
    is its ordinary 404: the path does not exist for anyone else.
    """

    def __init__(self, wsgi_app: Callable[..., Any], app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        self.readiness = Readiness(app)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") in {"GET", "HEAD"}:
            if path == "/healthz":
                return healthz()(environ, start_response)
            if path == "/readyz":
                return readyz(self.readiness)(environ, start_response)
            if path == "/metrics" and metrics.allowed(self.app.config, environ):
                return metrics.metrics_response(self.app)(environ, start_response)
        return self.wsgi_app(environ, start_response)


def init_app(app: Flask) -> None:
    """Put the operator door in front of the app (call it last: it must be outermost)."""
    app.wsgi_app = OperatorDoor(app.wsgi_app, app)  # type: ignore[method-assign]
    app.extensions["readiness"] = app.wsgi_app.readiness  # type: ignore[attr-defined]
