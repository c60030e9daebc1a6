"""The limiter's logic on fakeredis (Lua through lupa): windows, all-or-nothing, round trips."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import fakeredis
import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import Map

from webapp.ratelimit import MovingWindows, RateLimiter, Rule

NOW = 1_700_000_000.0


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
    real = fakeredis.FakeRedisConnection.send_command

    def counting(connection: Any, *args: Any, **options: Any) -> Any:
        fake.commands.append(str(args[0]))
        return real(connection, *args, **options)

    monkeypatch.setattr(fakeredis.FakeRedisConnection, "send_command", counting)
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
    assert (rule.limit, rule.window, rule.key) == (5, 60, "pmdi/ip/203.0.113.9/requests")


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
        plan=SimpleNamespace(uploads_per_hour=20),
    )
    rules = limiter_with(windows).organization_rules(org, uploads=2)  # type: ignore[arg-type]
    by_name = {rule.name: rule for rule in rules}
    assert by_name["requests_per_minute"].limit == per_minute
    assert (by_name["uploads_per_hour"].limit, by_name["uploads_per_hour"].cost) == (20, 2)
    if burst is None:
        assert "burst" not in by_name or by_name["burst"].limit == 10
    else:
        assert (by_name["burst"].limit, by_name["burst"].window) == (burst, 1)
