"""Prometheus metrics (prometheus_client), served on ``/metrics`` to operators only.

**What is measured.** Requests by route template, method, status and plan (a latency
histogram, whose ``_count`` is the request count); rate-limit checks by plan, window and
outcome; fail-open events; uploads accepted or refused by reason; quota refusals; tasks by
name, plan and outcome with their durations (workers/metrics.py); and, computed when scraped,
the depth of each plan's queue, the outbox backlog and its age, and stuck documents.

**No organization id is ever a label**: there may be any number of organizations, and every
label value is a time series of its own. Labels take their values from small fixed sets
(plans, route templates, window names, refusal codes). Per-organization figures belong to the
platform admins' load view, not here.

**Several processes.** gunicorn runs several web processes and Celery several worker
processes; with ``PROMETHEUS_MULTIPROC_DIR`` set (the one-command run sets it) prometheus_client
keeps each process's values in files there, and a scrape adds them up
(``MultiProcessCollector``), so any one process answers for all of them, the workers too when
they share the directory. Without it (tests, a single process) the process's own registry is
served.

**Who may read it.** With ``METRICS_TOKEN`` set only ``Authorization: Bearer <token>`` gets the
figures; anything else gets the application's ordinary 404, as for a path that does not exist.
Without a token only loopback clients are answered.
"""

from __future__ import annotations

import hmac
import logging
import math
import os
from bisect import bisect_left
from collections.abc import Callable
from typing import Any

import redis
import sqlalchemy as sa
from flask import Flask
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from werkzeug.wrappers import Response

log = logging.getLogger(__name__)

# Latency buckets for requests and tasks: a list page takes milliseconds, a large document
# minutes (its soft limit is DOCUMENT_TIME_LIMIT).
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TASK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

REQUESTS = Histogram(
    "pmdi_http_request_duration_seconds",
    "Requests by route template, method, status and plan, and how long they took.",
    ["route", "method", "status", "plan"],
    buckets=REQUEST_BUCKETS,
)
RATE_LIMIT_CHECKS = Counter(
    "pmdi_ratelimit_checks_total",
    "Rate-limit checks by plan, the window that decided and the outcome.",
    ["plan", "window", "outcome"],
)
FAIL_OPEN = Counter(
    "pmdi_ratelimit_fail_open_total",
    "Rate-limit checks admitted because Redis did not answer.",
)
UPLOADS = Counter(
    "pmdi_uploads_total",
    "Uploaded files by plan and outcome; a refusal's reason is its error code.",
    ["plan", "outcome", "reason"],
)
QUOTA_REFUSALS = Counter(
    "pmdi_quota_refusals_total",
    "Writes refused by a hard quota, by plan and quota.",
    ["plan", "quota"],
)
TASKS = Histogram(
    "pmdi_task_duration_seconds",
    "Celery tasks by name, plan and outcome, and how long they ran.",
    ["task", "plan", "outcome"],
    buckets=TASK_BUCKETS,
)

LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}
# kombu's Redis transport keeps a queue's prioritised messages in lists named after it.
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


def observer(child: Histogram) -> Callable[[float], None]:
    """``child.observe`` for a labelled histogram child, less the library's per-call checks.

    ``Histogram.observe`` checks that the metric is a labelled child, then adds to the sum and
    walks the bounds to the bucket; for a child that is known, this adds to the same sum
    and bucket (found by bisection: the first bound not below the value, as the walk finds).
    In multiprocess mode each of those additions is a locked write to the process's file, so
    the checks were a fair share of a request's metrics. Any other shape of child (another
    prometheus_client) is observed the ordinary way.
    """
    try:
        total, buckets, bounds = child._sum, child._buckets, tuple(child._upper_bounds)
    except AttributeError:
        return child.observe
    if len(buckets) != len(bounds) or bounds[-1] != math.inf:
        return child.observe

    def observe(amount: float) -> None:
        total.inc(amount)
        buckets[bisect_left(bounds, amount)].inc(1)

    return observe


def counter(child: Counter) -> Callable[[], None]:
    """``child.inc`` (by one) for a labelled counter child, less the library's checks."""
    value = getattr(child, "_value", None)
    if value is None:
        return child.inc
    return lambda: value.inc(1)


def registry_for_scrape() -> CollectorRegistry:
    """Every process's figures (multiprocess mode), else this process's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return REGISTRY


def allowed(config: dict[str, Any], environ: dict[str, Any]) -> bool:
    """The token when one is set (compared in constant time), else a loopback client."""
    token = config.get("METRICS_TOKEN")
    if token:
        presented = environ.get("HTTP_AUTHORIZATION", "")
        return hmac.compare_digest(presented.encode(), f"Bearer {token}".encode())
    return environ.get("REMOTE_ADDR") in LOOPBACK


def metrics_response(app: Flask) -> Response:
    """The exposition text: counters and histograms, then the figures read now."""
    body = generate_latest(registry_for_scrape())
    body += generate_latest(app.extensions["metrics_backlog"])
    return Response(body, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


class BacklogCollector(Collector):
    """Figures read at scrape time, each with one cheap query: queues, outbox, stuck documents.

    A source that does not answer is left out of that scrape (and logged at debug level): the
    readiness probe, not the metrics, says what is down.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        config = app.config
        prefix = config["DOCUMENT_QUEUE_PREFIX"]
        from workers.fairness import PLAN_IDS

        default_queue = config["CELERY"].get("task_default_queue", "default")
        self.queues = {plan: f"{prefix}-{plan}" for plan in PLAN_IDS}
        self.queues["default"] = default_queue
        self.broker = _broker_client(config)
        self.broker_url = config["CELERY"]["broker_url"]
        self.timeout = float(config["READY_TIMEOUT_SECONDS"])
        # A document in a processing state whose lease expired (its worker died; migration
        # 0012); a row from before leases counts once it has not moved for this long.
        self.stuck_after = 600.0

    def collect(self) -> Any:
        depth = GaugeMetricFamily(
            "pmdi_queue_depth", "Messages waiting in each Celery queue (by plan).", labels=["queue"]
        )
        if self.broker is not None:
            try:
                pipe = self.broker.pipeline(transaction=False)
                for queue in self.queues.values():
                    pipe.llen(queue)
                    for step in _PRIORITY_STEPS:
                        pipe.llen(f"{queue}{_PRIORITY_SEPARATOR}{step}")
                lengths = pipe.execute()
                per_queue = 1 + len(_PRIORITY_STEPS)
                for index, plan in enumerate(self.queues):
                    waiting = sum(lengths[index * per_queue : (index + 1) * per_queue])
                    depth.add_metric([plan], waiting)
                yield depth
            except redis.RedisError:
                log.debug("queue depth unavailable", exc_info=True)
        else:
            waiting_by_plan = self._amqp_depths()
            if waiting_by_plan is not None:
                for plan, waiting in waiting_by_plan.items():
                    depth.add_metric([plan], waiting)
                yield depth
        backlog = self._backlog()
        if backlog is not None:
            pending, oldest, stuck = backlog
            yield GaugeMetricFamily(
                "pmdi_outbox_pending", "Outbox messages not yet sent to the broker.", pending
            )
            yield GaugeMetricFamily(
                "pmdi_outbox_oldest_age_seconds",
                "Age of the oldest outbox message not yet sent (0 when none waits).",
                oldest,
            )
            yield GaugeMetricFamily(
                "pmdi_stuck_documents",
                "Documents in a processing state whose worker's lease expired.",
                stuck,
            )

    def _amqp_depths(self) -> dict[str, int] | None:
        """Ready messages per queue on RabbitMQ: a passive declare each (no queue yet: 0).

        Messages delivered to a worker and not yet acknowledged are not counted (as on Redis,
        where they sit in the unacked hash, not the queue's list).
        """
        from kombu import Connection

        try:
            with Connection(self.broker_url, connect_timeout=self.timeout) as connection:
                connection.ensure_connection(max_retries=1)
                found = {}
                for plan, queue in self.queues.items():
                    # A missing queue closes the channel it was asked on: one channel each.
                    channel = connection.channel()
                    try:
                        found[plan] = int(channel.queue_declare(queue=queue, passive=True)[1])
                    except connection.channel_errors:
                        found[plan] = 0
                    finally:
                        try:
                            channel.close()
                        except Exception:  # noqa: BLE001 - closed by the broker already
                            pass
                return found
        except Exception:  # noqa: BLE001 - the readiness probe says what is down
            log.debug("queue depth unavailable", exc_info=True)
            return None

    def _backlog(self) -> tuple[int, float, int] | None:
        """One call of the door function ``app_operate_backlog`` (migration 0013)."""
        from webapp.extensions import db

        call = sa.select(
            sa.func.app_operate_backlog(
                sa.func.make_interval(0, 0, 0, 0, 0, 0, self.stuck_after)
            ).table_valued("outbox_pending", "outbox_oldest_seconds", "stuck_documents")
        )
        try:
            # A door across organizations: the platform role's (migration 0010).
            with self.app.app_context(), db.engines["platform"].connect() as connection:
                row = connection.execute(call).one()
        except sa.exc.SQLAlchemyError:
            log.debug("backlog figures unavailable", exc_info=True)
            return None
        return int(row[0]), float(row[1] or 0.0), int(row[2])


def _broker_client(config: dict[str, Any]) -> redis.Redis | None:
    """A client on the broker's Redis, when the broker is Redis (queue depth is LLEN there)."""
    url = config["CELERY"]["broker_url"]
    if url.startswith("socket://"):
        url = "unix://" + url.removeprefix("socket://")
    elif not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    timeout = float(config["READY_TIMEOUT_SECONDS"])
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


def init_app(app: Flask) -> None:
    """Keep the scrape-time collector of this app (its queues, its database)."""
    backlog = CollectorRegistry(auto_describe=False)
    backlog.register(BacklogCollector(app))
    app.extensions["metrics_backlog"] = backlog
