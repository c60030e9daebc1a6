"""The API list against the framework floor: the app vs bare Flask + psycopg (issue 15).

    python bench/stack.py [--rounds 6] [--requests 400] [--clients 4] [--documents 200]
                          [--baseline-json orjson|stdlib] [--database-url URL] [--redis-url URL]
                          [--database-name NAME] [--app-root DIR] [--app-env KEY=VALUE]

Two gunicorn servers (2 sync workers each) on one database of their own (``pmdi_bench_stack``):
the app (``wsgi:app``, rate limiter and everything on, as deployed) and ``bench/stack_baseline.py``
(one psycopg connection per worker, as the owner role, the same list SQL and the same JSON
shape, no authentication, no RLS). One organization of ``--documents`` documents;
``GET /api/v1/documents`` (50 per page) from ``--clients`` closed-loop clients, one new HTTP
connection per request (sync workers close it). Rounds alternate which server goes first.

Per round and server: throughput, p50/p99 latency, and CPU per request by process group —
``web`` (the gunicorn master and its workers) and ``postgres`` (the backends connected to
the bench database, read from pg_stat_activity) — from psutil's process CPU times. Then the
app/baseline ratio of throughput, per round and over all. Figures only; nothing asserts.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from bench import memory  # noqa: E402 - after the path is set
from bench.noisy_neighbour import (  # noqa: E402
    DEFAULT_REDIS_URL,
    Server,
    drop_database,
    make_tenants,
    prepare_database,
    request,
    set_limits,
)

DATABASE = "pmdi_bench_stack"


def start(module: str, name: str, workdir: Path, env: dict[str, str], root: Path = ROOT) -> Server:
    """gunicorn, 2 sync workers, serving ``module`` from ``root``; waits until it answers."""
    port = memory.free_port()
    log_path = workdir / f"{name}.log"
    command = [sys.executable, "-m", "gunicorn", "--workers", "2", "--timeout", "120"]
    command += ["--bind", f"127.0.0.1:{port}", module]
    full_env = {**os.environ, "PYTHONPATH": str(root), **env}
    for variable in ("MIGRATION_DATABASE_URL", "CELERY_BROKER_URL"):
        full_env.pop(variable, None)
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            command, cwd=root, env=full_env, stdout=log_file, stderr=subprocess.STDOUT
        )
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + 60
    while True:
        try:
            request(server, "GET", "/healthz")
            return server
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"gunicorn did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)


def seed(owner_url: str, org_id: uuid.UUID, count: int) -> None:
    """``count`` documents of one organization, a second apart, as the owner role."""
    engine = create_engine(owner_url)
    rows = [
        {
            "o": org_id,
            "id": uuid.uuid4(),
            "t": f"Steering committee minutes {n}",
            "sha": hashlib.sha256(f"{org_id}-{n}".encode()).hexdigest(),
            "s": n,
        }
        for n in range(count)
    ]
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO documents (organization_id, id, title, filename, content_type, "
                "detected_type, size_bytes, sha256, status, progress, attempts, page_count, "
                "word_count, created_at, updated_at, processed_at) VALUES (:o, :id, :t, "
                "'minutes.txt', 'text/plain', 'txt', 2048, :sha, 'done', 100, 1, 1, 400, "
                "now() - make_interval(secs => :s), now(), now())"
            ),
            rows,
        )
        conn.execute(text("ANALYZE documents"))
    engine.dispose()


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def web_pids(server: Server) -> list[int]:
    parent = psutil.Process(server.process.pid)
    return [parent.pid, *(child.pid for child in parent.children(recursive=True))]


def backend_pids(owner_engine) -> list[int]:  # type: ignore[no-untyped-def]
    with owner_engine.connect() as conn:
        return list(
            conn.scalars(
                text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = :d AND pid <> pg_backend_pid()"
                ),
                {"d": owner_engine.url.database},
            )
        )


def run_round(server: Server, token: str, total: int, clients: int, owner_engine) -> dict:  # type: ignore[no-untyped-def]
    """Closed-loop clients; throughput, latency percentiles, CPU ms per request by group."""
    per_client = total // clients
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures = [0] * clients

    def client(index: int) -> None:
        for _ in range(per_client):
            reply = request(server, "GET", "/api/v1/documents", token)
            latencies[index].append(reply.wall_ms)
            if reply.status != 200:
                failures[index] += 1

    web, backends = web_pids(server), backend_pids(owner_engine)
    web_before, pg_before = cpu_seconds(web), cpu_seconds(backends)
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    # Backends that appeared during the round (none once pools are warm) are counted too.
    backends = sorted(set(backends) | set(backend_pids(owner_engine)))
    done = per_client * clients
    every = sorted(ms for per in latencies for ms in per)
    return {
        "rate": done / elapsed,
        "p50": statistics.median(every),
        "p99": every[min(len(every) - 1, int(len(every) * 0.99))],
        "web_ms": (cpu_seconds(web) - web_before) * 1000 / done,
        "pg_ms": (cpu_seconds(backends) - pg_before) * 1000 / done,
        "failed": sum(failures),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--requests", type=int, default=400, help="requests per round")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--baseline-json", choices=("orjson", "stdlib"), default="orjson")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL") or memory.DEFAULT_ADMIN_URL,
        help="an admin URL that may create databases and roles",
    )
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="a Redis db to flush")
    parser.add_argument(
        "--database-name",
        default=DATABASE,
        help="the bench's own database (dropped at the end): one per concurrent run",
    )
    parser.add_argument("--app-env", action="append", default=[], help="KEY=VALUE for the app")
    parser.add_argument(
        "--app-root",
        type=Path,
        default=ROOT,
        help="serve the app from another checkout (an earlier commit, for a before/after)",
    )
    args = parser.parse_args(argv)

    import logging

    import redis

    logging.getLogger().setLevel(logging.WARNING)
    print("bench/stack.py — GET /api/v1/documents: the app vs bare Flask + psycopg")
    print(f"  command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    print(
        f"  gunicorn, 2 sync workers each; {os.cpu_count()} CPUs; {args.clients} closed-loop "
        f"clients x {args.requests} requests per round, {args.rounds} rounds; "
        f"{args.documents} documents, 50 per page; baseline JSON: {args.baseline_json}; "
        f"app from {args.app_root}"
    )
    redis.Redis.from_url(args.redis_url).flushdb()
    database = args.database_name
    owner_url, app_url = prepare_database(args.database_url, database)
    owner_engine = create_engine(owner_url)
    workdir = Path(tempfile.mkdtemp(prefix="pmdi-bench-stack-"))
    servers: dict[str, Server] = {}
    results: dict[str, list[dict]] = {"app": [], "floor": []}
    try:
        (tenant,) = make_tenants(app_url, args.redis_url, 1)
        # Every budget out of the way (the token's too): a refusal is not a served list.
        set_limits(
            owner_url,
            tenant,
            "enterprise",
            requests_per_minute=10**7,
            token_requests_per_minute=10**7,
        )
        seed(owner_url, tenant.org_id, args.documents)
        app_env = {
            "DATABASE_URL": app_url,
            "REDIS_URL": args.redis_url,
            "SECRET_KEY": "bench-secret",
        }
        app_env.update(dict(item.split("=", 1) for item in args.app_env))
        servers["app"] = start("wsgi:app", "app", workdir, app_env, args.app_root)
        servers["floor"] = start(
            "bench.stack_baseline:app",
            "floor",
            workdir,
            {
                "STACK_BASELINE_DSN": owner_url.replace("postgresql+psycopg", "postgresql"),
                "STACK_BASELINE_JSON": args.baseline_json,
            },
        )
        for name in ("app", "floor"):  # warm-up: pools, caches, prepared statements
            run_round(servers[name], tenant.token, 200, args.clients, owner_engine)
        print(
            f"\n  {'round':>5} {'server':>6} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
            f"{'web ms/req':>10} {'pg ms/req':>9}"
        )
        for number in range(args.rounds):
            order = ("app", "floor") if number % 2 == 0 else ("floor", "app")
            for name in order:
                got = run_round(
                    servers[name], tenant.token, args.requests, args.clients, owner_engine
                )
                results[name].append(got)
                print(
                    f"  {number + 1:>5} {name:>6} {got['rate']:8.1f} {got['p50']:7.2f} "
                    f"{got['p99']:7.2f} {got['web_ms']:10.2f} {got['pg_ms']:9.3f}"
                    + (f"  ({got['failed']} non-200)" if got["failed"] else "")
                )
            ratio = results["app"][-1]["rate"] / results["floor"][-1]["rate"]
            print(f"  {number + 1:>5} {'ratio':>6} {ratio:8.3f}")
    finally:
        for server in servers.values():
            server.stop()
        owner_engine.dispose()
        redis.Redis.from_url(args.redis_url).flushdb()
        drop_database(args.database_url, database)
        shutil.rmtree(workdir, ignore_errors=True)

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    ratios = [a["rate"] / b["rate"] for a, b in zip(results["app"], results["floor"], strict=True)]
    print("\n  medians over rounds:")
    for name in ("app", "floor"):
        print(
            f"    {name:>5}: {med(name, 'rate'):8.1f} req/s, p50 {med(name, 'p50'):.2f} ms, "
            f"p99 {med(name, 'p99'):.2f} ms, CPU web {med(name, 'web_ms'):.2f} ms/req, "
            f"postgres {med(name, 'pg_ms'):.3f} ms/req"
        )
    print(
        f"  throughput ratio app/floor: median of rounds {statistics.median(ratios):.3f} "
        f"(range {min(ratios):.3f}-{max(ratios):.3f}; target >= 0.6)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
