"""Fair sharing of workers between organizations (DESIGN.md §5).

Each organization may hold at most its plan's ``worker_slots`` tasks at once. Slots are a
Redis sorted set per organization (member: task id, score: expiry), so the slot of a worker
that crashed comes back by itself. A task that finds its organization at its cap does not
wait inside a worker: it parks its document in the organization's Redis list and returns;
the task that frees a slot takes the next parked document and queues it again. Both steps are
single Lua scripts, so a document is never parked just after the last slot was freed (no lost
wake-up). If Redis loses a parked list, the reaper re-queues documents left ``queued``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis
from flask import Flask, current_app

log = logging.getLogger(__name__)

# KEYS: slots zset, parked list. ARGV: now, expiry, limit, task id, document id.
# A redelivered message keeps its task id, so it takes back the slot its dead worker held.
_ACQUIRE_OR_PARK = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil((ARGV[2] - ARGV[1]) * 1000))
  return 1
end
redis.call('RPUSH', KEYS[2], ARGV[5])
redis.call('PEXPIRE', KEYS[2], 86400000)
return 0
"""

# KEYS: slots zset, parked list. ARGV: task id. Returns the next parked document, if any.
_RELEASE_AND_NEXT = """
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('LPOP', KEYS[2])
"""


@dataclass
class Fairness:
    """Per-organization worker slots on Redis."""

    client: redis.Redis
    slot_seconds: float

    def __post_init__(self) -> None:
        self._acquire = self.client.register_script(_ACQUIRE_OR_PARK)
        self._release = self.client.register_script(_RELEASE_AND_NEXT)

    @staticmethod
    def keys(org_id: str) -> list[str]:
        """The slot set and the parked list of one organization."""
        return [f"fair:{org_id}:slots", f"fair:{org_id}:parked"]

    def acquire_or_park(self, org_id: str, limit: int, task_id: str, document_id: str) -> bool:
        """Take a slot (True), or park the document until a slot frees up (False)."""
        now = time.time()
        taken = self._acquire(
            keys=self.keys(org_id),
            args=[now, now + self.slot_seconds, limit, task_id, document_id],
        )
        return bool(taken)

    def release(self, org_id: str, task_id: str) -> str | None:
        """Free the slot; returns the next parked document of the organization, if any."""
        nxt = self._release(keys=self.keys(org_id), args=[task_id])
        return nxt.decode() if isinstance(nxt, bytes) else nxt

    def holders(self, org_id: str) -> int:
        """Slots the organization holds now (expired ones excluded)."""
        return int(self.client.zcount(self.keys(org_id)[0], time.time(), "+inf"))

    def parked(self, org_id: str) -> int:
        """Documents of the organization waiting for a slot."""
        return int(self.client.llen(self.keys(org_id)[1]))


def init_app(app: Flask) -> None:
    """Bind the slots to the app's Redis; a slot outlives the task's hard time limit."""
    client = redis.Redis.from_url(app.config["REDIS_URL"], socket_timeout=2)
    app.extensions["fairness"] = Fairness(client, app.config["DOCUMENT_TIME_LIMIT"] + 60)


def fairness() -> Fairness:
    """The current app's slots."""
    return current_app.extensions["fairness"]


def queue_for(plan_id: str) -> str:
    """The Celery queue of a plan's documents (paid plans never queue behind free ones)."""
    return f"{current_app.config['DOCUMENT_QUEUE_PREFIX']}-{plan_id}"


def all_queues(app: Flask) -> list[str]:
    """Every queue a worker should consume, default first."""
    prefix = app.config["DOCUMENT_QUEUE_PREFIX"]
    return [app.config["CELERY"]["task_default_queue"]] + [
        f"{prefix}-{plan}" for plan in ("enterprise", "pro", "free")
    ]
