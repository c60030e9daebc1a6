"""Rate limits on Redis with the `limits` library (DESIGN.md §5).

What is limited (every window of one organization in one Redis Cluster hash slot: keys
``LIMITS:pmdi:{<org id>}:...``, see ``organization_rules``):

- interactive pages against the organization's ``page_requests_per_minute`` and the member's
  ``user_requests_per_minute``; the API against the organization's ``requests_per_minute``
  and the token's ``token_requests_per_minute``. Pages and API never share a window, so a
  script's flood never refuses the members' pages, nor the reverse (issue 12);
- uploaded files against the organization's ``uploads_per_hour``, each file of a
  ``documents.upload`` or ``api.upload_documents`` POST counting one, and against the
  sender's own attempt window of the same size. Both are held for the upload's files while it
  runs; afterwards (``refund_uploads``) the files it kept leave the sender's window and the
  files it refused (forbidden, unsupported, empty, duplicate, too large, over quota) leave the
  organization's: a refused file counts against its sender alone;
- a burst window under the minute one: in any ``RATELIMIT_BURST_SECONDS`` an organization
  may spend at most ``RATELIMIT_BURST_FACTOR`` times its average share of the minute (but
  never fewer than ``RATELIMIT_BURST_MINIMUM`` requests), so a flood cannot take the whole
  minute's allowance in its first seconds and hold every web worker meanwhile;
- unauthenticated pages per client address (``ANONYMOUS_LIMIT_PER_IP``);
- log-in attempts per account and per address (``login_attempt``), whatever
  ``RATELIMIT_ENABLED`` says. Static files are never limited.

**Live limits.** The numbers come from ``plans.effective_limit`` on the organization that is
loaded with the user (plan joined) at the start of every request, so a limit an admin changes
in the database applies from the next request on, in every process. For API tokens each
process also remembers the windows of the last check (webapp/remembered.py): the check then
starts before the token lookup (``LimitDoor``), is compared with the limits the lookup
reads, and a token refused a moment ago is refused again without the database; a NOTIFY on
every limit change makes each process forget what it remembers (until it arrives, at most
``REFUSAL_MEMORY_SECONDS``, such a token is refused by its old limits: webapp/remembered.py).

**One round trip.** Each window is a moving window kept the way `limits`' own
``MovingWindowRateLimiter`` keeps it on Redis (a list of hit timestamps, newest first, trimmed
to the limit). `limits` needs two calls to hit a window and then read its stats (``hit`` and
``get_window_stats``), and cannot hit two windows all-or-nothing, so ``WINDOWS_SCRIPT`` does
both for every window of the request in one ``EVALSHA``: an upload counts one request and N
files in the same call, and if either window is full neither is charged. The same call
counts the organization's load (webapp/load.py). An upload then writes its refunds without
waiting (their replies are read before the thread's next command).

**Fail open.** If Redis does not answer within ``RATELIMIT_SOCKET_TIMEOUT`` the request is
admitted, the failure counted (``RateLimiter.failures``) and a warning logged (at most every
``RATELIMIT_WARNING_INTERVAL`` seconds); for ``RATELIMIT_RETRY_INTERVAL`` seconds afterwards
Redis is not asked at all, so a dead Redis costs at most one timeout per process per interval.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Flask, after_this_request, current_app, g, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from limits import RateLimitItem, parse
from limits.storage import RedisClusterStorage, RedisStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from redis._parsers import _HiredisParser
from redis.connection import Connection
from redis.exceptions import NoScriptError, ResponseError
from sqlalchemy.engine import Engine
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from webapp import load
from webapp.api.errors import api_error, error_body
from webapp.api.tokens import bearer_token
from webapp.errors import refused_page
from webapp.extensions import db
from webapp.headers import SECURITY_HEADERS, request_id
from webapp.models import Organization
from webapp.plans import effective_limit
from webapp.remembered import LimitChanges, RememberedWindows, token_key

log = logging.getLogger(__name__)

# KEYS: one moving-window list per rule. ARGV[1]: now (epoch seconds); then, per key, its
# limit, window (seconds) and cost. Checks every window first and records the hits only if all
# have room (like limits' acquire_moving_window.lua, for several windows), then returns
# {admitted, then per key: hits in the window, oldest hit in it, the hit that blocks}.
# Every step is O(1) amortised: no scan of a long list, whatever the limit.
WINDOWS_SCRIPT = """
local now = tonumber(ARGV[1])
local windows = tonumber(ARGV[2])
local admitted = 1
local blockers = {}
for i = 1, windows do
  local key = KEYS[i]
  local limit = tonumber(ARGV[3 * i])
  local window = tonumber(ARGV[3 * i + 1])
  local cost = tonumber(ARGV[3 * i + 2])
  blockers[i] = ''
  if cost > limit then
    admitted = 0
    blockers[i] = 'never'
  elseif cost > 0 then
    local entry = redis.call('lindex', key, limit - cost)
    if entry and tonumber(entry) >= now - window then
      admitted = 0
      blockers[i] = entry
    end
  end
end
-- The lists' lengths as LPUSH reports them, so no LLEN is needed below.
local lengths = {}
if admitted == 1 then
  for i = 1, windows do
    local key = KEYS[i]
    local cost = tonumber(ARGV[3 * i + 2])
    if cost > 0 then
      local entries = {}
      for j = 1, cost do entries[j] = ARGV[1] end
      local length = 0
      for j = 1, cost, 5000 do
        length = redis.call('lpush', key, unpack(entries, j, math.min(j + 4999, cost)))
      end
      local limit = tonumber(ARGV[3 * i])
      if length > limit then
        redis.call('ltrim', key, 0, limit - 1)
        length = limit
      end
      redis.call('expire', key, tonumber(ARGV[3 * i + 1]))
      lengths[i] = length
    end
  end
end
-- The organization's load counters (webapp/load.py), when a key follows the windows:
-- requests, refusals and uploaded files of this minute, in the same call.
local load = KEYS[windows + 1]
if load then
  local base = 3 * windows + 3
  local minute = ARGV[base]
  -- The hash's expiry is the same all hour: set by the first request of each minute.
  if redis.call('hincrby', load, minute .. ':r', 1) == 1 then
    redis.call('expireat', load, tonumber(ARGV[base + 1]))
  end
  if admitted == 0 then
    redis.call('hincrby', load, minute .. ':x', 1)
  elseif tonumber(ARGV[base + 2]) > 0 then
    redis.call('hincrby', load, minute .. ':u', tonumber(ARGV[base + 2]))
  end
end
local result = {admitted}
for i = 1, windows do
  local key = KEYS[i]
  -- Hits that left the window never count again (time only moves on): drop them from the
  -- tail, oldest first, so each hit is dropped once and the count is the list's length.
  local since = now - tonumber(ARGV[3 * i + 1])
  local oldest = redis.call('lindex', key, -1)
  local length = lengths[i]
  while oldest and tonumber(oldest) < since do
    redis.call('rpop', key)
    if length then length = length - 1 end
    oldest = redis.call('lindex', key, -1)
  end
  table.insert(result, length or redis.call('llen', key))
  table.insert(result, oldest or '')
  table.insert(result, blockers[i])
end
return result
"""


# Forks of this process so far: a thread's connection made before a fork is the parent's.
_forks = [0]
os.register_at_fork(after_in_child=lambda: _forks.__setitem__(0, _forks[0] + 1))

# The limiter's own connections, as CLIENT LIST shows them.
CLIENT_NAME = "pmdi-ratelimit"
API_PREFIX = "/api/"
UPLOAD_ENDPOINT = "api.upload_documents"  # counted per file: never answered from memory
# What LimitDoor leaves in the WSGI environ for the limiter's hooks in Flask.
GENERATION = "pmdi.limits_generation"
TOKEN_KEY = "pmdi.token_key"
EARLY = "pmdi.early_check"
# The decision of the request's check: its headers are added by ``LimitDoor`` as the response
# starts (webapp/observe.py reads it too, for a request refused before Flask).
DECISION = "pmdi.rate_limit"


@dataclass(frozen=True)
class Verdict:
    """Whether a log-in attempt was admitted, and when to retry if not."""

    allowed: bool
    retry_after: int = 0


@dataclass(frozen=True)
class Rule:
    """One window a request is counted against."""

    name: str  # what it limits, for messages: "requests_per_minute", "uploads_per_hour", ...
    key: str  # the window's Redis key (without the storage prefix)
    limit: int
    window: int  # seconds
    cost: int = 1
    source: str = ""  # where the limit comes from, for messages: "the Free plan", ...


@dataclass(frozen=True)
class WindowState:
    """A window after a check: what the X-RateLimit headers report."""

    rule: Rule
    count: int  # hits inside the window, this request's included if admitted
    reset_at: float  # epoch seconds when the oldest hit leaves the window (a slot frees)
    retry_after: int  # seconds until this window would take the request; 0 if it had room

    @property
    def remaining(self) -> int:
        return max(0, self.rule.limit - self.count)


@dataclass(frozen=True)
class Decision:
    """The outcome of one request's check over all of its windows."""

    admitted: bool
    windows: tuple[WindowState, ...]

    @property
    def reported(self) -> WindowState:
        """The window the headers describe: the first that refused, else the first."""
        return next((w for w in self.windows if w.retry_after), self.windows[0])

    @property
    def retry_after(self) -> int:
        return max((w.retry_after for w in self.windows), default=0)

    def headers(self) -> list[tuple[str, str]]:
        """X-RateLimit-* of the reported window, and Retry-After on a refusal."""
        window = self.reported
        rule = window.rule
        headers = [
            ("X-RateLimit-Limit", str(rule.limit)),
            ("X-RateLimit-Remaining", str(window.remaining)),
            ("X-RateLimit-Reset", str(math.ceil(window.reset_at))),
        ]
        if not self.admitted:
            headers.append(("Retry-After", str(self.retry_after)))
        return headers


@dataclass
class EarlyCheck:
    """A remembered token's check, started before its lookup (``RateLimiter.early_check``)."""

    rules: tuple[Rule, ...]
    started: float  # time.perf_counter()
    pending: Pending | None = None  # sent, its reply not read yet
    decision: Decision | None = None
    elapsed_ms: float = 0.0  # what the request waited for the check

    def result(self, limiter: RateLimiter) -> Decision | None:
        """The decision, reading the pending reply first (waiting only for what is left)."""
        if self.pending is not None:
            waited = time.perf_counter()
            self.decision = limiter.guarded(self.pending.result)
            self.pending = None
            self.elapsed_ms = (time.perf_counter() - waited) * 1000
        return self.decision


def _bulk(value: bytes) -> bytes:
    """One RESP bulk string."""
    return b"$%d\r\n%s\r\n" % (len(value), value)


def _packed_arg(value: str | int) -> bytes:
    return _bulk(str(value).encode())


class PackedCheck:
    """One rules tuple's ``EVALSHA`` of ``WINDOWS_SCRIPT``, packed but for what changes."""

    __slots__ = ("rules", "head", "head_load", "static", "uploads", "_tail")

    def __init__(
        self,
        rules: Sequence[Rule],
        sha: str,
        keys: Sequence[str],
        static_args: Sequence[str | int],
        uploads: int,
    ) -> None:
        self.rules = rules
        packed_keys = b"".join(_bulk(key.encode()) for key in keys)
        # The moment (ARGV[1]) goes between the keys and the static arguments.
        argc = 3 + len(keys) + 1 + len(static_args)
        start = _bulk(b"EVALSHA") + _bulk(sha.encode())
        self.head = b"*%d\r\n" % argc + start + _packed_arg(len(keys)) + packed_keys
        # With the load counters: their key after the windows', three arguments after theirs.
        self.head_load = b"*%d\r\n" % (argc + 4) + start + _packed_arg(len(keys) + 1) + packed_keys
        self.static = b"".join(_packed_arg(arg) for arg in static_args)
        self.uploads = uploads
        self._tail: tuple[load.Slot | None, tuple[bytes]] = (None, (b"",))

    def tail(self, where: load.Slot) -> tuple[bytes]:
        """The load counters' arguments: the minute's field, the hash's expiry, the files
        (packed once a minute: ``load.slot`` hands out the same slot all minute)."""
        kept_slot, packed = self._tail  # one tuple: never a minute with another's bytes
        if kept_slot is not where:
            args = (where.minute, where.expire_at, self.uploads)
            packed = (b"".join(_packed_arg(arg) for arg in args),)
            self._tail = (where, packed)
        return packed


class MovingWindows:
    """Several moving windows, checked and hit in a single Lua call (one round trip).

    The call goes out on a connection each thread keeps for itself, made with the client's
    settings (timeouts, database): checked out of the client's pool, redis-py's bookkeeping
    around a command costs several times the command itself, and this runs on every request.
    """

    def __init__(self, client: Any, prefix: str = "LIMITS", count_load: bool = False) -> None:
        self.client = client
        self.prefix = prefix
        self.script = client.register_script(WINDOWS_SCRIPT)
        self.count_load = count_load  # the load counters (webapp/load.py) ride along
        self.active = load.ActiveOrganizations()
        # id(rules) -> (rules, keys, args): the rules are kept, so the id is never reused.
        self._memo: dict[int, tuple[Sequence[Rule], list[str], list[str | int]]] = {}
        self._packed_memo: dict[int, PackedCheck] = {}  # id(rules) -> its packed command
        # (epoch hour, org id -> that hour's packed load key)
        self._load_keys: tuple[int, dict[str, bytes]] = (-1, {})
        self._local = threading.local()  # connection, pid, pending

    def _connection(self) -> Any:
        local = self._local
        if getattr(local, "forks", -1) != _forks[0]:  # new thread, or a forked process
            pool = self.client.connection_pool
            settings = {**pool.connection_kwargs, "client_name": CLIENT_NAME}
            local.connection = connection = pool.connection_class(**settings)
            local.forks = _forks[0]
            local.pending = None
            local.unread = 0
            # redis-py's own connection with the C parser: its parser is read directly for
            # the check's reply (``_read``), skipping the wrapper's checks around it.
            local.raw = type(connection) is Connection and isinstance(
                connection._parser, _HiredisParser
            )
        return local.connection

    def _read(self, connection: Any) -> Any:
        """One reply from this thread's connection (an error reply raised)."""
        if not self._local.raw or connection._sock is None:
            return connection.read_response()
        reply = connection._parser.read_response()
        if isinstance(reply, ResponseError):
            raise reply
        return reply

    def send(
        self, rules: Sequence[Rule], now: float | None = None, org_id: str | None = None
    ) -> Pending:
        """Send the check of ``acquire`` without waiting for its reply (``Pending.result``).

        With ``org_id`` (and load counting on) the same call counts the request in the
        organization's load counters; the first call of a minute for an organization also
        marks it active, pipelined in the same write (one round trip on one Redis).
        """
        now = time.time() if now is None else now
        packed = self._packed(rules)
        stamp = _bulk(f"{now:.6f}".encode())
        zadd: list[bytes] | None = None
        if org_id is not None and self.count_load:
            where = load.slot(now)
            command = b"".join(
                (packed.head_load, self._load_key(org_id, where.hour), stamp, packed.static)
                + packed.tail(where)
            )
            if self.active.first_this_minute(org_id, where.epoch_minute):
                zadd = self._connection().pack_command(
                    "ZADD", load.ACTIVE_KEY, where.epoch_minute, org_id
                )
        else:
            command = b"".join((packed.head, stamp, packed.static))
        connection = self._connection()
        self.settle()  # a reply still unread on this connection is read first
        try:
            connection.send_packed_command([command] if zadd is None else [*zadd, command])
        except Exception:
            connection.disconnect()
            raise
        pending = self._local.pending = Pending(
            self, connection, tuple(rules), now, command, 0 if zadd is None else 1
        )
        return pending

    def _packed(self, rules: Sequence[Rule]) -> PackedCheck:
        """The rules' ``EVALSHA`` as RESP bytes, all but the moment (and the load counters'
        key and slot), built once per rules tuple (``RateLimiter.request_rules`` hands out the
        same one): packing a dozen arguments per request costs more than sending them."""
        memo = self._packed_memo.get(id(rules))
        if memo is not None and memo.rules is rules:
            return memo
        keys, args = self._encoded(rules)
        uploads = sum(r.cost for r in rules if r.name == "uploads_per_hour")
        made = PackedCheck(rules, self.script.sha, keys, args[1:], uploads)
        if isinstance(rules, tuple):  # immutable: worth keeping
            if len(self._packed_memo) >= 10_000:
                self._packed_memo = {}
            self._packed_memo[id(rules)] = made
        return made

    def _load_key(self, org_id: str, hour: int) -> bytes:
        """The organization's load counters' key of ``hour``, packed (kept for the hour)."""
        kept_hour, kept = self._load_keys  # one tuple: never an hour with another's keys
        if kept_hour != hour or len(kept) >= 10_000:
            kept = {}
            self._load_keys = (hour, kept)
        packed = kept.get(org_id)
        if packed is None:
            packed = kept[org_id] = _bulk(load.load_key(org_id, hour).encode())
        return packed

    def _encoded(self, rules: Sequence[Rule]) -> tuple[list[str], list[str | int]]:
        """Fresh copies of the rules' keys and arguments (``args[0]``, the time, left blank),
        built once per rules tuple (``RateLimiter.request_rules`` hands out the same one)."""
        memo = self._memo.get(id(rules))
        if memo is not None and memo[0] is rules:
            return list(memo[1]), list(memo[2])
        keys = [f"{self.prefix}:{rule.key}" for rule in rules]
        args: list[str | int] = ["", len(keys)]
        for rule in rules:
            args += [rule.limit, rule.window, rule.cost]
        if isinstance(rules, tuple):  # immutable: worth keeping
            if len(self._memo) >= 10_000:
                self._memo = {}
            self._memo[id(rules)] = (rules, keys, args)
        return list(keys), list(args)

    def acquire(
        self, rules: Sequence[Rule], now: float | None = None, org_id: str | None = None
    ) -> Decision:
        """Charge every rule its cost if all have room; a cost of 0 only reads the window."""
        return self.send(rules, now, org_id).result()

    def refund(
        self, refunds: Sequence[tuple[Rule, int]], at: float, org_id: str | None = None
    ) -> None:
        """Take back hits a check at ``at`` recorded: ``count`` of each rule's window (and, for
        the organization's uploads, of its load counters). Sent without waiting: the replies
        are read before this thread's next command, so it adds no wait to the request."""
        commands: list[tuple[Any, ...]] = []
        for rule, count in refunds:
            if count <= 0:
                continue
            commands.append(("LREM", f"{self.prefix}:{rule.key}", count, f"{at:.6f}"))
            if rule.name == "uploads_per_hour" and org_id is not None and self.count_load:
                where = load.slot(at)
                loaded = load.load_key(org_id, where.hour)
                commands.append(("HINCRBY", loaded, f"{where.minute}:u", -count))
        if not commands:
            return
        connection = self._connection()
        self.settle()
        try:
            connection.send_packed_command(connection.pack_commands(commands))
        except Exception:
            connection.disconnect()
            raise
        self._local.unread = len(commands)

    def settle(self) -> None:
        """Read and drop this thread's unread replies, if any."""
        unread = getattr(self._local, "unread", 0)
        if unread:
            self._local.unread = 0
            try:
                for _ in range(unread):
                    self._local.connection.read_response()
            except Exception:  # noqa: BLE001 - a refund lost; never a late reply misread
                self._local.connection.disconnect()
        pending = getattr(self._local, "pending", None)
        if pending is not None:
            try:
                pending.result()
            except Exception:  # noqa: BLE001 - its connection is closed; nothing to read
                pass

    def _receive(self, pending: Pending) -> Any:
        if getattr(self._local, "pending", None) is pending:
            self._local.pending = None
        connection = pending.connection
        try:
            for _ in range(pending.before):
                self._read(connection)  # the ZADD marking the organization active
            try:
                return self._read(connection)
            except NoScriptError:  # a new or restarted Redis: load the script, once
                connection.send_command("SCRIPT", "LOAD", WINDOWS_SCRIPT)
                connection.read_response()
                connection.send_packed_command([pending.command])
                return connection.read_response()
        except Exception:
            connection.disconnect()  # never read a late reply as the next command's answer
            raise


class ClusterMovingWindows(MovingWindows):
    """The same script on a Redis Cluster (``REDIS_URL=redis+cluster://...``).

    The cluster client sends it to the node that holds the keys' hash slot (one organization's
    keys, its load counters included, share its ``{<id>}`` tag) and follows a MOVED reply; the
    reply is read at once, so a remembered token's check no longer overlaps its lookup there,
    and the once-a-minute "active" mark (another slot) is a command of its own.
    """

    def send(
        self, rules: Sequence[Rule], now: float | None = None, org_id: str | None = None
    ) -> Pending:
        now = time.time() if now is None else now
        keys, args = self._encoded(rules)
        args[0] = f"{now:.6f}"
        if org_id is not None and self.count_load:
            where = load.slot(now)
            keys.append(load.load_key(org_id, where.hour))
            uploads = sum(r.cost for r in rules if r.name == "uploads_per_hour")
            args += [where.minute, where.expire_at, uploads]
            if self.active.first_this_minute(org_id, where.epoch_minute):
                self.client.zadd(load.ACTIVE_KEY, {org_id: where.epoch_minute})
        reply = self.script(keys=keys, args=args)
        return Pending(self, reply, tuple(rules), now)

    def refund(
        self, refunds: Sequence[tuple[Rule, int]], at: float, org_id: str | None = None
    ) -> None:
        for rule, count in refunds:
            if count <= 0:
                continue
            self.client.lrem(f"{self.prefix}:{rule.key}", count, f"{at:.6f}")
            if rule.name == "uploads_per_hour" and org_id is not None and self.count_load:
                where = load.slot(at)
                self.client.hincrby(load.load_key(org_id, where.hour), f"{where.minute}:u", -count)

    def settle(self) -> None:
        """Nothing is ever left unread."""

    def _receive(self, pending: Pending) -> Any:
        return pending.connection  # the reply itself, read in ``send``


@dataclass
class Pending:
    """A check sent on a thread's connection, its reply not read yet."""

    windows: MovingWindows
    connection: Any
    rules: tuple[Rule, ...]
    now: float
    command: bytes = b""  # the check as sent (sent again if Redis had lost the script)
    before: int = 0  # replies of pipelined commands that come before the check's

    def result(self) -> Decision:
        """Wait for the reply: the decision over every window."""
        reply = self.windows._receive(self)
        windows = []
        for index, rule in enumerate(self.rules):
            count, first, blocker = reply[1 + 3 * index : 4 + 3 * index]
            reset_at = float(first) + rule.window if first else self.now
            retry_after = 0
            if blocker == b"never":
                retry_after = rule.window
            elif blocker:
                retry_after = max(1, math.ceil(float(blocker) + rule.window - self.now))
            windows.append(WindowState(rule, int(count), reset_at, retry_after))
        return Decision(bool(reply[0]), tuple(windows))


class RateLimiter:
    """One app's limiter: its Redis storage, windows, failure counter and hooks."""

    def __init__(self, app: Flask) -> None:
        config = app.config
        timeout = float(config["RATELIMIT_SOCKET_TIMEOUT"])
        self.storage = storage_from_string(
            config["RATELIMIT_STORAGE_URI"],
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
        assert isinstance(self.storage, RedisStorage), "rate limits need Redis"
        self.login_limiter = MovingWindowRateLimiter(self.storage)
        windows = (
            ClusterMovingWindows if isinstance(self.storage, RedisClusterStorage) else MovingWindows
        )
        self.windows = windows(
            self.storage.get_connection(),
            self.storage.key_prefix,
            count_load=bool(config.get("LOAD_COUNTERS_ENABLED", True)),
        )
        self.enabled = bool(config["RATELIMIT_ENABLED"])
        self.anonymous_limit = parse(config["ANONYMOUS_LIMIT_PER_IP"])
        self.retry_interval = float(config["RATELIMIT_RETRY_INTERVAL"])
        self.burst_seconds = int(config["RATELIMIT_BURST_SECONDS"])
        self.burst_factor = float(config["RATELIMIT_BURST_FACTOR"])
        self.burst_minimum = int(config["RATELIMIT_BURST_MINIMUM"])
        self.timing = bool(config.get("RATELIMIT_SERVER_TIMING"))
        self.warning_interval = float(config["RATELIMIT_WARNING_INTERVAL"])
        self.failures = 0  # checks that failed open because Redis did not answer
        self.on_fail_open: list[Callable[[], None]] = []  # called on each (webapp/observe.py)
        self.url_map = app.url_map
        self.json = app.json  # jsonify's provider, usable before Flask's context exists
        self.remembered = RememberedWindows(
            LimitChanges(lambda: _engine_of(app), url=lambda: config.get("LISTEN_DATABASE_URL")),
            float(config["REFUSAL_MEMORY_SECONDS"]),
        )
        self._lock = threading.Lock()
        self._rules: dict[tuple, tuple[Rule, ...]] = {}  # see ``request_rules``
        self._skip_until = 0.0
        self._warned_at = -math.inf

    # --- storage calls, failing open ----------------------------------------------------

    def guarded(self, call: Callable[[], Any]) -> Any | None:
        """``call()``, or None (counted, logged) when Redis fails or failed a moment ago."""
        now = time.monotonic()
        if now < self._skip_until:
            self._count_failure(None)
            return None
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - no storage failure may take a request down
            self._skip_until = time.monotonic() + self.retry_interval
            self._count_failure(exc)
            return None

    def _count_failure(self, exc: Exception | None) -> None:
        for listener in self.on_fail_open:
            listener()
        with self._lock:
            self.failures += 1
            now = time.monotonic()
            if exc is None or now - self._warned_at < self.warning_interval:
                return
            self._warned_at = now
        log.warning(
            "rate limit storage unavailable (%s: %s); failing open (%d checks so far)",
            type(exc).__name__,
            exc,
            self.failures,
        )

    def hit(self, limit: RateLimitItem, *identifiers: str) -> Verdict:
        """Count one hit on a `limits` moving window (the log-in throttles)."""

        def attempt() -> Verdict:
            if self.login_limiter.hit(limit, *identifiers):
                return Verdict(True)
            reset_at, _ = self.login_limiter.get_window_stats(limit, *identifiers)
            return Verdict(False, max(1, math.ceil(reset_at - time.time())))

        return self.guarded(attempt) or Verdict(True)

    def check(
        self, rules: Sequence[Rule], org_id: str | None = None, now: float | None = None
    ) -> Decision | None:
        """Charge the rules in one round trip (counting the organization's load in it); None
        if there is nothing to check or Redis failed."""
        if not rules:
            return None
        return self.guarded(lambda: self.windows.acquire(rules, now, org_id))

    # --- which windows a request counts against ----------------------------------------

    def organization_rules(
        self, org: Organization, uploads: int = 0, *, api: bool = True, subject: str = ""
    ) -> list[Rule]:
        """The windows of one request, all in the organization's hash slot (``{org id}``).

        API requests count against the organization's API budget (``requests_per_minute``)
        and their token's (``token_requests_per_minute``, ``subject`` naming the token);
        pages against the organization's page budget (``page_requests_per_minute``) and
        their member's (``user_requests_per_minute``, ``subject`` the member's id). The two
        budgets never share a window, so a flood on one never refuses the other. Files sent
        count against the organization's hourly upload allowance and their sender's own
        attempt window (``uploader``: the member) of the same size; files the upload then
        refuses are given back to the organization (``refund_uploads``), not to the sender.
        """
        tag = load.org_tag(org.id)
        rules = []
        source = _limit_source(org)
        budget, own, kind = (
            ("requests_per_minute", "token_requests_per_minute", "api")
            if api
            else ("page_requests_per_minute", "user_requests_per_minute", "pages")
        )
        per_minute = _int_limit(org, budget)
        if per_minute is not None:
            rules.append(Rule(budget, f"{tag}:{kind}", per_minute, 60, 1, source(budget)))
            if self.burst_seconds:
                # The minute's allowance may not all be spent in one burst that would hold
                # every web worker for seconds: at most burst_factor times the average rate.
                share = math.ceil(per_minute * self.burst_seconds / 60 * self.burst_factor)
                burst = max(share, self.burst_minimum)
                if burst < per_minute:
                    key = f"{tag}:{kind}:burst"
                    rules.append(Rule("burst", key, burst, self.burst_seconds, 1, source(budget)))
        per_subject = _int_limit(org, own)
        # A member's or token's window no smaller than the organization's budget could never
        # refuse first (each of its hits is one of the organization's): it is left out.
        if subject and per_subject is not None and (per_minute is None or per_subject < per_minute):
            key = f"{tag}:{kind}:{subject}"
            rules.append(Rule(own, key, per_subject, 60, 1, source(own)))
        per_hour = _int_limit(org, "uploads_per_hour")
        if uploads and per_hour is not None:
            upload_source = source("uploads_per_hour")
            rules.append(
                Rule("uploads_per_hour", f"{tag}:uploads", per_hour, 3600, uploads, upload_source)
            )
        return rules

    def request_rules(
        self, org: Organization, api: bool, subject: str, sender: str, uploads: int = 0
    ) -> tuple[Rule, ...]:
        """``organization_rules`` with the sender's attempt window, built once per set of
        inputs: the rules are a function of the organization's id, plan and overrides (read
        afresh with every request, so a changed limit still applies at once)."""
        if uploads:
            rules = self.organization_rules(org, uploads, api=api, subject=subject)
            return tuple(self._with_attempts(rules, org, sender))
        plan, overrides = org.plan, org.quota_overrides
        key = (
            org.id,
            api,
            subject,
            plan.name,
            plan.requests_per_minute if api else plan.page_requests_per_minute,
            plan.token_requests_per_minute if api else plan.user_requests_per_minute,
            tuple(overrides.items()) if overrides else (),
        )
        cached = self._rules.get(key)
        if cached is None:
            if len(self._rules) >= 10_000:
                self._rules = {}
            rules = self.organization_rules(org, api=api, subject=subject)
            cached = self._rules[key] = tuple(rules)
        return cached

    def upload_attempt_rule(self, org: Organization, sender: str, uploads: int) -> Rule | None:
        """The sender's own window of refused files (files sent are held in it during their
        upload; those kept leave it after, see ``refund_uploads``)."""
        per_hour = _int_limit(org, "uploads_per_hour")
        if not uploads or per_hour is None:
            return None
        key = f"{load.org_tag(org.id)}:uploads:{sender}"
        return Rule("upload_attempts", key, per_hour, 3600, uploads, _limit_source(org)(""))

    def anonymous_rules(self, address: str) -> list[Rule]:
        """The per-address window of unauthenticated pages."""
        item = self.anonymous_limit
        key = f"pmdi:{{ip:{address}}}:pages"
        return [Rule("anonymous", key, item.amount, item.get_expiry())]

    def peek(self, org: Organization) -> Decision | None:
        """The organization's windows as they stand, charging nothing (for the usage page)."""
        both = self.organization_rules(org, 1) + self.organization_rules(org, api=False)
        unique = {r.key: Rule(r.name, r.key, r.limit, r.window, 0) for r in both}
        return self.check(list(unique.values()))

    def refund_uploads(self, response: Response) -> Response:
        """After an upload: the files it kept stay in the organization's hourly allowance and
        leave their sender's attempt window; the files it refused the other way round. So a
        refused file counts against its sender alone (a viewer cannot block everyone)."""
        charged = g.pop("uploads_charged", None)
        if charged is None:
            return response
        allowance, attempts, at, org_id = charged
        accepted = min(int(g.get("uploads_accepted", 0)), allowance.cost)
        refunds = [(allowance, allowance.cost - accepted)]
        if attempts is not None:
            refunds.append((attempts, accepted))
        self.guarded(lambda: self.windows.refund(refunds, at, org_id))
        return response

    # --- request hooks -------------------------------------------------------------------

    def limit_page_request(self) -> ResponseReturnValue | None:
        """Pages: the organization's windows when signed in, else the address's."""
        if request.blueprint == "api" or _is_static(request.endpoint):
            return None  # the API is checked after its token is read; static files never
        if current_user.is_authenticated:
            uploads = 0
            if request.endpoint == "documents.upload" and request.method == "POST":
                uploads = _count_files(request.files.getlist("files"))
            org, user_id = current_user.organization, str(current_user.id)
            rules = self.request_rules(org, False, user_id, user_id, uploads)
            return self._enforce(rules, org_id=str(org.id))
        return self._enforce(self.anonymous_rules(request.remote_addr or "unknown"))

    def _with_attempts(self, rules: list[Rule], org: Organization, sender: str) -> list[Rule]:
        uploads = next((r.cost for r in rules if r.name == "uploads_per_hour"), 0)
        attempts = self.upload_attempt_rule(org, sender, uploads)
        return rules if attempts is None else [*rules, attempts]

    def early_check(self, environ: dict[str, Any]) -> Response | None:
        """API, before Flask: start the check of a remembered token (webapp/remembered.py).

        A token refused a moment ago is checked at once and, while its windows are full,
        refused here (no database, no Flask request). Any other remembered token's check is
        sent now and its reply read by ``limit_api_request``, after the token lookup.
        """
        generation = environ[GENERATION] = self.remembered.generation()
        presented = bearer_token(environ.get("HTTP_AUTHORIZATION"))
        if presented is None or self._is_upload(environ):
            return None
        key = environ[TOKEN_KEY] = token_key(presented)
        remembered = self.remembered.recall(key, generation)
        if remembered is None:
            return None
        early = EarlyCheck(remembered.rules, time.perf_counter())
        org_id = remembered.org_id
        if not remembered.refused:
            early.pending = self.guarded(lambda: self.windows.send(remembered.rules, org_id=org_id))
            if early.pending is not None:
                environ[EARLY] = early
            return None
        decision = early.decision = self.check(remembered.rules, org_id)
        early.elapsed_ms = (time.perf_counter() - early.started) * 1000
        if decision is None:
            return None
        if decision.admitted:
            environ[EARLY] = early
            return None
        self.remembered.remember(key, remembered.rules, generation, decision.retry_after, org_id)
        environ[DECISION] = decision  # its headers (LimitDoor), the request metrics (observe)
        message = _refusal_message(decision.reported)
        response = self.json.response(error=error_body(429, "rate_limited", message))
        response.status_code = 429
        response.headers["X-Request-ID"] = request_id(environ.get("HTTP_X_REQUEST_ID"))
        response.headers.update(SECURITY_HEADERS)
        if self.timing:
            self._server_timing(response, early.elapsed_ms)
        return response

    def settle_unread(self, environ: dict[str, Any]) -> None:
        """After the app: a check whose reply no hook read (the token was refused, say)."""
        early = environ.pop(EARLY, None)
        if early is not None and early.pending is not None:
            self.guarded(early.pending.result)
            self.remembered.forget(environ[TOKEN_KEY])

    def _is_upload(self, environ: dict[str, Any]) -> bool:
        if environ.get("REQUEST_METHOD") != "POST":
            return False
        try:
            endpoint, _ = self.url_map.bind_to_environ(environ).match()
        except HTTPException:
            return False
        return endpoint == UPLOAD_ENDPOINT

    def limit_api_request(self) -> ResponseReturnValue | None:
        """API: the token's organization (runs after ``api.auth.authenticate_request``)."""
        # The request and g looked up once each (every proxied attribute is a lookup).
        found = g._get_current_object()  # type: ignore[attr-defined]
        user = found.get("api_user")
        if user is None:
            return None
        current = request._get_current_object()  # type: ignore[attr-defined]
        environ = current.environ
        uploads = 0
        if current.endpoint == UPLOAD_ENDPOINT and current.method == "POST":
            uploads = _count_files(current.files.getlist("file"))
        key = environ.get(TOKEN_KEY)
        if key is None:  # an upload: the early door did not look at its token
            key = token_key(bearer_token(current.headers.get("Authorization")) or "")
        org, org_id = user.organization, str(user.organization_id)
        rules = self.request_rules(org, True, key.hex()[:20], str(user.id), uploads)
        early: EarlyCheck | None = environ.pop(EARLY, None)
        if early is not None:
            decision = early.result(self)
            if early.rules == rules:  # the early check is this request's check
                found.rate_limit, found.rate_limit_ms = decision, early.elapsed_ms
                if decision is not None:
                    environ[DECISION] = decision
                return self._api_verdict(environ, rules, decision, org_id, remember=True)
            # Else the limits changed after they were remembered, their notification not yet
            # read: the request is checked again by the current limits, and so counted twice.
        verdict = self._enforce(rules, org_id, api=True)
        self._api_verdict(environ, rules, found.rate_limit, org_id, remember=not uploads)
        return verdict

    def _api_verdict(
        self,
        environ: dict[str, Any],
        rules: tuple[Rule, ...],
        decision: Decision | None,
        org_id: str,
        remember: bool,
    ) -> ResponseReturnValue | None:
        if decision is None:
            return None
        if remember and TOKEN_KEY in environ:
            retry_after = 0 if decision.admitted else decision.retry_after
            self.remembered.remember(
                environ[TOKEN_KEY], rules, environ[GENERATION], retry_after, org_id
            )
        return None if decision.admitted else self._refuse(decision, api=True)

    def _enforce(
        self, rules: Sequence[Rule], org_id: str | None = None, api: bool = False
    ) -> ResponseReturnValue | None:
        started = time.perf_counter()
        now = time.time()
        decision = g.rate_limit = self.check(rules, org_id, now)
        g.rate_limit_ms = (time.perf_counter() - started) * 1000
        if decision is None:
            return None
        request.environ[DECISION] = decision  # its headers: LimitDoor adds them
        if decision.admitted:
            uploads = next((r for r in rules if r.name == "uploads_per_hour"), None)
            attempts = next((r for r in rules if r.name == "upload_attempts"), None)
            if uploads is not None:
                g.uploads_charged = (uploads, attempts, now, org_id)  # for refund_uploads
                after_this_request(self.refund_uploads)
            return None
        return self._refuse(decision, api)

    def _refuse(self, decision: Decision, api: bool) -> ResponseReturnValue:
        message = _refusal_message(decision.reported)
        if api or _prefers_json():
            return api_error(429, "rate_limited", message)
        return refused_page(message, decision.retry_after), 429

    def server_timing(self, response: Response) -> Response:
        """``Server-Timing: ratelimit;dur=<ms>`` (``RATELIMIT_SERVER_TIMING``, for bench/)."""
        return self._server_timing(response, g.get("rate_limit_ms"))

    @staticmethod
    def _server_timing(response: Response, elapsed_ms: float | None) -> Response:
        if elapsed_ms is not None:
            response.headers["Server-Timing"] = f"ratelimit;dur={elapsed_ms:.3f}"
        return response


def _engine_of(app: Flask) -> Engine:
    with app.app_context():  # LimitDoor runs before Flask pushes one
        return db.engine


def _is_static(endpoint: str | None) -> bool:
    return endpoint is not None and (endpoint == "static" or endpoint.endswith(".static"))


def _count_files(parts: Iterable[Any]) -> int:
    """File parts that carry a file, counted the way the upload views count them."""
    return sum(1 for part in parts if part and (part.filename or part.content_length))


def _prefers_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _int_limit(org: Organization, name: str) -> int | None:
    value = effective_limit(org, name)
    return None if value is None else int(value)  # an override is JSON: lenient about type


def _limit_source(org: Organization) -> Callable[[str], str]:
    """For a limit name: "the Free plan", or "your organization's own setting" if overridden."""
    overrides = org.quota_overrides or {}
    plan = f"the {org.plan.name} plan"
    return lambda name: "your organization's own setting" if name in overrides else plan


def in_about(seconds: int) -> str:
    """A wait the way people say it: "in 12 seconds", "in about 4 minutes", "in about an hour"."""
    if seconds < 90:
        return f"in {seconds} second{'s' if seconds != 1 else ''}"
    minutes = round(seconds / 60)
    if minutes < 50:
        return f"in about {minutes} minutes"
    hours = round(seconds / 3600)
    return "in about an hour" if hours <= 1 else f"in about {hours} hours"


def _refusal_message(window: WindowState) -> str:
    rule = window.rule
    limit, wait = rule.limit, window.retry_after
    what = {
        "requests_per_minute": f"your organization's limit of {limit} API requests per minute",
        "token_requests_per_minute": f"this token's limit of {limit} requests per minute",
        "page_requests_per_minute": f"your organization's limit of {limit} page views per minute",
        "user_requests_per_minute": f"your limit of {limit} page views per minute",
        "uploads_per_hour": f"your organization's limit of {limit} uploaded files per hour",
        "upload_attempts": f"your own limit of {limit} refused files per hour",
        "burst": f"your organization's limit of {limit} requests in {rule.window} s",
    }.get(rule.name, f"the limit of {limit} requests per minute from your address")
    if rule.source:
        what += f", set by {rule.source}"
    if rule.cost > limit:
        return f"This upload of {rule.cost} files is more than {what}."
    return f"You have reached {what}. Try again {in_about(wait)}."


class LimitDoor:
    """WSGI middleware around the app: API requests meet ``RateLimiter.early_check`` before
    Flask, and every checked response gets its X-RateLimit-* headers (``Decision.headers``)
    as it starts.

    The headers are appended to the header list the server is handed, after Flask and its
    hooks are done with the response: added earlier, every later header lookup or
    ``setdefault`` of a hook (the security headers, the request id) would scan them too.
    """

    def __init__(self, wsgi_app: Callable[..., Any], limiter: RateLimiter) -> None:
        self.wsgi_app = wsgi_app
        self.limiter = limiter

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def start_with_limits(status: str, headers: list, exc_info: Any = None) -> Any:
            decision = environ.get(DECISION)
            if decision is not None:
                headers += decision.headers()
            return start_response(status, headers, exc_info)

        if not environ.get("PATH_INFO", "").startswith(API_PREFIX):
            return self.wsgi_app(environ, start_with_limits)
        refused = self.limiter.early_check(environ)
        if refused is not None:
            return refused(environ, start_with_limits)
        try:
            return self.wsgi_app(environ, start_with_limits)
        finally:
            self.limiter.settle_unread(environ)


class ServerTiming:
    """WSGI middleware adding ``Server-Timing: app;dur=<ms>`` (benchmarks measure with it)."""

    def __init__(self, wsgi_app: Callable[..., Any]) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started = time.perf_counter()

        def timed_start_response(status: str, headers: list, *args: Any) -> Any:
            elapsed = (time.perf_counter() - started) * 1000
            headers.append(("Server-Timing", f"app;dur={elapsed:.3f}"))
            return start_response(status, headers, *args)

        return self.wsgi_app(environ, timed_start_response)


class RateLimits:
    """The extension: ``init_app`` gives each app its own ``RateLimiter``."""

    def init_app(self, app: Flask) -> None:
        """Connect to the app's Redis and install the hooks.

        Call it after the API blueprint is registered: the API check must run after the
        blueprint's token authentication, so it is appended to the blueprint's hooks.
        """
        limiter = RateLimiter(app)
        app.extensions["ratelimits"] = limiter
        if limiter.enabled:
            if "api" not in app.blueprints:
                raise RuntimeError("rate limits: register the API blueprint first")
            app.before_request(limiter.limit_page_request)
            app.before_request_funcs.setdefault("api", []).append(limiter.limit_api_request)
            app.wsgi_app = LimitDoor(app.wsgi_app, limiter)  # type: ignore[method-assign]
            if limiter.timing:
                app.after_request(limiter.server_timing)
        if app.config.get("RATELIMIT_SERVER_TIMING"):
            app.wsgi_app = ServerTiming(app.wsgi_app)  # type: ignore[method-assign]

    @property
    def current(self) -> RateLimiter:
        """The current app's limiter."""
        return current_app.extensions["ratelimits"]

    @property
    def failures(self) -> int:
        """Checks of the current app that failed open."""
        return self.current.failures

    def hit(self, limit: RateLimitItem, *identifiers: str) -> Verdict:
        """Count one hit for the current app (see ``RateLimiter.hit``)."""
        return self.current.hit(limit, *identifiers)


rate_limits = RateLimits()


def login_attempt(email: str, ip: str | None) -> Verdict:
    """Count a log-in attempt per account and per IP; refused if either is over its limit."""
    config = current_app.config
    by_account = rate_limits.hit(
        parse(config["LOGIN_LIMIT_PER_ACCOUNT"]), "login-account", email.strip().lower()
    )
    by_ip = rate_limits.hit(parse(config["LOGIN_LIMIT_PER_IP"]), "login-ip", ip or "unknown")
    if by_account.allowed and by_ip.allowed:
        return Verdict(True)
    return Verdict(False, max(by_account.retry_after, by_ip.retry_after))
