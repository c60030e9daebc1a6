"""What metrics, JSON logs and load counters cost: API list throughput, on and off, interleaved.

    python bench/operate_overhead.py [--rounds 8] [--requests 300] [--clients 4]
                                     [--database-url URL] [--redis-url URL]

Two gunicorn servers (2 sync workers each, rate limits on in both) on one database of their
own (``pmdi_bench_operate``) and a Redis database this script flushes:

- **on**: ``METRICS_ENABLED=1``, ``LOG_FORMAT=json``, ``LOAD_COUNTERS_ENABLED=1`` and
  ``PROMETHEUS_MULTIPROC_DIR`` (as the one-command run sets it), so every request is measured
  into the shared files, writes its JSON access line (to the server's log file) and counts in
  its organization's load counters (webapp/load.py, in the limiter's own Redis call);
- **off**: ``METRICS_ENABLED=0``, ``LOG_FORMAT=text``, ``LOAD_COUNTERS_ENABLED=0``: no request
  metrics, no access line, no load counters.

One organization (10 documents, a limit too high to refuse) lists its documents through the
API (``GET /api/v1/documents``) with ``--clients`` concurrent clients, ``--requests`` requests
per round; rounds alternate which server goes first, so drift of the machine falls on both.
Prints each round, the medians and the on/off ratio, then checks that the "on" server really
measured and logged (the request count on its /metrics, its JSON lines).

Then, in one process of its own (``--in-process``, multiprocess metrics directory set), the
same list request is called straight through two apps' WSGI entry (on, off) in alternating
rounds, and the CPU time of this process per request is printed: what the middleware, the
metric updates and the JSON line cost each request, without the network and the load of the
machine's other processes in the figure. Figures only; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import memory  # noqa: E402 - after the path is set
from bench.noisy_neighbour import (  # noqa: E402
    drop_database,
    forget_window,
    make_tenants,
    prepare_database,
    seed_documents,
    set_limits,
    start_gunicorn,
)
from bench.ratelimit_overhead import throughput  # noqa: E402

DATABASE = "pmdi_bench_operate"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/8"


def main(argv: list[str] | None = None) -> int:
    """Set up two servers, alternate rounds, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8, help="rounds per setting")
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
    print(
        "bench/operate_overhead.py — document list throughput, metrics + JSON logs + load "
        "counters on vs off"
    )
    print(f"  command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    print(
        f"  two servers: gunicorn, 2 sync workers each, rate limits on; {os.cpu_count()} CPUs; "
        f"{args.clients} clients x {args.requests} requests per round, {args.rounds} rounds each"
    )
    redis.Redis.from_url(args.redis_url).flushdb()
    owner_url, app_url = prepare_database(args.database_url, args.database_name)
    workdir = Path(tempfile.mkdtemp(prefix="pmdi-bench-operate-"))
    multiproc = workdir / "prometheus"
    multiproc.mkdir()
    common = {"RATELIMIT_ENABLED": "1"}
    servers = {
        "on": start_gunicorn(
            app_url,
            args.redis_url,
            workdir,
            "on",
            METRICS_ENABLED="1",
            LOG_FORMAT="json",
            LOAD_COUNTERS_ENABLED="1",
            PROMETHEUS_MULTIPROC_DIR=str(multiproc),
            **common,
        ),
        "off": start_gunicorn(
            app_url,
            args.redis_url,
            workdir,
            "off",
            METRICS_ENABLED="0",
            LOG_FORMAT="text",
            LOAD_COUNTERS_ENABLED="0",
            **common,
        ),
    }
    results: dict[str, list[float]] = {"on": [], "off": []}
    failed_total = 0
    try:
        (tenant,) = make_tenants(app_url, args.redis_url, 1)
        set_limits(owner_url, tenant, "enterprise")
        seed_documents(servers["on"], tenant, 10)
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
                failed_total += failed
            print(
                f"  {round_number + 1:>5} {order[0]:>5} {measured['on']:10.1f} "
                f"{measured['off']:10.1f} {measured['on'] / measured['off']:7.3f}"
            )
        with urllib.request.urlopen(servers["on"].url + "/metrics", timeout=10) as response:
            exposition = response.read().decode()
        listed = sum(
            float(line.rsplit(" ", 1)[1])
            for line in exposition.splitlines()
            if line.startswith("pmdi_http_request_duration_seconds_count{")
            and 'route="/api/v1/documents"' in line
            and 'method="GET"' in line
        )
        from webapp import load

        load_client = redis.Redis.from_url(args.redis_url)
        (series,) = load.read_series(load_client, [str(tenant.org_id)], 60)
        load_counted = sum(series.values["requests"])
        json_lines = 0
        for line in servers["on"].log_path.read_text().splitlines():
            if line.startswith("{") and json.loads(line).get("logger") == "pmdi.access":
                json_lines += 1
        for server in servers.values():
            server.stop()  # the in-process rounds have the CPUs to themselves
        child = subprocess.run(
            [sys.executable, __file__, "--in-process", app_url, args.redis_url, tenant.token]
            + ["--rounds", str(args.rounds), "--requests", str(args.requests)],
            env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(multiproc)},
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

    on, off = statistics.median(results["on"]), statistics.median(results["off"])
    ratios = [a / b for a, b in zip(results["on"], results["off"], strict=True)]
    print(
        f"\n  median throughput: on {on:.1f} req/s, off {off:.1f} req/s -> ratio on/off "
        f"{on / off:.3f}, cost {(1 - on / off) * 100:.1f} % (target <= 3 %)"
    )
    print(
        f"  median of round ratios: {statistics.median(ratios):.3f} "
        f"(cost {(1 - statistics.median(ratios)) * 100:.1f} %); non-200 responses: {failed_total}"
    )
    print(
        f"  'on' server: {listed:.0f} list requests counted on its /metrics, "
        f"{json_lines} JSON access lines in its log, {load_counted} requests in the "
        "organization's load counters (only 'on' writes them)"
    )
    print(in_process_lines, end="")
    return 0


def in_process(app_url: str, redis_url: str, token: str, rounds: int, requests: int) -> int:
    """CPU time per list request through the WSGI entry of an 'on' and an 'off' app."""
    import logging

    from werkzeug.test import EnvironBuilder

    from webapp import create_app

    base = {"SECRET_KEY": "bench-secret", "SQLALCHEMY_DATABASE_URI": app_url}
    base |= {"REDIS_URL": redis_url, "RATELIMIT_ENABLED": True}
    apps = {
        "on": create_app(
            {**base, "METRICS_ENABLED": True, "LOG_FORMAT": "json", "LOAD_COUNTERS_ENABLED": True}
        ),
        "off": create_app(
            {**base, "METRICS_ENABLED": False, "LOG_FORMAT": "text", "LOAD_COUNTERS_ENABLED": False}
        ),
    }
    for handler in logging.getLogger().handlers:  # JSON lines formatted, then thrown away
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as we do
    headers = {"Authorization": f"Bearer {token}"}

    statuses: list[str] = []

    def one(app) -> tuple[float, float]:
        """CPU and wall microseconds of one list request."""
        environ = EnvironBuilder(path="/api/v1/documents", headers=headers).get_environ()
        statuses.clear()
        started, started_cpu = time.perf_counter(), time.process_time()
        body = app(environ, lambda status, headers, *a: statuses.append(status))
        b"".join(body)
        getattr(body, "close", lambda: None)()
        cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started
        assert statuses[0].startswith("200"), statuses
        return cpu * 1e6, wall * 1e6

    for _ in range(50):  # warm-up
        one(apps["on"]), one(apps["off"])
    # Alternating request by request (and which goes first, round by round), so whatever
    # else the machine does falls on both alike; medians, so a descheduled request is noise.
    results: dict[str, list[tuple[float, float]]] = {"on": [], "off": []}
    print(
        "\n  in one process, straight through the WSGI entry, on and off alternating request by"
        " request\n  (median microseconds per request):\n"
        f"  {'round':>5} {'on cpu':>8} {'off cpu':>8} {'on wall':>8} {'off wall':>8}"
    )
    for round_number in range(rounds):
        order = ("on", "off") if round_number % 2 == 0 else ("off", "on")
        measured: dict[str, list[tuple[float, float]]] = {"on": [], "off": []}
        for _ in range(requests):
            for name in order:
                measured[name].append(one(apps[name]))
        for name in measured:
            results[name] += measured[name]
        on = [statistics.median(x[i] for x in measured["on"]) for i in (0, 1)]
        off = [statistics.median(x[i] for x in measured["off"]) for i in (0, 1)]
        print(f"  {round_number + 1:>5} {on[0]:8.0f} {off[0]:8.0f} {on[1]:8.0f} {off[1]:8.0f}")
    alone = instrumentation_alone(apps["on"])
    on_cpu = statistics.median(r[0] for r in results["on"])
    off_cpu = statistics.median(r[0] for r in results["off"])
    on_wall = statistics.median(r[1] for r in results["on"])
    off_wall = statistics.median(r[1] for r in results["off"])
    print(
        f"  median CPU per request, all rounds: on {on_cpu:.0f} us, off {off_cpu:.0f} us -> "
        f"+{on_cpu - off_cpu:.0f} us ({(on_cpu / off_cpu - 1) * 100:.1f} %)\n"
        f"  median wall per request, all rounds: on {on_wall:.0f} us, off {off_wall:.0f} us -> "
        f"+{on_wall - off_wall:.0f} us ({(on_wall / off_wall - 1) * 100:.1f} %)\n"
        f"  the instrumentation alone (request id, timing, metric updates, JSON access line, "
        f"around a WSGI app that does nothing): {alone:.0f} us per request = "
        f"{alone / off_cpu * 100:.1f} % of the 'off' CPU per request"
    )
    return 0


def instrumentation_alone(app) -> float:
    """CPU microseconds per request of the observer around an app that does nothing else."""
    from webapp import observe

    class Decision:  # what the limiter's check leaves (only these fields are read)
        admitted = True
        reported = type("Window", (), {"rule": type("Rule", (), {"name": "requests_per_minute"})})

    labels = ("/api/v1/documents", "free", "3f2b" * 9, "8c1d" * 9, Decision())

    def nothing(environ, start_response):
        start_response("200 OK", [])
        environ[observe.OBSERVED] = labels
        return [b""]

    observer = observe.RequestObserver(nothing, app, measure=True, log_lines=True)
    calls = 20000
    for _ in range(2000):
        observer({"REQUEST_METHOD": "GET"}, lambda *a: None)
    started = time.process_time()
    for _ in range(calls):
        observer({"REQUEST_METHOD": "GET"}, lambda *a: None)
    return (time.process_time() - started) / calls * 1e6


if __name__ == "__main__":
    sys.exit(main())
