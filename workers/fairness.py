"""Fair sharing of workers between organizations (DESIGN.md §5).

An organization may have at most its plan's ``worker_slots`` documents in the Celery queues
or in a worker at once. The rest wait in the organization's own Redis list, outside Celery,
so one tenant's backlog of thousands never stands in the queue in front of another tenant's
single upload: the queue only ever holds a few documents of each organization.

* ``admit`` (when a document is dispatched) takes a slot, or parks the document;
* ``finish`` (when a worker is done with it) frees the slot and hands it straight to the
  organization's next parked document, which is then published.

Slots are a sorted set per organization (member: document id, score: expiry). A worker renews
its document's slot while it works, so a dead worker's slot expires within seconds; the
reconciler (workers/reconcile.py) then hands it to the next parked document (``wake``), and
rebuilds what Redis lost from PostgreSQL (``rebuild``). Every step is a single Lua script: a
document is never parked just after the last slot was freed (no lost wake-up), never parked
twice, and never published again while it holds a slot. If Redis is down, dispatch fails open
(the document is published without a slot).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis
import redis.cluster
from flask import Flask, current_app

from webapp import load
from webapp.redis_client import redis_from_url

log = logging.getLogger(__name__)

# KEYS: slots, parked, load counters (webapp/load.py). ARGV: now, expiry, limit, document id,
# the load counters' minute and expiry (a parked document counts in them).
# Returns 1: publish it now; 0: parked (now or already); -1: it already holds a slot, so its
# message is in a queue or a worker and must not be published twice.
_ADMIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then
  return -1
end
if redis.call('LPOS', KEYS[2], ARGV[4]) then
  return 0
end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
  redis.call('EXPIRE', KEYS[1], 86400)
  return 1
end
redis.call('RPUSH', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[2], 86400)
redis.call('HINCRBY', KEYS[3], ARGV[5] .. ':p', 1)
redis.call('EXPIREAT', KEYS[3], ARGV[6])
return 0
"""

# KEYS: slots, parked. ARGV: expiry, document id. A worker holds the document now: it keeps
# (or takes) a slot until then, and is no longer waiting if it was parked too.
_HOLD = """
redis.call('LREM', KEYS[2], 0, ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], 86400)
"""

# KEYS: slots, parked, load counters. ARGV: now, expiry for the next one, document id, the
# load counters' minute and expiry, documents processed (0 or 1) and milliseconds it took.
# Returns the next. Only a document that held a slot hands one on: a duplicate message never
# adds a slot.
_FINISH = """
if tonumber(ARGV[6]) > 0 then
  redis.call('HINCRBY', KEYS[3], ARGV[4] .. ':d', ARGV[6])
  redis.call('HINCRBY', KEYS[3], ARGV[4] .. ':s', ARGV[7])
  redis.call('EXPIREAT', KEYS[3], ARGV[5])
end
if redis.call('ZREM', KEYS[1], ARGV[3]) == 0 then
  return false
end
local nxt = redis.call('LPOP', KEYS[2])
if nxt then
  redis.call('ZADD', KEYS[1], ARGV[2], nxt)
  redis.call('EXPIRE', KEYS[1], 86400)
end
return nxt
"""

# KEYS: slots, parked. ARGV: now, expiry, limit. Slots of dead workers have expired: hand the
# free ones to parked documents. Returns those to publish, and how many slots and parked
# documents the organization has afterwards.
_WAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local woken = {}
while redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) do
  local nxt = redis.call('LPOP', KEYS[2])
  if not nxt then break end
  redis.call('ZADD', KEYS[1], ARGV[2], nxt)
  redis.call('EXPIRE', KEYS[1], 86400)
  woken[#woken + 1] = nxt
end
return {woken, redis.call('ZCARD', KEYS[1]), redis.call('LLEN', KEYS[2])}
"""

# KEYS: slots, parked. ARGV: now, queued expiry, limit, running expiry, how many running
# ids, then the running ids, then the queued ids oldest first. Running documents hold a slot;
# each queued document Redis does not track is admitted or parked, in order. Returns the
# admitted ones, to publish.
_REBUILD = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local parked = {}
for _, id in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do parked[id] = true end
local running = tonumber(ARGV[5])
for i = 6, 5 + running do
  if not redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], ARGV[4], ARGV[i])
  end
end
local admitted = {}
for i = 6 + running, #ARGV do
  local id = ARGV[i]
  if not parked[id] and not redis.call('ZSCORE', KEYS[1], id) then
    if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
      redis.call('ZADD', KEYS[1], ARGV[2], id)
      admitted[#admitted + 1] = id
    else
      redis.call('RPUSH', KEYS[2], id)
    end
    parked[id] = true
  end
end
redis.call('EXPIRE', KEYS[1], 86400)
redis.call('EXPIRE', KEYS[2], 86400)
return admitted
"""


@dataclass
class Fairness:
    """Per-organization worker slots on Redis.

    ``queued_seconds``: how long a slot is kept for a document waiting in the Celery queue;
    ``running_seconds``: how long once a worker holds it. The worker renews it while it works
    (workers/leases.py), so a dead worker's slot comes back within this time.
    """

    client: redis.Redis
    queued_seconds: float
    running_seconds: float

    def __post_init__(self) -> None:
        self._admit = self.client.register_script(_ADMIT)
        self._hold = self.client.register_script(_HOLD)
        self._finish = self.client.register_script(_FINISH)
        self._wake = self.client.register_script(_WAKE)
        self._rebuild = self.client.register_script(_REBUILD)

    @staticmethod
    def keys(org_id: str) -> list[str]:
        """The slot set and the parked list of one organization (one hash slot in a cluster)."""
        return [f"fair:{{{org_id}}}:slots", f"fair:{{{org_id}}}:parked"]

    def admit(self, org_id: str, limit: int, document_id: str) -> bool:
        """Take a slot for a document (True: publish it now), or park it (False).

        A document that already holds a slot or waits in the list is not admitted again (a
        relay or reconciler sending it twice): False, its message is already on its way.
        """
        now = time.time()
        where = load.slot(now)
        args = [now, now + self.queued_seconds, limit, document_id, where.minute, where.expire_at]
        keys = [*self.keys(org_id), load.load_key(org_id, where.hour)]
        return self._admit(keys=keys, args=args) == 1

    def started(self, org_id: str, document_id: str) -> None:
        """A worker took the document: it holds a slot while the worker renews it."""
        self.hold(org_id, document_id, self.running_seconds)

    def hold(self, org_id: str, document_id: str, seconds: float) -> None:
        """Keep (or take) the document's slot for ``seconds`` more: renewal, retry."""
        self._hold(keys=self.keys(org_id), args=[time.time() + seconds, document_id])

    def finish(
        self, org_id: str, document_id: str, processed_seconds: float | None = None
    ) -> str | None:
        """Free the document's slot; returns the parked document it was handed to, if any.

        ``processed_seconds``: the document was processed (done or failed) in that time; it
        counts in the organization's load counters (webapp/load.py) in the same call, which
        also marks the organization active (pipelined: the same round trip).
        """
        now = time.time()
        where = load.slot(now)
        done = processed_seconds is not None
        args = [now, now + self.queued_seconds, document_id, where.minute, where.expire_at]
        args += [int(done), round((processed_seconds or 0) * 1000)]
        keys = [*self.keys(org_id), load.load_key(org_id, where.hour)]
        if not done:
            return _optional_text(self._finish(keys=keys, args=args))
        if isinstance(self.client, redis.cluster.RedisCluster):  # no scripts in its pipelines
            self.client.zadd(load.ACTIVE_KEY, {org_id: where.epoch_minute}, gt=True)
            return _optional_text(self._finish(keys=keys, args=args))
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(load.ACTIVE_KEY, {org_id: where.epoch_minute}, gt=True)
        self._finish(keys=keys, args=args, client=pipe)
        return _optional_text(pipe.execute()[-1])

    def unpublished(self, org_id: str, document_id: str) -> None:
        """A document handed a slot could not be published: first in line again, slot freed."""
        keys = self.keys(org_id)
        pipe = self.client.pipeline()
        pipe.zrem(keys[0], document_id).lpush(keys[1], document_id).expire(keys[1], 86400)
        pipe.execute()

    def release(self, org_id: str, document_id: str) -> None:
        """Forget a document entirely (its worker died: the reconciler sends it again)."""
        keys = self.keys(org_id)
        self.client.pipeline().zrem(keys[0], document_id).lrem(keys[1], 0, document_id).execute()

    def wake(self, org_id: str, limit: int) -> tuple[list[str], int]:
        """Give expired slots to parked documents; (documents to publish, tracked count)."""
        now = time.time()
        woken, holders, parked = self._wake(
            keys=self.keys(org_id), args=[now, now + self.queued_seconds, limit]
        )
        return [_text(i) for i in woken], int(holders) + int(parked)

    def rebuild(self, org_id: str, limit: int, running: list[str], queued: list[str]) -> list[str]:
        """Track again what Redis lost: running documents hold slots, queued ones are admitted
        or parked in order (those already tracked are left alone); returns those to publish."""
        now = time.time()
        args = [now, now + self.queued_seconds, limit, now + self.running_seconds, len(running)]
        admitted = self._rebuild(keys=self.keys(org_id), args=[*args, *running, *queued])
        return [_text(i) for i in admitted]

    def holders(self, org_id: str) -> int:
        """Slots the organization holds now (expired ones excluded)."""
        return int(self.client.zcount(self.keys(org_id)[0], time.time(), "+inf"))

    def holds(self, org_id: str, document_id: str) -> bool:
        """Whether the document holds a live slot."""
        score = self.client.zscore(self.keys(org_id)[0], document_id)
        return score is not None and score > time.time()

    def parked(self, org_id: str) -> int:
        """Documents of the organization waiting for a slot."""
        return int(self.client.llen(self.keys(org_id)[1]))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _optional_text(value: bytes | str | None) -> str | None:
    return None if value is None else _text(value)


def init_app(app: Flask) -> None:
    """Bind the slots to the app's Redis."""
    client = redis_from_url(
        app.config["REDIS_URL"],
        socket_timeout=2,
        socket_connect_timeout=app.config["BROKER_CONNECT_TIMEOUT"],
    )
    app.extensions["fairness"] = Fairness(
        client,
        queued_seconds=app.config["FAIR_QUEUED_SECONDS"],
        running_seconds=app.config["LEASE_SECONDS"],
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
