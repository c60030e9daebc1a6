"""Fair sharing of workers between organizations (DESIGN.md §5).

An organization may have at most its plan's ``worker_slots`` documents in the Celery queues
or in a worker at once. The rest wait in the organization's own Redis list, outside Celery,
so one tenant's backlog of thousands never stands in the queue in front of another tenant's
single upload: the queue only ever holds a few documents of each organization.

* ``admit`` (when a document is dispatched) takes a slot, or parks the document;
* ``finish`` (when a worker is done with it) frees the slot and hands it straight to the
  organization's next parked document, which is then published.

Slots are a sorted set per organization (member: document id, score: expiry), so the slot of
a crashed worker comes back by itself, and a redelivered document keeps its own slot. Both
steps are single Lua scripts: a document is never parked just after the last slot was freed
(no lost wake-up). If Redis loses a parked list, the reaper re-queues documents left
``queued``; if Redis is down, dispatch fails open (the document is published without a slot).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis
from flask import Flask, current_app

log = logging.getLogger(__name__)

# KEYS: slots, parked. ARGV: now, expiry, limit, document id.
_ADMIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
  redis.call('EXPIRE', KEYS[1], 86400)
  return 1
end
redis.call('RPUSH', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[2], 86400)
return 0
"""

# KEYS: slots, parked. ARGV: now, expiry for the next one, document id. Returns the next.
_FINISH = """
redis.call('ZREM', KEYS[1], ARGV[3])
local nxt = redis.call('LPOP', KEYS[2])
if nxt then
  redis.call('ZADD', KEYS[1], ARGV[2], nxt)
  redis.call('EXPIRE', KEYS[1], 86400)
end
return nxt
"""


@dataclass
class Fairness:
    """Per-organization worker slots on Redis.

    ``queued_seconds``: how long a slot is kept for a document waiting in the Celery queue;
    ``running_seconds``: how long once a worker started it (beyond the task's hard limit).
    """

    client: redis.Redis
    queued_seconds: float
    running_seconds: float

    def __post_init__(self) -> None:
        self._admit = self.client.register_script(_ADMIT)
        self._finish = self.client.register_script(_FINISH)

    @staticmethod
    def keys(org_id: str) -> list[str]:
        """The slot set and the parked list of one organization."""
        return [f"fair:{org_id}:slots", f"fair:{org_id}:parked"]

    def admit(self, org_id: str, limit: int, document_id: str) -> bool:
        """Take a slot for a document (True: publish it now), or park it (False)."""
        now = time.time()
        args = [now, now + self.queued_seconds, limit, document_id]
        return bool(self._admit(keys=self.keys(org_id), args=args))

    def started(self, org_id: str, document_id: str) -> None:
        """A worker took the document: keep its slot for as long as the task may run."""
        self.client.zadd(self.keys(org_id)[0], {document_id: time.time() + self.running_seconds})

    def finish(self, org_id: str, document_id: str) -> str | None:
        """Free the document's slot; returns the parked document it was handed to, if any."""
        now = time.time()
        nxt = self._finish(
            keys=self.keys(org_id), args=[now, now + self.queued_seconds, document_id]
        )
        return nxt.decode() if isinstance(nxt, bytes) else nxt

    def holders(self, org_id: str) -> int:
        """Slots the organization holds now (expired ones excluded)."""
        return int(self.client.zcount(self.keys(org_id)[0], time.time(), "+inf"))

    def parked(self, org_id: str) -> int:
        """Documents of the organization waiting for a slot."""
        return int(self.client.llen(self.keys(org_id)[1]))


def init_app(app: Flask) -> None:
    """Bind the slots to the app's Redis."""
    client = redis.Redis.from_url(
        app.config["REDIS_URL"], socket_timeout=2, socket_connect_timeout=2
    )
    app.extensions["fairness"] = Fairness(
        client,
        queued_seconds=app.config["FAIR_QUEUED_SECONDS"],
        running_seconds=app.config["DOCUMENT_TIME_LIMIT"] + 60,
    )


def fairness() -> Fairness:
    """The current app's slots."""
    return current_app.extensions["fairness"]


def queue_for(plan_id: str) -> str:
    """The Celery queue of a plan's documents (paid plans never queue behind free ones)."""
    return f"{current_app.config['DOCUMENT_QUEUE_PREFIX']}-{plan_id}"


PLAN_IDS = ("enterprise", "pro", "free")


def worker_queues(prefix: str, default: str = "default") -> str:
    """The ``-Q`` list a worker needs: the default queue, then every plan's documents."""
    return ",".join([default, *(f"{prefix}-{plan}" for plan in PLAN_IDS)])
