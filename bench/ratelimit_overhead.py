"""What the rate limiter costs: document-list throughput with it on and off, interleaved.

    python bench/ratelimit_overhead.py [--rounds 6] [--requests 300] [--clients 4]
                                       [--database-url URL] [--redis-url URL]

Two gunicorn servers (2 sync workers each) run on one database of its own
(``pmdi_bench_rl_overhead``, made with ``bench/memory.py``'s helpers) and a Redis database of its
own: one with ``RATELIMIT_ENABLED=1``, one with ``RATELIMIT_ENABLED=0``. One organization (10
queued documents, ``requests_per_minute`` overridden high enough never to refuse) lists its
documents through the API (``GET /api/v1/documents``) with ``--clients`` concurrent clients,
``--requests`` requests per round; rounds alternate on/off (and which goes first), so drift of
the machine falls on both alike. Prints each round's throughput and the on/off ratio of the
totals.

Then, in a process of its own (``--in-process``), the same list request is called straight
through two apps' WSGI entry (limiter on, off), alternating request by request, and the CPU
time of that process per request is printed: what the limiter costs the web process, without
the network and the machine's other processes in the figure (Redis's own share is not in it).
Figures only; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import memory  # noqa: E402 - after the path is set
from bench.noisy_neighbour import (  # noqa: E402
    DEFAULT_REDIS_URL,
    Server,
    drop_database,
    forget_window,
    make_tenants,
    prepare_database,
    request,
    seed_documents,
    set_limits,
    start_gunicorn,
)

DATABASE = "pmdi_bench_rl_overhead"


def throughput(server: Server, token: str, total: int, clients: int) -> tuple[float, int]:
    """Requests per second for ``total`` list requests from ``clients`` threads; non-200s."""
    per_client = total // clients
    failures = [0] * clients

    def run(index: int) -> None:
        for _ in range(per_client):
            if request(server, "GET", "/api/v1/documents", token).status != 200:
                failures[index] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return per_client * clients / (time.perf_counter() - started), sum(failures)


def main(argv: list[str] | None = None) -> int:
    """Set up two servers, alternate rounds, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6, help="rounds per setting")
    parser.add_argument("--requests", type=int, default=300, help="requests per round")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL") or memory.DEFAULT_ADMIN_URL,
        help="an admin URL that may create databases and roles",
    )
    parser.add_argument(
        "--redis-url", default=DEFAULT_REDIS_URL, help="a Redis database this script may flush"
    )
    parser.add_argument(
        "--database-name",
        default=DATABASE,
        help="the bench's own database (dropped at the end): one per concurrent run",
    )
    parser.add_argument("--in-process", nargs=3, metavar=("APP_URL", "REDIS_URL", "TOKEN"))
    args = parser.parse_args(argv)
    if args.in_process:
        return in_process(*args.in_process, rounds=args.rounds, requests=args.requests)

    import logging

    import redis

    logging.getLogger().setLevel(logging.WARNING)
    print("bench/ratelimit_overhead.py — document list throughput, limiter on vs off")
    print(f"  command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    print(
        f"  two servers: gunicorn, 2 sync workers each; {os.cpu_count()} CPUs; "
        f"{args.clients} clients x {args.requests} requests per round, {args.rounds} rounds each"
    )
    redis.Redis.from_url(args.redis_url).flushdb()
    owner_url, app_url = prepare_database(args.database_url, args.database_name)
    workdir = Path(tempfile.mkdtemp(prefix="pmdi-bench-rl-overhead-"))
    # No Server-Timing headers (nothing here reads them): "on" would time its check and add
    # a header for it on every response, work the limiter does only for benchmarks.
    untimed = {"RATELIMIT_SERVER_TIMING": "0"}
    servers = {
        "on": start_gunicorn(
            app_url, args.redis_url, workdir, "on", RATELIMIT_ENABLED="1", **untimed
        ),
        "off": start_gunicorn(
            app_url, args.redis_url, workdir, "off", RATELIMIT_ENABLED="0", **untimed
        ),
    }
    results: dict[str, list[float]] = {"on": [], "off": []}
    refused = 0
    try:
        (tenant,) = make_tenants(app_url, args.redis_url, 1)
        set_limits(owner_url, tenant, "enterprise")
        seed_documents(servers["on"], tenant, 10)
        # High enough that no round is ever refused: the bench measures the check, not a 429.
        set_limits(
            owner_url,
            tenant,
            "enterprise",
            requests_per_minute=10**6,
            token_requests_per_minute=10**6,
        )
        forget_window(args.redis_url, tenant)
        for name in ("on", "off"):  # warm-up
            throughput(servers[name], tenant.token, 100, args.clients)
        print(f"\n  {'round':>5} {'first':>5} {'on req/s':>10} {'off req/s':>10} {'on/off':>7}")
        for round_number in range(args.rounds):
            order = ("on", "off") if round_number % 2 == 0 else ("off", "on")
            measured = {}
            for name in order:
                rate, failed = throughput(servers[name], tenant.token, args.requests, args.clients)
                measured[name] = rate
                results[name].append(rate)
                refused += failed
            print(
                f"  {round_number + 1:>5} {order[0]:>5} {measured['on']:10.1f} "
                f"{measured['off']:10.1f} {measured['on'] / measured['off']:7.3f}"
            )
        for server in servers.values():
            server.stop()  # the in-process rounds have the CPUs to themselves
        child = subprocess.run(
            [sys.executable, __file__, "--in-process", app_url, args.redis_url, tenant.token]
            + ["--rounds", str(args.rounds), "--requests", str(args.requests)],
            capture_output=True,
            text=True,
            check=True,
        )
        in_process_lines = child.stdout
    finally:
        for server in servers.values():
            server.stop()
        redis.Redis.from_url(args.redis_url).flushdb()
        drop_database(args.database_url, args.database_name)
        shutil.rmtree(workdir, ignore_errors=True)

    on, off = statistics.mean(results["on"]), statistics.mean(results["off"])
    print(
        f"\n  mean throughput: on {on:.1f} req/s, off {off:.1f} req/s -> "
        f"ratio on/off {on / off:.3f} (target >= 0.90)"
    )
    ratios = [a / b for a, b in zip(results["on"], results["off"], strict=True)]
    print(
        f"  median of round ratios: {statistics.median(ratios):.3f}; non-200 responses: {refused}"
    )
    print(in_process_lines, end="")
    return 0


def in_process(app_url: str, redis_url: str, token: str, rounds: int, requests: int) -> int:
    """CPU time per list request through the WSGI entry of a limiter-on and -off app."""
    from werkzeug.test import EnvironBuilder

    from webapp import create_app

    base = {"SECRET_KEY": "bench-secret", "SQLALCHEMY_DATABASE_URI": app_url}
    base |= {"REDIS_URL": redis_url, "METRICS_ENABLED": False, "LOG_FORMAT": "text"}
    apps = {
        "on": create_app({**base, "RATELIMIT_ENABLED": True}),
        "off": create_app({**base, "RATELIMIT_ENABLED": False}),
    }
    headers = {"Authorization": f"Bearer {token}"}

    def one(app) -> float:
        """CPU microseconds of one list request."""
        environ = EnvironBuilder(path="/api/v1/documents", headers=headers).get_environ()
        statuses: list[str] = []
        started = time.process_time()
        body = app(environ, lambda status, headers, *a: statuses.append(status))
        b"".join(body)
        getattr(body, "close", lambda: None)()
        assert statuses[0].startswith("200"), statuses
        return (time.process_time() - started) * 1e6

    for _ in range(100):  # warm-up
        one(apps["on"]), one(apps["off"])
    results: dict[str, list[float]] = {"on": [], "off": []}
    print(
        "\n  in one process, straight through the WSGI entry, on and off alternating request by"
        " request\n  (median CPU microseconds per request):\n"
        f"  {'round':>5} {'on cpu':>8} {'off cpu':>8} {'off/on':>7}"
    )
    for round_number in range(rounds):
        order = ("on", "off") if round_number % 2 == 0 else ("off", "on")
        measured: dict[str, list[float]] = {"on": [], "off": []}
        for _ in range(requests):
            for name in order:
                measured[name].append(one(apps[name]))
        on, off = statistics.median(measured["on"]), statistics.median(measured["off"])
        results["on"] += measured["on"]
        results["off"] += measured["off"]
        print(f"  {round_number + 1:>5} {on:8.0f} {off:8.0f} {off / on:7.3f}")
    on, off = statistics.median(results["on"]), statistics.median(results["off"])
    print(
        f"  median CPU per request, all rounds: on {on:.0f} us, off {off:.0f} us -> the limiter "
        f"+{on - off:.0f} us; CPU-bound throughput ratio on/off {off / on:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
