"""Which errors are the platform's passing trouble rather than a document's own fault.

A task that meets one of these (PostgreSQL or Redis unreachable, a connection dropped, the
broker refusing a publish) is retried with backoff and keeps its worker slot; only an error
that comes from the document itself fails it (DESIGN.md §6).
"""

from __future__ import annotations

import logging
import random

import kombu.exceptions
import psycopg
import redis.exceptions
from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,  # connection refused or lost, server shutting down, deadlock
    sa_exc.InterfaceError,  # the connection was closed under the driver
    sa_exc.PendingRollbackError,  # the session's transaction died with its connection
    psycopg.OperationalError,
    psycopg.InterfaceError,
    redis.exceptions.ConnectionError,  # also covers redis' BusyLoadingError (a restart)
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,  # the broker refused or dropped a publish
    ConnectionError,
    TimeoutError,
)


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) is a passing platform fault."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, TRANSIENT_ERRORS):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def backoff(retries: int, base: float, cap: float) -> float:
    """Seconds before retry number ``retries`` + 1: exponential, capped, with jitter."""
    delay = min(cap, base * (2**retries))
    return round(delay * random.uniform(0.75, 1.0), 3)


def rollback_quietly() -> None:
    """Drop the session's failed transaction; the connection may be gone already."""
    from webapp.extensions import db

    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - a dead connection cannot roll back; the pool replaces it
        log.debug("rollback after a transient error failed", exc_info=True)
