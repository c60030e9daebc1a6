"""Configuration defaults and the environment variables that override them.

Order of precedence (lowest first): the defaults below, the environment (read only when
``create_app`` runs, never at import time), then the mapping passed to ``create_app``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import URL, make_url

from webapp.redis_client import is_cluster
from workers import broker as broker_transport

DEFAULTS: dict[str, Any] = {
    "SECRET_KEY": None,
    "SQLALCHEMY_DATABASE_URI": None,
    # Migrations run as the owner role; the app itself never does.
    "MIGRATION_DATABASE_URL": None,
    # The platform role (log-in lookups, /admin, `flask admin`, housekeeping); when unset, the
    # tenant role's URL with the user name suffixed PLATFORM_ROLE_SUFFIX (see finalise).
    "PLATFORM_DATABASE_URL": None,
    # Pooled connections are pinged before use only after this much idle time
    # (webapp/database.py), rather than at every checkout as pool_pre_ping would.
    "DATABASE_PING_AFTER_IDLE_SECONDS": 1.0,
    # Behind PgBouncer in transaction mode (docs/scaling.md): a server connection serves another
    # client after each transaction, so psycopg's server-side prepared statements (made after
    # a query's 5th run on a connection) would be missing or someone else's there. False turns
    # them off (PgBouncer < 1.21 has no max_prepared_statements; Debian's is 1.18).
    "DATABASE_PREPARED_STATEMENTS": True,
    # LISTEN for limit changes (webapp/remembered.py) needs a session of its own, which
    # PgBouncer's transaction mode does not give: behind it, point this at PostgreSQL itself
    # (same role as DATABASE_URL). Unset: DATABASE_URL's.
    "LISTEN_DATABASE_URL": None,
    # The tenant role's BEGIN and context travel with a transaction's first statement, and a
    # ROLLBACK's reply is read at the next use (webapp/database.py): 0 turns that off.
    "DATABASE_FOLD_CONTEXT": True,
    # With it, a plain SELECT before a transaction's first write runs in an implicit
    # transaction of its own, with the context and no BEGIN/ROLLBACK (webapp/database.py).
    "DATABASE_IMPLICIT_READS": True,
    # psycopg prepares a statement on a connection after this many executions (its default);
    # prepared statements now outlive transactions (the deferred ROLLBACK no longer makes
    # psycopg drop them). 0 never prepares: needed behind PgBouncer in transaction mode
    # before 1.21, which has no protocol-level prepared statements.
    "DATABASE_PREPARE_THRESHOLD": 5,
    "REDIS_URL": None,
    "CELERY_BROKER_URL": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": 3600 * 8,
    # Log-in throttles, in the `limits` notation.
    "LOGIN_LIMIT_PER_ACCOUNT": "10/minute",
    "LOGIN_LIMIT_PER_IP": "50/minute",
    # Per-organization and per-address request limits (webapp/ratelimit.py). None: on, except
    # under TESTING, where tests that mean to hit a limit turn it on.
    "RATELIMIT_ENABLED": None,
    "ANONYMOUS_LIMIT_PER_IP": "120/minute",
    # Seconds to wait for Redis before failing open, and to leave it alone after a failure.
    "RATELIMIT_SOCKET_TIMEOUT": 0.25,
    "RATELIMIT_RETRY_INTERVAL": 1.0,
    "RATELIMIT_WARNING_INTERVAL": 30.0,
    # Within the minute, at most BURST_FACTOR x the average rate (and never fewer than
    # BURST_MINIMUM requests) in any BURST_SECONDS; 0 seconds turns the burst window off.
    "RATELIMIT_BURST_SECONDS": 1,
    "RATELIMIT_BURST_FACTOR": 2.0,
    "RATELIMIT_BURST_MINIMUM": 10,
    # A Server-Timing header with each response's server time (for bench/).
    "RATELIMIT_SERVER_TIMING": False,
    # How long a web process may refuse a refused API token again without the database
    # (webapp/remembered.py); 0 turns it off.
    "REFUSAL_MEMORY_SECONDS": 1.0,
    # How long a web process answers an API token it authenticated from memory, without the
    # token lookup (webapp/api/tokens.py, TokenCache); any announced change to a token, member,
    # organization or plan forgets it at once. None: 30 s, except under TESTING (0: off), where
    # tests that revoke a token and use it at once would race the notification.
    "API_TOKEN_CACHE_SECONDS": None,
    # Operations (webapp/health.py, webapp/metrics.py, webapp/logs.py): /readyz wants a worker
    # heartbeat (workers/heartbeat.py) fresher than this; workers write one every third of it.
    "READY_WORKER_HEARTBEAT_SECONDS": 30,
    "WORKER_HEARTBEAT_KEY": "pmdi:heartbeat:workers",
    # Seconds each readiness probe may take (connect and answer) before it counts as failing.
    "READY_TIMEOUT_SECONDS": 1.0,
    # /metrics: with a token, only "Authorization: Bearer <token>" sees it (else 404); without
    # one, only loopback clients. METRICS_ENABLED=0 removes request metrics altogether.
    "METRICS_TOKEN": None,
    "METRICS_ENABLED": True,
    # Per-organization load counters for the platform admins' load view (webapp/load.py),
    # written in the rate limiter's own Redis call.
    "LOAD_COUNTERS_ENABLED": True,
    # A port where each worker's main process serves its metrics (None: share the web's dir).
    "WORKER_METRICS_PORT": None,
    # "text" (the default) or "json": one JSON object per line, with request and tenant ids.
    "LOG_FORMAT": "text",
    # Refuse to serve when the runtime database role could bypass row-level security.
    "TENANCY_VERIFY_ROLE": True,
    "MIN_PASSWORD_LENGTH": 10,
    # Whole request bodies (several files at once); each file is checked against its plan.
    "MAX_CONTENT_LENGTH": 512 * 1024 * 1024,
    # The pipeline: a soft time limit per document, and the housekeeping that recovers work.
    "DOCUMENT_TIME_LIMIT": 120,
    # Real attempts (a worker started the pipeline) before a document that keeps losing its
    # worker is failed.
    "MAX_PROCESSING_ATTEMPTS": 3,
    # Memory of each worker child (workers/setup.py): after a task that left a child above
    # WORKER_MAX_MEMORY_PER_CHILD (KiB, resident; Celery's worker_max_memory_per_child) the
    # child is replaced by a fresh one; WORKER_MEMORY_LIMIT_MB is a hard ceiling on the heap a
    # child may allocate (RLIMIT_DATA), so one document fails with a clear error instead of
    # taking the machine down. 0 turns either off.
    "WORKER_MAX_MEMORY_PER_CHILD": 512 * 1024,
    "WORKER_MEMORY_LIMIT_MB": 1536,
    # A worker's lease on its document (and its worker slot): renewed every RENEW seconds
    # while it works, so a dead worker's document goes on within LEASE_SECONDS.
    "LEASE_SECONDS": 30,
    "LEASE_RENEW_SECONDS": 10,
    # Transient errors (database or Redis unavailable) are retried after 1, 2, 4 ... seconds,
    # at most RETRY_BACKOFF_MAX apart (so work goes on within that time of the service's
    # return; below the visibility timeout: a waiting retry is an unacknowledged message),
    # TRANSIENT_RETRY_LIMIT times (about ten minutes); then the reconciler takes over.
    "RETRY_BACKOFF_SECONDS": 1.0,
    "RETRY_BACKOFF_MAX": 10.0,
    "TRANSIENT_RETRY_LIMIT": 60,
    # The outbox relay: every INTERVAL seconds, messages older than AFTER seconds.
    "OUTBOX_RELAY_INTERVAL": 5.0,
    "OUTBOX_RELAY_AFTER": 5.0,
    # The reconciler (workers/reconcile.py): every INTERVAL seconds; a run holds a Redis lock
    # for at most LOCK seconds; documents queued for SETTLE seconds are expected in Redis;
    # at most REBUILD_BATCH of an organization's documents are tracked again per run.
    "RECONCILE_INTERVAL": 5.0,
    "RECONCILE_LOCK_SECONDS": 60.0,
    "RECONCILE_SETTLE_SECONDS": 10.0,
    "RECONCILE_REBUILD_BATCH": 1000,
    # A starting worker asks for a reconciliation (parked lists rebuilt after a Redis loss).
    "RECONCILE_ON_START": True,
    # Seconds before Redis hands an unacknowledged task to another worker (late ack), and
    # between the sweeps that hand them back. A message that comes back while its document's
    # worker is alive meets the lease and waits; one whose document is done changes nothing.
    "BROKER_VISIBILITY_TIMEOUT": 60,
    "BROKER_RESTORE_INTERVAL": 5,
    # How long a request may wait to connect to the broker when publishing (the outbox relay
    # sends what could not be published).
    "BROKER_CONNECT_TIMEOUT": 1.0,
    # After a failed publish, a process leaves the broker alone for this long (uploads go
    # straight to the outbox, which the relay sends), so a request never waits on it twice.
    "BROKER_RETRY_INTERVAL": 2.0,
    # Documents go to one queue per plan: "<prefix>-free", "<prefix>-pro", ...
    "DOCUMENT_QUEUE_PREFIX": "docs",
    # Every other task (mail: password resets, notifications; exports) goes to this queue.
    "CELERY_DEFAULT_QUEUE": "default",
    # How long a worker slot is kept for a document waiting in a Celery queue.
    "FAIR_QUEUED_SECONDS": 900,
    # Organization lifecycle: days a deleted organization can be restored, hours an export's
    # download link lasts, seconds between purges of organizations past their grace period.
    "DELETION_GRACE_DAYS": 7,
    "EXPORT_LINK_HOURS": 24,
    "PURGE_INTERVAL": 3600,
    # Notifications (webapp/workspace/notify.py): mails per organization per window, and how
    # often beat looks for overdue actions (each member gets at most one digest a day).
    "NOTIFY_MAIL_RATE": "30/minute",
    "OVERDUE_DIGEST_INTERVAL": 3600,
    # Invitations: days a link stays valid; mail goes to the log unless SMTP_HOST is set.
    "INVITATION_DAYS": 7,
    "SMTP_HOST": None,
    "SMTP_PORT": 587,
    "SMTP_USERNAME": None,
    "SMTP_PASSWORD": None,
    "SMTP_STARTTLS": True,
    "MAIL_FROM": "no-reply@pmdi.invalid",
    "MAIL_SENDER": None,
    # A directory that receives each message as a file instead of the log (development,
    # browser tests); SMTP_HOST, when set, wins.
    "MAIL_DIR": None,
    # Account links sent by mail (webapp/auth/account_links.py): a password reset lasts an
    # hour, an e-mail change's confirmation a day; each works once.
    "PASSWORD_RESET_MINUTES": 60,
    "EMAIL_CHANGE_HOURS": 24,
    # Days a deleted document waits in the trash before housekeeping purges it.
    "TRASH_GRACE_DAYS": 30,
    # The site's external address, for links that leave it (invitation e-mails): never the
    # request's Host header (webapp/links.py). Else SERVER_NAME + PREFERRED_URL_SCHEME.
    "PUBLIC_URL": None,
    # Behind a reverse proxy: how many proxies' X-Forwarded-For / X-Forwarded-Proto to trust
    # (webapp/proxy.py). 0, the default, trusts none: the socket's address is the client's.
    "PROXY_FIX_X_FOR": 0,
    "PROXY_FIX_X_PROTO": 0,
}

ENVIRONMENT_KEYS = {
    "SECRET_KEY": "SECRET_KEY",
    "DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "MIGRATION_DATABASE_URL": "MIGRATION_DATABASE_URL",
    "PLATFORM_DATABASE_URL": "PLATFORM_DATABASE_URL",
    "LISTEN_DATABASE_URL": "LISTEN_DATABASE_URL",
    "DATABASE_PREPARED_STATEMENTS": "DATABASE_PREPARED_STATEMENTS",
    "REDIS_URL": "REDIS_URL",
    "CELERY_BROKER_URL": "CELERY_BROKER_URL",
    "SESSION_COOKIE_SECURE": "SESSION_COOKIE_SECURE",
    "BROKER_VISIBILITY_TIMEOUT": "BROKER_VISIBILITY_TIMEOUT",
    "DOCUMENT_TIME_LIMIT": "DOCUMENT_TIME_LIMIT",
    "DOCUMENT_QUEUE_PREFIX": "DOCUMENT_QUEUE_PREFIX",
    "CELERY_DEFAULT_QUEUE": "CELERY_DEFAULT_QUEUE",
    "RATELIMIT_ENABLED": "RATELIMIT_ENABLED",
    "ANONYMOUS_LIMIT_PER_IP": "ANONYMOUS_LIMIT_PER_IP",
    "RATELIMIT_SERVER_TIMING": "RATELIMIT_SERVER_TIMING",
    "RATELIMIT_BURST_SECONDS": "RATELIMIT_BURST_SECONDS",
    "READY_WORKER_HEARTBEAT_SECONDS": "READY_WORKER_HEARTBEAT_SECONDS",
    "WORKER_HEARTBEAT_KEY": "WORKER_HEARTBEAT_KEY",
    "READY_TIMEOUT_SECONDS": "READY_TIMEOUT_SECONDS",
    "METRICS_TOKEN": "METRICS_TOKEN",
    "METRICS_ENABLED": "METRICS_ENABLED",
    "LOAD_COUNTERS_ENABLED": "LOAD_COUNTERS_ENABLED",
    "WORKER_METRICS_PORT": "WORKER_METRICS_PORT",
    "LOG_FORMAT": "LOG_FORMAT",
    "REFUSAL_MEMORY_SECONDS": "REFUSAL_MEMORY_SECONDS",
    "API_TOKEN_CACHE_SECONDS": "API_TOKEN_CACHE_SECONDS",
    "DATABASE_PING_AFTER_IDLE_SECONDS": "DATABASE_PING_AFTER_IDLE_SECONDS",
    "DATABASE_FOLD_CONTEXT": "DATABASE_FOLD_CONTEXT",
    "DATABASE_IMPLICIT_READS": "DATABASE_IMPLICIT_READS",
    "DATABASE_PREPARE_THRESHOLD": "DATABASE_PREPARE_THRESHOLD",
    "INVITATION_DAYS": "INVITATION_DAYS",
    "DELETION_GRACE_DAYS": "DELETION_GRACE_DAYS",
    "EXPORT_LINK_HOURS": "EXPORT_LINK_HOURS",
    "PURGE_INTERVAL": "PURGE_INTERVAL",
    "NOTIFY_MAIL_RATE": "NOTIFY_MAIL_RATE",
    "OVERDUE_DIGEST_INTERVAL": "OVERDUE_DIGEST_INTERVAL",
    "SMTP_HOST": "SMTP_HOST",
    "SMTP_PORT": "SMTP_PORT",
    "SMTP_USERNAME": "SMTP_USERNAME",
    "SMTP_PASSWORD": "SMTP_PASSWORD",
    "SMTP_STARTTLS": "SMTP_STARTTLS",
    "MAIL_FROM": "MAIL_FROM",
    "MAIL_DIR": "MAIL_DIR",
    "PASSWORD_RESET_MINUTES": "PASSWORD_RESET_MINUTES",
    "EMAIL_CHANGE_HOURS": "EMAIL_CHANGE_HOURS",
    "TRASH_GRACE_DAYS": "TRASH_GRACE_DAYS",
    "PUBLIC_URL": "PUBLIC_URL",
    "WORKER_MAX_MEMORY_PER_CHILD": "WORKER_MAX_MEMORY_PER_CHILD",
    "PROXY_FIX_X_FOR": "PROXY_FIX_X_FOR",
    "PROXY_FIX_X_PROTO": "PROXY_FIX_X_PROTO",
    "WORKER_MEMORY_LIMIT_MB": "WORKER_MEMORY_LIMIT_MB",
    "SERVER_NAME": "SERVER_NAME",
    "PREFERRED_URL_SCHEME": "PREFERRED_URL_SCHEME",
}
# The pipeline's and the recovery's thresholds, each read from the variable of its own name.
RECOVERY_KEYS = (
    "MAX_PROCESSING_ATTEMPTS",
    "LEASE_SECONDS",
    "LEASE_RENEW_SECONDS",
    "RETRY_BACKOFF_SECONDS",
    "RETRY_BACKOFF_MAX",
    "TRANSIENT_RETRY_LIMIT",
    "OUTBOX_RELAY_INTERVAL",
    "OUTBOX_RELAY_AFTER",
    "RECONCILE_INTERVAL",
    "RECONCILE_LOCK_SECONDS",
    "RECONCILE_SETTLE_SECONDS",
    "RECONCILE_REBUILD_BATCH",
    "BROKER_RESTORE_INTERVAL",
    "BROKER_CONNECT_TIMEOUT",
    "BROKER_RETRY_INTERVAL",
    "FAIR_QUEUED_SECONDS",
)
ENVIRONMENT_KEYS.update({key: key for key in (*RECOVERY_KEYS, "RECONCILE_ON_START")})
NUMERIC_KEYS = {
    "DATABASE_PREPARE_THRESHOLD",
    "PROXY_FIX_X_FOR",
    "PROXY_FIX_X_PROTO",
    "WORKER_MAX_MEMORY_PER_CHILD",
    "WORKER_MEMORY_LIMIT_MB",
    *RECOVERY_KEYS,
    "DELETION_GRACE_DAYS",
    "EXPORT_LINK_HOURS",
    "PURGE_INTERVAL",
    "OVERDUE_DIGEST_INTERVAL",
    "BROKER_VISIBILITY_TIMEOUT",
    "DATABASE_PING_AFTER_IDLE_SECONDS",
    "DOCUMENT_TIME_LIMIT",
    "RATELIMIT_BURST_SECONDS",
    "READY_WORKER_HEARTBEAT_SECONDS",
    "READY_TIMEOUT_SECONDS",
    "REFUSAL_MEMORY_SECONDS",
    "API_TOKEN_CACHE_SECONDS",
    "INVITATION_DAYS",
    "SMTP_PORT",
    "PASSWORD_RESET_MINUTES",
    "EMAIL_CHANGE_HOURS",
    "TRASH_GRACE_DAYS",
}
BOOLEAN_KEYS = {
    "DATABASE_PREPARED_STATEMENTS",
    "DATABASE_FOLD_CONTEXT",
    "DATABASE_IMPLICIT_READS",
    "RECONCILE_ON_START",
    "SESSION_COOKIE_SECURE",
    "RATELIMIT_ENABLED",
    "RATELIMIT_SERVER_TIMING",
    "METRICS_ENABLED",
    "LOAD_COUNTERS_ENABLED",
    "SMTP_STARTTLS",
}


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """Return the settings found in the environment, under their config names."""
    found: dict[str, Any] = {}
    for env_name, key in ENVIRONMENT_KEYS.items():
        value = environ.get(env_name)
        if not value:
            continue
        if key in BOOLEAN_KEYS:
            found[key] = value.lower() in {"1", "true", "yes"}
        elif key in NUMERIC_KEYS:
            number = float(value)
            found[key] = int(number) if number.is_integer() else number
        else:
            found[key] = value
    return found


def sqlalchemy_url(url: str) -> str:
    """Use the psycopg 3 driver whatever scheme the URL was given with."""
    parsed = make_url(url)
    if parsed.drivername in {"postgres", "postgresql"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def finalise(config: dict[str, Any]) -> None:
    """Derive the settings that follow from others, and refuse an unsafe configuration."""
    if not config.get("SECRET_KEY"):
        if not (config.get("TESTING") or config.get("DEBUG")):
            raise RuntimeError("SECRET_KEY must be set outside development and tests")
        config["SECRET_KEY"] = "dev-only-" + os.urandom(16).hex()
    if not config.get("SQLALCHEMY_DATABASE_URI"):
        raise RuntimeError("DATABASE_URL is not set (the app role's connection URL)")
    config["SQLALCHEMY_DATABASE_URI"] = sqlalchemy_url(config["SQLALCHEMY_DATABASE_URI"])
    from webapp.links import check_public_url

    check_public_url(config.get("PUBLIC_URL"))
    if config.get("MIGRATION_DATABASE_URL"):
        config["MIGRATION_DATABASE_URL"] = sqlalchemy_url(config["MIGRATION_DATABASE_URL"])
    config["LISTEN_DATABASE_URL"] = sqlalchemy_url(
        config.get("LISTEN_DATABASE_URL") or config["SQLALCHEMY_DATABASE_URI"]
    )
    # The runtime role's name and password come from its URL, so the migrations that
    # create and grant it and the app that logs in as it can never disagree.
    app_url = make_url(config["SQLALCHEMY_DATABASE_URI"])
    if not app_url.username:
        raise RuntimeError("DATABASE_URL must name the application role")
    config.setdefault("APP_DB_ROLE", app_url.username)
    config.setdefault("APP_DB_PASSWORD", app_url.password)
    platform_url = make_url(
        sqlalchemy_url(config.get("PLATFORM_DATABASE_URL") or default_platform_url(app_url))
    )
    if not platform_url.username or platform_url.username == app_url.username:
        raise RuntimeError("PLATFORM_DATABASE_URL must name a role other than DATABASE_URL's")
    config["PLATFORM_DATABASE_URL"] = platform_url.render_as_string(hide_password=False)
    config.setdefault("PLATFORM_DB_ROLE", platform_url.username)
    config.setdefault("PLATFORM_DB_PASSWORD", platform_url.password)
    # The platform role is a second engine of the same SQLAlchemy session (webapp/database.py).
    # Both engines: the driver's statement preparation (see DATABASE_PREPARE_THRESHOLD).
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    connect_args = dict(options.get("connect_args") or {})
    threshold = int(config.get("DATABASE_PREPARE_THRESHOLD", 5) or 0)
    if not config.get("DATABASE_PREPARED_STATEMENTS", True):  # PgBouncer < 1.21 in front
        threshold = 0
    connect_args.setdefault("prepare_threshold", threshold or None)
    options["connect_args"] = connect_args
    config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    binds = dict(config.get("SQLALCHEMY_BINDS") or {})
    binds["platform"] = {"url": config["PLATFORM_DATABASE_URL"], "connect_args": connect_args}
    config["SQLALCHEMY_BINDS"] = binds
    redis_url = config.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    config["REDIS_URL"] = redis_url
    config.setdefault("RATELIMIT_STORAGE_URI", limits_storage_uri(redis_url))
    if config.get("RATELIMIT_ENABLED") is None:
        config["RATELIMIT_ENABLED"] = not config.get("TESTING")
    if config.get("API_TOKEN_CACHE_SECONDS") is None:
        config["API_TOKEN_CACHE_SECONDS"] = 0 if config.get("TESTING") else 30
    if is_cluster(redis_url) and not config.get("CELERY_BROKER_URL"):
        raise RuntimeError(
            "REDIS_URL names a Redis Cluster, which cannot be the Celery broker: set "
            "CELERY_BROKER_URL to a single Redis (redis://...) or RabbitMQ (amqp://...)"
        )
    broker = config.get("CELERY_BROKER_URL") or kombu_url(redis_url)
    celery = {
        "broker_url": broker,
        # The few results read back (tests; `ignore_result` elsewhere) stay on Redis when the
        # broker is RabbitMQ (amqp://), as Celery 5 has no AMQP result backend; with REDIS_URL
        # a Redis Cluster, which Celery's result backend cannot use, they travel over RPC.
        "result_backend": broker
        if is_redis_broker(broker)
        else ("rpc://" if is_cluster(redis_url) else kombu_url(redis_url)),
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_max_memory_per_child": int(
            config.get("WORKER_MAX_MEMORY_PER_CHILD", DEFAULTS["WORKER_MAX_MEMORY_PER_CHILD"])
        )
        or None,
        "broker_connection_retry_on_startup": True,
        "result_expires": 3600,
        "task_default_queue": config.get("CELERY_DEFAULT_QUEUE") or "default",
        "broker_transport_options": {
            "visibility_timeout": int(config["BROKER_VISIBILITY_TIMEOUT"]),
            "unacked_restore_interval": _setting(config, "BROKER_RESTORE_INTERVAL"),
            "unacked_restore_throttle": 1,
            "socket_connect_timeout": _setting(config, "BROKER_CONNECT_TIMEOUT"),
            # kombu retries a failed connect for a publish (2 s, then 4 s...): a request
            # would wait seconds on a broker that is down. One try; the outbox relay follows.
            "max_retries": 0,
            "interval_start": 0,
        },
        "broker_connection_timeout": _setting(config, "BROKER_CONNECT_TIMEOUT"),
        "task_annotations": {
            "workers.tasks.process_document": {
                "soft_time_limit": int(config["DOCUMENT_TIME_LIMIT"]),
                "time_limit": int(config["DOCUMENT_TIME_LIMIT"]) + 30,
            }
        },
        # Housekeeping runs that sat in the queue longer than their interval (no worker was
        # consuming) expire instead of running back to back when one returns.
        "beat_schedule": {
            "relay-outbox": {
                "task": "workers.tasks.relay_outbox",
                "schedule": float(_setting(config, "OUTBOX_RELAY_INTERVAL")),
                "options": {"expires": float(_setting(config, "OUTBOX_RELAY_INTERVAL"))},
            },
            "reconcile-documents": {
                "task": "workers.tasks.reconcile_documents",
                "schedule": float(_setting(config, "RECONCILE_INTERVAL")),
                "options": {"expires": float(_setting(config, "RECONCILE_INTERVAL"))},
            },
            "purge-deleted-organizations": {
                "task": "workers.tasks.purge_deleted_organizations",
                "schedule": float(config["PURGE_INTERVAL"]),
                "options": {"expires": float(config["PURGE_INTERVAL"])},
            },
            "purge-trash": {
                "task": "workers.tasks.purge_trash",
                "schedule": float(config["PURGE_INTERVAL"]),
                "options": {"expires": float(config["PURGE_INTERVAL"])},
            },
            "overdue-digests": {
                "task": "workers.tasks.overdue_digests",
                "schedule": float(config["OVERDUE_DIGEST_INTERVAL"]),
                "options": {"expires": float(config["OVERDUE_DIGEST_INTERVAL"])},
            },
        },
        "include": ["workers.tasks"],
    }
    celery.update(broker_transport.celery_settings(broker))  # reusing its Redis client
    celery.update(config.get("CELERY") or {})
    config["CELERY"] = celery


PLATFORM_ROLE_SUFFIX = "_platform"


def default_platform_url(app_url: URL) -> str:
    """The platform role when PLATFORM_DATABASE_URL is not set: ``<tenant role>_platform``.

    Same host, database and password as the tenant role, so the one-command run,
    docker-compose.yml and the tests need no extra setting: the migrations create this role
    as they create the tenant role. What separates the two is what each may do in the
    database, not who knows the password; a deployment that wants the platform role's
    password kept from tenant-only processes sets PLATFORM_DATABASE_URL.
    """
    user = (app_url.username or "") + PLATFORM_ROLE_SUFFIX
    return app_url.set(username=user).render_as_string(hide_password=False)


def _setting(config: dict[str, Any], key: str) -> Any:
    """A setting of ``config``, or its default when a caller built ``config`` by hand."""
    return config.get(key, DEFAULTS[key])


def limits_storage_uri(redis_url: str) -> str:
    """Translate a Redis URL (TCP, or ``unix:///path``) to the form `limits` reads."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url.removeprefix("unix://").split("?")[0]
    return redis_url


def is_redis_broker(broker_url: str) -> bool:
    """Whether the Celery broker is Redis (else RabbitMQ: ``amqp://`` / ``pyamqp://``)."""
    return broker_url.startswith(("redis://", "rediss://", "redis+socket://", "socket://"))


def kombu_url(redis_url: str) -> str:
    """Translate a Redis URL (TCP, or ``unix:///path``) to the form Celery's broker reads."""
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url.removeprefix("unix://")
    return redis_url
