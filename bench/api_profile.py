"""Where a token-authenticated ``GET /api/v1/documents`` spends its time, in one process.

    python bench/api_profile.py [--requests 2000] [--documents 200] [--sort tottime]
                                [--database-url URL] [--redis-url URL] [--keep]

The app as bench/stack.py serves it (``create_app()`` from the environment: DATABASE_URL,
REDIS_URL, SECRET_KEY; the rate limiter and everything on), called as a WSGI application in
a loop (no server, no socket), first timed, then under cProfile. Prints the time per request,
the statements PostgreSQL saw per request (``pg_stat_statements`` when the database has it,
else the transactions counted by ``pg_stat_database``), and the profile's top entries.
Figures only; nothing asserts.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from werkzeug.test import EnvironBuilder  # noqa: E402

from bench import memory  # noqa: E402 - after the path is set
from bench.noisy_neighbour import (  # noqa: E402
    drop_database,
    make_tenants,
    prepare_database,
    set_limits,
)
from bench.stack import cpu_seconds, seed  # noqa: E402
from webapp import embedded  # noqa: E402

DATABASE = "pmdi_bench_api_profile"


def call(app, environ: dict) -> int:  # type: ignore[no-untyped-def]
    """One request through the whole WSGI stack; its status."""
    status: list[str] = []

    def start_response(line: str, headers: list, exc_info: object = None) -> None:
        status.append(line)

    body = app(dict(environ), start_response)
    for _ in body:
        pass
    if hasattr(body, "close"):
        body.close()
    return int(status[0][:3])


def _backend_cpu(owner_engine) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    """Transactions so far in the bench database, and the CPU seconds of its backends."""
    with owner_engine.connect() as conn:
        count = conn.scalar(
            text("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = :d"),
            {"d": DATABASE},
        )
        pids = conn.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"),
            {"d": DATABASE},
        ).all()
    return int(count or 0), cpu_seconds(list(pids))


def measure(name: str, app, environ: dict, count: int, owner_engine) -> None:  # type: ignore[no-untyped-def]
    """Wall and CPU time per request: this process's, PostgreSQL's; statuses; transactions."""
    for _ in range(200):  # warm: pools, statement caches, prepared statements
        call(app, environ)
    xacts, pg_cpu = _backend_cpu(owner_engine)
    started, cpu_started = time.perf_counter(), time.process_time()
    statuses = Counter(call(app, environ) for _ in range(count))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    xacts_after, pg_cpu_after = _backend_cpu(owner_engine)
    print(
        f"  {name:>5}: {elapsed * 1000 / count:.3f} ms/request wall, CPU web "
        f"{cpu * 1000 / count:.3f} ms, postgres {(pg_cpu_after - pg_cpu) * 1000 / count:.3f} ms; "
        f"{(xacts_after - xacts) / count:.2f} transactions/request; statuses {dict(statuses)}"
    )


def main(argv: list[str] | None = None) -> int:
    global DATABASE
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds, app then floor")
    parser.add_argument("--no-profile", action="store_true", help="timed rounds only")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="profile this process's CPU time (default) or wall-clock time",
    )
    parser.add_argument(
        "--pyinstrument", action="store_true", help="a sampling profile (if it is installed)"
    )
    parser.add_argument("--callers", default="", help="also print the callers of these names")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL") or memory.DEFAULT_ADMIN_URL,
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument(
        "--keep", action="store_true", help="keep the database (and its token) afterwards"
    )
    parser.add_argument("--reuse", action="store_true", help="the database a --keep run kept")
    parser.add_argument(
        "--database-name",
        default="pmdi_bench_api_profile",
        help="the bench's own database: one per concurrent run",
    )
    args = parser.parse_args(argv)
    DATABASE = args.database_name

    import logging

    logging.getLogger().setLevel(logging.WARNING)
    kept = Path(tempfile.gettempdir()) / f"{DATABASE}.token"
    if args.reuse:
        memory.DATABASE = DATABASE
        owner_url = embedded.ensure_database(args.database_url, DATABASE)
        app_url = embedded.with_role(owner_url, memory.APP_ROLE, memory.APP_PASSWORD)
        token = kept.read_text()
    else:
        owner_url, app_url = prepare_database(args.database_url, DATABASE)
    owner_engine = create_engine(owner_url)
    try:
        if not args.reuse:
            (tenant,) = make_tenants(app_url, args.redis_url, 1)
            set_limits(
                owner_url,
                tenant,
                "enterprise",
                requests_per_minute=10**7,
                token_requests_per_minute=10**7,
            )
            seed(owner_url, tenant.org_id, args.documents)
            token = tenant.token
            if args.keep:
                kept.write_text(token)
        os.environ.update(DATABASE_URL=app_url, REDIS_URL=args.redis_url, SECRET_KEY="bench-secret")
        for variable in ("MIGRATION_DATABASE_URL", "CELERY_BROKER_URL"):
            os.environ.pop(variable, None)
        from webapp import create_app

        app = create_app()
        environ = EnvironBuilder(
            path="/api/v1/documents",
            headers={"Authorization": f"Bearer {token}"},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        ).get_environ()
        os.environ["STACK_BASELINE_DSN"] = owner_url.replace("postgresql+psycopg", "postgresql")
        from bench.stack_baseline import app as floor

        for _ in range(args.rounds):
            measure("app", app, environ, args.requests, owner_engine)
            measure("floor", floor, environ, args.requests, owner_engine)
        if args.no_profile:
            return 0
        if args.pyinstrument:
            from pyinstrument import Profiler

            sampler = Profiler(interval=0.0002)
            sampler.start()
            for _ in range(args.requests):
                call(app, environ)
            sampler.stop()
            print(sampler.output_text(unicode=False, show_all=False))
            return 0
        timer = time.process_time if args.clock == "cpu" else time.perf_counter
        profiler = cProfile.Profile(timer)
        profiler.enable()
        for _ in range(args.requests):
            call(app, environ)
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats(args.sort).print_stats(args.top)
        for name in filter(None, args.callers.split(",")):
            stats.print_callers(name)
        print(out.getvalue())
    finally:
        owner_engine.dispose()
        if not args.keep:
            drop_database(args.database_url, DATABASE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
