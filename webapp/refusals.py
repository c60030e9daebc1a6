"""Remembered refusals: a flooding API client is refused before any database work.

A refused API request used to cost what any API request costs — the token looked up in
PostgreSQL, then the Redis check — so a client flooding at ten times its limit spent the web
workers' time on requests that were never going to be served. Once a token has been refused,
each web process remembers it (a SHA-256 of the presented token, never the token itself) with
the windows that refused it, for at most ``REFUSAL_MEMORY_SECONDS`` (default 1 s) and never
beyond the moment the window frees a slot. The token's next request is checked against those
windows straight away, in the same single Redis call as ever:

- still full: 429 at once, with the usual headers and message; no database query at all;
- room again: the hit is charged, the memory dropped, and the request goes on through the
  token lookup as usual; the limiter then reuses that check instead of asking Redis again
  (``Remembered.charged``), unless the limits it reads from the database differ from the
  remembered ones, in which case the hit is re-judged against the current limits.

**Live limits.** A raised limit must apply from the next request. Every change to a plan, or
to an organization's plan, overrides or status, fires ``NOTIFY pmdi_limits`` (migration 0009,
whoever makes the change, by whatever means); each process LISTENs on a connection of its own
and, before it trusts anything it remembers, reads what has arrived on that connection (a
non-blocking read, no round trip) and forgets everything on any notification. Without a
working listener nothing is remembered. The one-second bound covers what a notification
cannot: a token revoked or a member removed meanwhile gets 429 instead of 401 for at most that
long, and is never served.

Only API requests are remembered: a page's refusal renders a template that reads the signed-in
member, so it cannot skip the database; uploads count per file against their own window and
always take the whole path.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

CHANNEL = "pmdi_limits"


@dataclass(frozen=True)
class Remembered:
    """A token's refusal: the windows it was refused by, and until when to trust them."""

    rules: tuple[Any, ...]  # ratelimit.Rule, each with cost 1
    until: float  # time.monotonic()
    generation: int  # LimitChanges.generation the limits were read in


def token_key(presented: str) -> bytes:
    """What a token is remembered by: its SHA-256 (the plaintext is never kept)."""
    return hashlib.sha256(presented.encode()).digest()


class LimitChanges:
    """``LISTEN pmdi_limits`` on a connection of this process's own.

    ``poll()`` returns a generation number that moves on whenever a change has arrived, or
    None when there is no working listener (then nothing may be trusted).
    """

    def __init__(self, engine: Callable[[], Engine], retry_interval: float = 5.0) -> None:
        self.engine = engine  # called in the app context, when the listener is first needed
        self.retry_interval = retry_interval
        self.generation = 0
        self._connection: Any = None
        self._pid = 0
        self._failed_at = -retry_interval
        self._lock = threading.Lock()

    def poll(self) -> int | None:
        """The current generation, after reading what has arrived (no round trip)."""
        with self._lock:
            if not self._listening():
                return None
            pgconn = self._connection.pgconn
            try:
                pgconn.consume_input()  # the socket is non-blocking: reads what has arrived
                while pgconn.notifies() is not None:
                    self.generation += 1
            except Exception:  # noqa: BLE001 - a broken listener vouches for nothing
                self._close()
                return None
            return self.generation

    def _listening(self) -> bool:
        if self._connection is not None and self._pid == os.getpid():
            return True
        self._connection = None  # a connection made before a fork belongs to the parent
        if time.monotonic() - self._failed_at < self.retry_interval:
            return False
        try:
            import psycopg

            engine = self.engine()
            cargs, cparams = engine.dialect.create_connect_args(engine.url)
            connection = psycopg.connect(*cargs, **cparams, autocommit=True)
            connection.execute(f"LISTEN {CHANNEL}")
        except Exception as exc:  # noqa: BLE001 - without a listener, remember nothing
            self._failed_at = time.monotonic()
            log.warning("cannot listen for limit changes (%s); refusals not remembered", exc)
            return False
        self._connection, self._pid = connection, os.getpid()
        self.generation += 1  # whatever happened before listening is unknown
        return True

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        self._failed_at = time.monotonic()
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - closing a broken connection
            pass


class Refusals:
    """This process's remembered refusals (API tokens only)."""

    MAX_ENTRIES = 10_000

    def __init__(self, changes: LimitChanges, seconds: float) -> None:
        self.changes = changes
        self.seconds = seconds
        self._entries: dict[bytes, Remembered] = {}
        self._lock = threading.Lock()

    def generation(self) -> int | None:
        """Read at the start of a request, before its limits are read from the database."""
        return self.changes.poll() if self.seconds > 0 else None

    def remember(
        self, key: bytes, rules: Sequence[Any], retry_after: float, generation: int | None
    ) -> None:
        """Remember a refusal judged by limits read in ``generation``, if nothing changed since."""
        if generation is None or retry_after <= 0 or self.changes.poll() != generation:
            return
        until = time.monotonic() + min(self.seconds, retry_after)
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._prune()
            self._entries[key] = Remembered(tuple(rules), until, generation)

    def recall(self, key: bytes, generation: int | None) -> Remembered | None:
        """The refusal remembered for ``key``, if it is still to be trusted."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.generation != generation or entry.until <= time.monotonic():
                del self._entries[key]
                return None
            return entry

    def forget(self, key: bytes) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def _prune(self) -> None:
        now = time.monotonic()
        for key in [k for k, entry in self._entries.items() if entry.until <= now]:
            del self._entries[key]
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
