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
totals. Figures only; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
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
    args = parser.parse_args(argv)

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
    owner_url, app_url = prepare_database(args.database_url, DATABASE)
    workdir = Path(tempfile.mkdtemp(prefix="pmdi-bench-rl-overhead-"))
    servers = {
        "on": start_gunicorn(app_url, args.redis_url, workdir, "on", RATELIMIT_ENABLED="1"),
        "off": start_gunicorn(app_url, args.redis_url, workdir, "off", RATELIMIT_ENABLED="0"),
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
    finally:
        for server in servers.values():
            server.stop()
        redis.Redis.from_url(args.redis_url).flushdb()
        drop_database(args.database_url, DATABASE)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
