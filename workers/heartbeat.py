"""Heartbeats of workers and beat in Redis, for ``/readyz`` and container liveness checks.

Each worker's main process (and beat) writes ``time()`` into a sorted set
(``WORKER_HEARTBEAT_KEY``; beat's is the same key with ``:beat`` appended) under a member naming
its host and process, every third of ``READY_WORKER_HEARTBEAT_SECONDS``, from a daemon thread;
a worker that stops cleanly removes its member, so ``/readyz`` notices at once, and one killed
outright goes stale within that many seconds. Members older than a day are dropped on each
write, so the set never grows with restarts.

``python -m workers.heartbeat worker|beat`` exits 0 if a process of that kind on this host
beat recently, else 1: docker-compose's liveness check for the worker and beat containers.
It needs only ``REDIS_URL`` (and the two settings above) from the environment: no app, no
database, so it runs in a fraction of a second.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time

import redis

from webapp.redis_client import redis_from_url

log = logging.getLogger(__name__)

DEFAULT_KEY = "pmdi:heartbeat:workers"
DEFAULT_SECONDS = 30.0
FORGET_AFTER = 86400


def key_for(kind: str, key: str) -> str:
    """The sorted set of one kind of process: workers use ``key``, beat ``key:beat``."""
    return key if kind == "worker" else f"{key}:{kind}"


def member_name(kind: str) -> str:
    """This process's member: kind, host and process id."""
    return f"{kind}:{socket.gethostname()}:{os.getpid()}"


class Heartbeat:
    """Writes one member's heartbeat every ``interval`` seconds until stopped."""

    def __init__(self, client: redis.Redis, key: str, member: str, interval: float) -> None:
        self.client = client
        self.key = key
        self.member = member
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pmdi-heartbeat", daemon=True)

    def beat(self) -> None:
        """One heartbeat, and old members dropped, in one round trip."""
        now = time.time()
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(self.key, {self.member: now})
        pipe.zremrangebyscore(self.key, "-inf", now - FORGET_AFTER)
        pipe.expire(self.key, FORGET_AFTER)
        pipe.execute()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.beat()
            except redis.RedisError as exc:
                log.warning("heartbeat not written (%s); retrying", exc)
            self._stop.wait(self.interval)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating and remove the member: this process no longer counts."""
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join(timeout=self.interval + 1)
        try:
            self.client.zrem(self.key, self.member)
        except redis.RedisError:
            pass  # it goes stale by itself


def start(redis_url: str, kind: str, key: str, ready_seconds: float) -> Heartbeat:
    """Start this process's heartbeat thread."""
    client = redis_from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    interval = max(0.2, ready_seconds / 3)
    return Heartbeat(client, key_for(kind, key), member_name(kind), interval).start()


def alive_here(redis_url: str, kind: str, key: str, ready_seconds: float) -> bool:
    """A process of ``kind`` on this host beat within ``ready_seconds``."""
    client = redis_from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    prefix = f"{kind}:{socket.gethostname()}:"
    since = time.time() - ready_seconds
    for member, score in client.zrange(key_for(kind, key), 0, -1, withscores=True):
        if member.decode().startswith(prefix) and score >= since:
            return True
    return False


def main(argv: list[str]) -> int:
    """``python -m workers.heartbeat worker|beat``: 0 if alive on this host, else 1."""
    kind = argv[0] if argv else "worker"
    if kind not in {"worker", "beat"}:
        print("usage: python -m workers.heartbeat worker|beat", file=sys.stderr)
        return 2
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    key = os.environ.get("WORKER_HEARTBEAT_KEY") or DEFAULT_KEY
    seconds = float(os.environ.get("READY_WORKER_HEARTBEAT_SECONDS") or DEFAULT_SECONDS)
    try:
        alive = alive_here(redis_url, kind, key, seconds)
    except redis.RedisError as exc:
        print(f"{kind}: Redis unavailable ({exc})", file=sys.stderr)
        return 1
    print(f"{kind}: {'alive' if alive else 'no recent heartbeat'}")
    return 0 if alive else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
