"""The limiter's logic on fakeredis (Lua through lupa): windows, all-or-nothing, round trips."""

from __future__ import annotations

import logging
import re
import time
from types import SimpleNamespace
from typing import Any

import fakeredis
import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import Map

from webapp.ratelimit import MovingWindows, RateLimiter, Rule

NOW = 1_700_000_000.0
COMMAND_NAME = re.compile(rb"\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n")


class CountingRedis(fakeredis.FakeRedis):
    """A fake Redis; ``commands`` lists every command any connection of it sends.

    Counted at the connection, where a command becomes a round trip: the limiter sends its
    script on a connection of its own, not through the client's ``execute_command``.
    """

    commands: list[str]


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def client(server: fakeredis.FakeServer, monkeypatch: pytest.MonkeyPatch) -> CountingRedis:
    fake = CountingRedis(server=server)
    fake.commands = []
    # Every command, alone or pipelined, packed by redis-py or by the limiter itself, is
    # written by send_packed_command: one write, one round trip.
    real = fakeredis.FakeRedisConnection.send_packed_command

    def counting(connection: Any, command: Any, *args: Any, **options: Any) -> Any:
        packed = command if isinstance(command, bytes) else b"".join(command)
        fake.commands += [name.decode().upper() for name in COMMAND_NAME.findall(packed)]
        return real(connection, command, *args, **options)

    monkeypatch.setattr(fakeredis.FakeRedisConnection, "send_packed_command", counting)
    return fake


@pytest.fixture
def windows(client: CountingRedis) -> MovingWindows:
    return MovingWindows(client)


def requests(limit: int = 3, cost: int = 1) -> Rule:
    return Rule("requests_per_minute", "org/a/requests", limit, 60, cost)


def uploads(limit: int = 5, cost: int = 1) -> Rule:
    return Rule("uploads_per_hour", "org/a/uploads", limit, 3600, cost)


def test_admits_up_to_the_limit_then_refuses(windows: MovingWindows) -> None:
    results = [windows.acquire([requests()], now=NOW + i) for i in range(4)]
    assert [r.admitted for r in results] == [True, True, True, False]
    assert [r.reported.remaining for r in results] == [2, 1, 0, 0]
    refused = results[-1].reported
    # The first hit (at NOW) leaves the window at NOW + 60; asked at NOW + 3.
    assert refused.retry_after == 57
    assert refused.reset_at == NOW + 60


def test_refused_hits_are_not_recorded(windows: MovingWindows) -> None:
    for i in range(3):
        windows.acquire([requests()], now=NOW + i)
    for i in range(50):  # a flood past the limit changes nothing
        assert not windows.acquire([requests()], now=NOW + 10 + i / 100).admitted
    assert windows.acquire([requests()], now=NOW + 60.5).admitted  # the first hit aged out
    assert not windows.acquire([requests()], now=NOW + 60.6).admitted


def test_window_moves(windows: MovingWindows) -> None:
    for i in range(3):
        windows.acquire([requests()], now=NOW + 20 * i)  # hits at 0, 20, 40
    state = windows.acquire([requests(cost=0)], now=NOW + 70).reported  # the hit at 0 is gone
    assert (state.count, state.remaining, state.reset_at) == (2, 1, NOW + 80)


def test_upload_all_or_nothing_over_two_windows(windows: MovingWindows) -> None:
    """An upload refused by either window charges neither."""
    assert windows.acquire([requests(limit=10), uploads(limit=5, cost=4)], now=NOW).admitted
    refused = windows.acquire([requests(limit=10), uploads(limit=5, cost=2)], now=NOW + 1)
    assert not refused.admitted
    assert refused.reported.rule.name == "uploads_per_hour"
    assert refused.reported.retry_after == 3599
    counts = windows.acquire([requests(limit=10, cost=0), uploads(cost=0)], now=NOW + 2)
    assert [w.count for w in counts.windows] == [1, 4]  # the refused request was not counted
    assert windows.acquire([requests(limit=10), uploads(limit=5, cost=1)], now=NOW + 3).admitted


def test_more_files_than_the_limit_is_refused_outright(windows: MovingWindows) -> None:
    decision = windows.acquire([requests(limit=10), uploads(limit=5, cost=6)], now=NOW)
    assert not decision.admitted
    assert decision.reported.retry_after == 3600


def test_lowered_limit_applies_to_the_existing_window(windows: MovingWindows) -> None:
    """The key does not depend on the limit, so a change keeps the history it applies to."""
    for i in range(5):
        assert windows.acquire([requests(limit=10)], now=NOW + i).admitted
    decision = windows.acquire([requests(limit=3)], now=NOW + 6)
    assert not decision.admitted
    assert decision.reported.remaining == 0
    assert windows.acquire([requests(limit=6)], now=NOW + 7).admitted  # raised: room again


@pytest.mark.parametrize("rules", [[requests()], [requests(limit=10), uploads(cost=3)]])
def test_one_command_per_check(
    windows: MovingWindows, client: CountingRedis, rules: list[Rule]
) -> None:
    """Hit and stats, of one window or of two, cost one Redis command (one round trip)."""
    windows.acquire(rules, now=NOW)  # the first call may load the script
    client.commands.clear()
    for i in range(5):
        windows.acquire(rules, now=NOW + 1 + i)
    assert client.commands == ["EVALSHA"] * 5


def test_key_expires_after_its_window(windows: MovingWindows, client: CountingRedis) -> None:
    windows.acquire([uploads(cost=2)], now=NOW)
    assert 0 < client.ttl("LIMITS:org/a/uploads") <= 3600


# --- failing open -------------------------------------------------------------------------


def limiter_with(windows: MovingWindows) -> RateLimiter:
    """A RateLimiter without an app, on the given windows."""
    limiter = RateLimiter.__new__(RateLimiter)
    app = SimpleNamespace(
        config={
            "RATELIMIT_SOCKET_TIMEOUT": 0.1,
            "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6390/0",
            "RATELIMIT_ENABLED": True,
            "ANONYMOUS_LIMIT_PER_IP": "5/minute",
            "RATELIMIT_RETRY_INTERVAL": 60.0,
            "RATELIMIT_WARNING_INTERVAL": 60.0,
            "RATELIMIT_BURST_SECONDS": 1,
            "RATELIMIT_BURST_FACTOR": 2.0,
            "RATELIMIT_BURST_MINIMUM": 10,
            "REFUSAL_MEMORY_SECONDS": 1.0,
        },
        url_map=Map(),
        json=DefaultJSONProvider(Flask(__name__)),
    )
    RateLimiter.__init__(limiter, app)  # type: ignore[arg-type]
    limiter.windows = windows
    return limiter


def test_storage_failure_fails_open_counted_and_logged_once(
    windows: MovingWindows, server: fakeredis.FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.connected = False  # Redis is down: connection refused
    limiter = limiter_with(windows)
    with caplog.at_level(logging.WARNING, logger="webapp.ratelimit"):
        results = [limiter.check([requests()]) for _ in range(3)]
    assert results == [None, None, None]  # None: admit, no headers
    assert limiter.failures == 3
    warnings = [r for r in caplog.records if "failing open" in r.getMessage()]
    assert len(warnings) == 1  # then quiet for RATELIMIT_WARNING_INTERVAL


def test_after_a_failure_redis_is_left_alone_for_a_moment(
    windows: MovingWindows, client: CountingRedis, server: fakeredis.FakeServer
) -> None:
    limiter = limiter_with(windows)
    server.connected = False
    assert limiter.check([requests()]) is None
    server.connected = True
    client.commands.clear()
    assert limiter.check([requests()]) is None  # within RATELIMIT_RETRY_INTERVAL: not asked
    assert client.commands == [] and limiter.failures == 2
    limiter._skip_until = 0.0
    decision = limiter.check([requests()])
    assert decision is not None and decision.admitted


def test_anonymous_rule_comes_from_config(windows: MovingWindows) -> None:
    (rule,) = limiter_with(windows).anonymous_rules("203.0.113.9")
    assert (rule.limit, rule.window, rule.key) == (5, 60, "pmdi:{ip:203.0.113.9}:pages")


@pytest.mark.parametrize(
    ("per_minute", "burst"),
    [(60, None), (600, 20), (6000, 200), (5, None)],  # None: the minimum of 10 covers it
)
def test_organization_rules_with_burst(
    windows: MovingWindows, per_minute: int, burst: int | None
) -> None:
    org = SimpleNamespace(
        id="o1",
        quota_overrides={"requests_per_minute": per_minute},
        plan=SimpleNamespace(name="Free", uploads_per_hour=20, token_requests_per_minute=60),
    )
    rules = limiter_with(windows).organization_rules(org, uploads=2)  # type: ignore[arg-type]
    by_name = {rule.name: rule for rule in rules}
    assert by_name["requests_per_minute"].limit == per_minute
    assert (by_name["uploads_per_hour"].limit, by_name["uploads_per_hour"].cost) == (20, 2)
    if burst is None:
        assert "burst" not in by_name or by_name["burst"].limit == 10
    else:
        assert (by_name["burst"].limit, by_name["burst"].window) == (burst, 1)


def plan_org(org_id: str = "7d3c1e0e-0000-4000-8000-000000000001") -> SimpleNamespace:
    plan = SimpleNamespace(
        name="Free",
        requests_per_minute=60,
        token_requests_per_minute=30,
        page_requests_per_minute=60,
        user_requests_per_minute=30,
        uploads_per_hour=20,
    )
    return SimpleNamespace(id=org_id, quota_overrides={}, plan=plan)


def test_pages_and_api_have_windows_of_their_own(windows: MovingWindows) -> None:
    limiter = limiter_with(windows)
    org = plan_org()
    api = limiter.organization_rules(org, api=True, subject="tok")  # type: ignore[arg-type]
    pages = limiter.organization_rules(org, api=False, subject="u1")  # type: ignore[arg-type]
    assert {r.name for r in api} == {"requests_per_minute", "burst", "token_requests_per_minute"}
    assert {r.name for r in pages} == {
        "page_requests_per_minute",
        "burst",
        "user_requests_per_minute",
    }
    assert not {r.key for r in api} & {r.key for r in pages}  # no window is shared


def test_every_key_of_one_organization_is_in_one_cluster_slot(windows: MovingWindows) -> None:
    """Redis Cluster: one script may only touch keys of one hash slot ({org id} tags)."""
    from redis.crc import key_slot

    from webapp import load

    limiter = limiter_with(windows)
    org = plan_org()
    rules = [
        *limiter.organization_rules(org, 3, api=True, subject="tok"),  # type: ignore[arg-type]
        *limiter.organization_rules(org, 3, api=False, subject="u1"),  # type: ignore[arg-type]
        limiter.upload_attempt_rule(org, "u1", 3),  # type: ignore[arg-type]
    ]
    keys = [f"LIMITS:{r.key}" for r in rules] + [load.load_key(org.id, 1)]
    assert len(set(keys)) == 9  # api, burst, token, pages, burst, user, uploads, attempts, load
    assert {key_slot(k.encode()) for k in keys} == {key_slot(f"{{{org.id}}}".encode())}


def test_load_counters_ride_in_the_same_command(windows: MovingWindows, client) -> None:
    """The per-minute load counters add no round trip: still one EVALSHA per check; the
    first check of a minute also marks the organization active, pipelined in the same write."""
    from webapp import load

    windows.count_load = True
    now = time.time() // 60 * 60  # the counters expire by the clock: a real moment
    org_id = "7d3c1e0e-0000-4000-8000-000000000002"
    sent: list[str] = []
    real = fakeredis.FakeRedisConnection.send_packed_command

    def packed(connection: Any, command: Any, *args: Any, **options: Any) -> Any:
        sent.append("packed")
        return real(connection, command, *args, **options)

    fakeredis.FakeRedisConnection.send_packed_command = packed  # type: ignore[method-assign]
    try:
        windows.acquire([requests(limit=2)], now=now, org_id=org_id)  # may load the script
        client.commands.clear()
        sent.clear()
        for i in range(3):
            windows.acquire([requests(limit=2)], now=now + 1 + i, org_id=org_id)
    finally:
        fakeredis.FakeRedisConnection.send_packed_command = real  # type: ignore[method-assign]
    assert client.commands.count("EVALSHA") == 3 and set(client.commands) <= {"EVALSHA"}
    series = load.read_series(client, [org_id], 5, now=now + 4)[0]
    assert sum(series.values["requests"]) == 4
    assert sum(series.values["refusals"]) == 2  # limit 2: the third and fourth refused
    assert load.active_organizations(client, 5, now=now + 4) == [org_id]


def test_refund_gives_files_back_to_the_window(windows: MovingWindows) -> None:
    rule = uploads(limit=5, cost=3)
    assert windows.acquire([rule], now=NOW).admitted
    windows.refund([(rule, 2)], NOW)
    assert windows.acquire([uploads(limit=5, cost=0)], now=NOW + 1).windows[0].count == 1


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (1, "in 1 second"),
        (42, "in 42 seconds"),
        (600, "in about 10 minutes"),
        (3555, "in about an hour"),
        (7300, "in about 2 hours"),
    ],
)
def test_waits_are_said_the_way_people_say_them(seconds: int, said: str) -> None:
    from webapp.ratelimit import in_about

    assert in_about(seconds) == said


def test_the_hourly_refusal_says_when_and_what_the_plan_allows() -> None:
    """Issue 12: not "Try again in 3555 seconds" but "in about an hour", and the plan's limit."""
    from webapp.ratelimit import WindowState, _refusal_message

    rule = Rule("uploads_per_hour", "k", 20, 3600, 1, "the Free plan")
    message = _refusal_message(WindowState(rule, 20, NOW + 3555, 3555))
    assert message == (
        "You have reached your organization's limit of 20 uploaded files per hour, set by the "
        "Free plan. Try again in about an hour."
    )


def test_a_member_or_token_window_as_large_as_the_budget_is_not_checked(
    windows: MovingWindows,
) -> None:
    """It could never refuse first, so it costs nothing: only a smaller one is a window."""
    limiter = limiter_with(windows)
    org = plan_org()
    org.plan.token_requests_per_minute = 60  # the organization's API budget
    names = {r.name for r in limiter.organization_rules(org, api=True, subject="t")}  # type: ignore[arg-type]
    assert "token_requests_per_minute" not in names and "requests_per_minute" in names


@pytest.mark.parametrize("org_id", [None, "7d3c1e0e-0000-4000-8000-000000000003"])
def test_the_packed_check_is_the_command_redis_py_would_pack(
    windows: MovingWindows, client: CountingRedis, org_id: str | None
) -> None:
    """The check packed once per rules tuple (the moment and the load slot per request) is,
    byte for byte, the ``EVALSHA`` redis-py would pack from its keys and arguments."""
    from webapp import load

    windows.count_load = True
    rules = (requests(limit=10), uploads(limit=20, cost=3))
    now = time.time()
    windows.acquire(rules, now=now, org_id=org_id)  # loads the script; marks the org active
    written: list[bytes] = []
    real = fakeredis.FakeRedisConnection.send_packed_command

    def capture(connection: Any, command: Any, *args: Any, **options: Any) -> Any:
        written.append(command if isinstance(command, bytes) else b"".join(command))
        return real(connection, command, *args, **options)

    fakeredis.FakeRedisConnection.send_packed_command = capture  # type: ignore[method-assign]
    try:
        for step in (1, 2):  # the second from the memo
            written.clear()
            assert windows.acquire(rules, now=now + step, org_id=org_id).admitted
            keys = ["LIMITS:org/a/requests", "LIMITS:org/a/uploads"]
            args: list[Any] = [f"{now + step:.6f}", 2, 10, 60, 1, 20, 3600, 3]
            if org_id is not None:
                where = load.slot(now + step)
                keys.append(load.load_key(org_id, where.hour))
                args += [where.minute, where.expire_at, 3]
            connection = windows._connection()
            expected = connection.pack_command(
                "EVALSHA", windows.script.sha, len(keys), *keys, *args
            )
            assert written == [b"".join(expected)]
    finally:
        fakeredis.FakeRedisConnection.send_packed_command = real  # type: ignore[method-assign]
