"""What a reconciler run costs when there is nothing to do, beside a large waiting backlog.

    python bench/reconcile.py [--waiting 20000] [--orgs 20] [--runs 30]
                              [--database-url URL] [--redis-url URL] [--keep]

The reconciler (workers/reconcile.py) runs every few seconds. Each run asks PostgreSQL, through
two door functions, for documents whose lease expired and for the active organizations with
documents waiting (with counts), then asks Redis per waiting organization what it tracks. This
script creates its own database (``pmdi_bench_reconcile``, dropped at the end unless
``--keep``), inserts ``--waiting`` queued documents spread over ``--orgs`` organizations and
``--done`` done ones, lets a first run track them all in Redis (db 14 by default, flushed
before and after), then times ``--runs`` runs that find nothing to do: the steady state of a
deployment with a backlog. It prints the median and worst run, and the plans of both doors
(they read the partial indexes ``ix_documents_in_progress`` and ``ix_documents_active``).

Figures only; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import redis
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from webapp import create_app, embedded  # noqa: E402 - after the path is set
from webapp.config import sqlalchemy_url  # noqa: E402
from webapp.extensions import db  # noqa: E402

NAME = "pmdi_bench_reconcile"
ROLE, PASSWORD = "pmdi_bench_reconcile_app", "bench-password"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waiting", type=int, default=20000)
    parser.add_argument("--done", type=int, default=100000)
    parser.add_argument("--orgs", type=int, default=20)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    owner_url = embedded.ensure_database(args.database_url, NAME, recreate=True)
    app_url = embedded.with_role(owner_url, ROLE, PASSWORD)
    config = {
        "TESTING": True,
        "SECRET_KEY": "bench",
        "SQLALCHEMY_DATABASE_URI": app_url,
        "REDIS_URL": args.redis_url,
        "RECONCILE_SETTLE_SECONDS": 0,
    }
    flush = redis.Redis.from_url(args.redis_url)
    flush.flushdb()
    migrator = create_app({**config, "MIGRATION_DATABASE_URL": owner_url})
    from flask_migrate import upgrade

    with migrator.app_context():
        upgrade()
        db.engine.dispose()
    app = create_app(config)
    app.extensions["celery"].send_task = lambda *a, **k: None  # nothing is really published
    owner = create_engine(sqlalchemy_url(owner_url))
    with owner.begin() as conn:
        orgs = [uuid.uuid4() for _ in range(args.orgs)]
        for org_id in orgs:
            conn.execute(
                text(
                    "INSERT INTO organizations (id, name, slug, plan_id) VALUES (:i, :n, :s, 'pro')"
                ),
                {"i": org_id, "n": f"Bench {org_id}", "s": f"bench-{org_id.hex[:12]}"},
            )
        for status, count in (("queued", args.waiting), ("done", args.done)):
            conn.execute(
                text(
                    "INSERT INTO documents (organization_id, id, title, filename, content_type,"
                    " detected_type, size_bytes, sha256, status, updated_at)"
                    " SELECT (CAST(:orgs AS uuid[]))[1 + n % :k], gen_random_uuid(), 't', 't.txt',"
                    " 'text/plain', 'txt', 1, md5(random()::text || n) || md5(n::text), :status,"
                    " now() - interval '1 hour' FROM generate_series(1, :count) n"
                ),
                {"orgs": orgs, "k": len(orgs), "status": status, "count": count},
            )
        conn.execute(text("ANALYZE documents"))
    from workers import reconcile

    with app.app_context():
        first = reconcile.reconcile()
        db.session.remove()
        timings = []
        for _ in range(args.runs):
            started = time.perf_counter()
            counts = reconcile.reconcile()
            timings.append(time.perf_counter() - started)
            db.session.remove()
            assert not any(counts.values()), counts
        db.engine.dispose()
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print(
        f"{args.waiting} waiting documents in {args.orgs} organizations, {args.done} done; "
        f"first run (tracks them all): {first}"
    )
    print(
        f"a run with nothing to do: median {statistics.median(timings) * 1000:.1f} ms, "
        f"worst {max(timings) * 1000:.1f} ms over {args.runs} runs"
    )
    with owner.connect() as conn:
        for door in (
            "SELECT * FROM app_expired_leases(500)",
            "SELECT * FROM app_waiting_organizations(make_interval(secs => 10), 500)",
        ):
            body = conn.scalar(
                text("SELECT prosrc FROM pg_proc WHERE proname = :n"),
                {"n": door.split()[3].split("(")[0]},
            )
            query = body.replace("p_limit", "500").replace("p_settled", "interval '10 s'")
            plan = conn.execute(text("EXPLAIN (ANALYZE, COSTS OFF) " + query)).scalars().all()
            print(f"\n{door}:\n  " + "\n  ".join(plan))
    owner.dispose()
    flush.flushdb()
    flush.close()
    app.extensions["fairness"].client.close()
    if not args.keep:
        embedded.drop_database(args.database_url, NAME)


if __name__ == "__main__":
    main()
