"""What each web process remembers of an API token's windows, so its check starts early.

An API request's rate-limit check needs the token's organization and limits, which come from
PostgreSQL with the token lookup. Each web process remembers, per token (a SHA-256 of the
presented token, never the token itself), the windows its last request was checked against,
and uses them before the lookup, in ``ratelimit.LimitDoor`` (a WSGI middleware ahead of
Flask):

- **a token refused a moment ago** — for at most ``REFUSAL_MEMORY_SECONDS`` (1 s) and never
  past the moment its window frees a slot — is checked at once: still full, the same 429 comes
  back with no database query and no Flask request, so a flood costs little; room again, the
  request goes on and that check is its check;
- **any other remembered token** has its check *sent* to Redis at once and the reply read after
  the token lookup, which the round trip overlaps. The limits read with the token are then
  compared with the remembered ones; should they differ (a change whose notification has not
  arrived yet), the request is checked again by the current limits, and so counted twice.

Still one Redis round trip per request (two only in that race). A request that ends before its
reply is read (an invalid token, say) reads and drops it, and its token is forgotten.

**Live limits.** A changed limit applies within a second in every process. Every change to a
plan, or to an organization's plan, overrides or status, fires ``NOTIFY pmdi_limits`` (migration
0009, whoever makes the change, by whatever means), and so does every change that alters what a
token acts as (revoked, re-keyed or deleted tokens, members removed or changed: migration 0020,
which also clears the API token cache of webapp/api/tokens.py); each process LISTENs on a
connection of its own and, before it trusts anything it remembers, reads what has arrived on
that connection (a non-blocking read, no round trip) and forgets everything on any
notification. Without a
working listener nothing is remembered. PostgreSQL sends a notification to the listeners after
the change's COMMIT has returned, so on a loaded machine a request that follows a change at
once can come before it: an admitted token is still checked by the limits read with it (the
comparison above), but a token refused a moment ago is refused again by its old limits until
the notification arrives, at most ``REFUSAL_MEMORY_SECONDS`` after that refusal (never admitted
past a lowered limit: the stale answer is a refusal, charged nothing). In the same way a token
revoked or a member removed a moment ago may get that 429 instead of 401 until the notification
arrives, at most that long, and is never served.

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

from sqlalchemy.engine import Engine, make_url

log = logging.getLogger(__name__)

CHANNEL = "pmdi_limits"


# How long the windows of an admitted token are remembered without being used again.
ADMITTED_SECONDS = 60.0


@dataclass(frozen=True)
class Remembered:
    """A token's windows at its last check, and until when to use them."""

    rules: tuple[Any, ...]  # ratelimit.Rule, each with cost 1
    until: float  # time.monotonic()
    generation: int  # LimitChanges.generation the limits were read in
    refused: bool  # the last check refused: trusted to refuse again without the database
    org_id: str | None = None  # whose load counters the check also counts in


def token_key(presented: str) -> bytes:
    """What a token is remembered by: its SHA-256 (the plaintext is never kept)."""
    return hashlib.sha256(presented.encode()).digest()


class LimitChanges:
    """``LISTEN pmdi_limits`` on a connection of this process's own.

    ``poll()`` returns a generation number that moves on whenever a change has arrived, or
    None when there is no working listener (then nothing may be trusted).
    """

    def __init__(
        self,
        engine: Callable[[], Engine],
        retry_interval: float = 5.0,
        url: Callable[[], Any] = lambda: None,
    ) -> None:
        self.engine = engine  # called in the app context, when the listener is first needed
        # Where to LISTEN when not the engine's URL: PostgreSQL itself, not PgBouncer's
        # transaction mode (which hands the session to other clients between transactions).
        self.url = url
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

            engine, url = self.engine(), self.url()
            cargs, cparams = engine.dialect.create_connect_args(
                make_url(url) if url else engine.url
            )
            connection = psycopg.connect(*cargs, **cparams, autocommit=True)
            connection.execute(f"LISTEN {CHANNEL}")
        except Exception as exc:  # noqa: BLE001 - without a listener, remember nothing
            self._failed_at = time.monotonic()
            log.warning("cannot listen for limit changes (%s); no token is remembered", exc)
            return False
        self._connection, self._pid = connection, os.getpid()
        self.generation += 1  # whatever happened before listening is unknown
        return True

    def close(self) -> None:
        """Stop listening: the connection is closed, not left to the garbage collector."""
        with self._lock:
            if self._connection is not None:
                self._close()

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        self._failed_at = time.monotonic()
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - closing a broken connection
            pass


class RememberedWindows:
    """This process's remembered API tokens and their windows."""

    MAX_ENTRIES = 10_000

    def __init__(self, changes: LimitChanges, refusal_seconds: float) -> None:
        self.changes = changes
        self.refusal_seconds = refusal_seconds
        self._entries: dict[bytes, Remembered] = {}
        self._lock = threading.Lock()

    def generation(self) -> int | None:
        """Read at the start of a request, before its limits are read from the database."""
        return self.changes.poll()

    def remember(
        self,
        key: bytes,
        rules: Sequence[Any],
        generation: int | None,
        retry_after: int = 0,
        org_id: str | None = None,
    ) -> None:
        """After a check by limits read in ``generation``: a refusal when ``retry_after``.

        Nothing is remembered if a change has been announced since those limits were read.
        """
        now = time.monotonic()
        if retry_after <= 0:
            entry = self._entries.get(key)
            if (
                entry is not None
                and not entry.refused
                and entry.generation == generation
                and entry.rules == rules
                and entry.until - now > ADMITTED_SECONDS / 2
            ):
                return  # remembered just so, a moment ago (the poll below would say the same)
        if generation is None or self.changes.poll() != generation:
            self.forget(key)
            return
        if retry_after <= 0:
            entry = Remembered(
                tuple(rules), now + ADMITTED_SECONDS, generation, refused=False, org_id=org_id
            )
        elif self.refusal_seconds > 0:
            until = now + min(self.refusal_seconds, retry_after)
            entry = Remembered(tuple(rules), until, generation, refused=True, org_id=org_id)
        else:
            self.forget(key)
            return
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._prune()
            self._entries[key] = entry

    def recall(self, key: bytes, generation: int | None) -> Remembered | None:
        """What is remembered of ``key``, if it still holds."""
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
