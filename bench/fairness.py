"""bench/fairness.py — does one tenant's backlog delay another tenant's single upload?

    python bench/fairness.py [--backlog 1000] [--database-url URL] [--redis-url URL] [--keep]

Organization A (one worker slot, as on the Free plan) queues ``--backlog`` documents, then
organization B uploads one. Only then a Celery worker starts (prefork, ``--concurrency=2``,
the queues ``webapp/serve.py`` uses). Printed: how long after the worker was ready B's document
was done, how many of A's were done before it, and A's throughput over the same time.
Figures only; nothing is asserted. Uses bench/pipeline.py's database and helpers.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import pipeline  # noqa: E402 - after the path is set


def upload(app, org_id: uuid.UUID, filename: str, content: bytes) -> str:  # type: ignore[no-untyped-def]
    """Store one document through the upload service (which dispatches it)."""
    from webapp.documents import services
    from webapp.extensions import db
    from webapp.tenancy import tenant_context

    with app.app_context(), tenant_context(org_id):
        document = services.upload_document(io.BytesIO(content), filename, None)
        db.session.remove()
    return str(document.id)


def done_times(owner_url: str, ids: list[str]) -> list[float]:
    """Epoch seconds at which each finished document was done (sorted)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(owner_url)
    with engine.connect() as conn:
        rows = conn.scalars(
            text(
                "SELECT extract(epoch FROM processed_at) FROM documents "
                "WHERE id = ANY(CAST(:ids AS uuid[])) AND status = 'done' ORDER BY 1"
            ),
            {"ids": ids},
        ).all()
    engine.dispose()
    return [float(r) for r in rows]


def main(argv: list[str] | None = None) -> int:
    """Queue A's backlog and B's one document, start a worker, report who finished when."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=1000)
    parser.add_argument(
        "--database-url", default=os.environ.get("TEST_DATABASE_URL") or pipeline.DEFAULT_ADMIN_URL
    )
    parser.add_argument("--redis-url", default=pipeline.DEFAULT_REDIS_URL)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)

    import redis

    from workers.fairness import worker_queues

    print("bench/fairness.py — one tenant's backlog against another tenant's single upload")
    print(f"  command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    print(f"  backlog={args.backlog} worker: prefork --concurrency=2; A has 1 worker slot")
    print(f"  load average at start: {pipeline.load_average()}")
    redis.Redis.from_url(args.redis_url).flushdb()
    owner_url, app_url = pipeline.prepare_database(args.database_url)
    app = pipeline.make_app(pipeline.app_config(app_url, args.redis_url))
    worker = None
    try:
        a_org, _ = pipeline.sign_up_in_process(app, "fair-a")
        b_org, _ = pipeline.sign_up_in_process(app, "fair-b")
        pipeline.raise_quotas(owner_url, [a_org, b_org], worker_slots=1)
        started = time.monotonic()
        a_ids = [
            upload(app, a_org, name, content)
            for name, content in pipeline.documents(args.backlog, "A")
        ]
        ((b_name, b_content),) = pipeline.documents(1, "B")
        b_id = upload(app, b_org, b_name, b_content)
        print(
            f"  queued {args.backlog} of A's documents, then B's one, in "
            f"{time.monotonic() - started:.1f} s (no worker running yet)"
        )
        env = {
            **os.environ,
            "DATABASE_URL": app_url,
            "REDIS_URL": args.redis_url,
            "SECRET_KEY": pipeline.SECRET_KEY,
        }
        log = Path(tempfile.mkdtemp(prefix="pmdi-bench-fair-")) / "celery.log"
        spawned = time.time()
        with log.open("w") as log_file:
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "celery_app",
                    "worker",
                    "--concurrency=2",
                    "--loglevel=WARNING",
                    "--without-gossip",
                    "--without-mingle",
                    "-Q",
                    worker_queues("docs"),
                ],
                cwd=ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        celery = app.extensions["celery"]
        while not celery.control.ping(timeout=0.5):
            if worker.poll() is not None:
                raise RuntimeError("worker did not start:\n" + log.read_text()[-3000:])
        ready = time.time()
        deadline = time.monotonic() + 120
        while not done_times(owner_url, [b_id]):
            if time.monotonic() > deadline:
                raise RuntimeError("B's document was not done within 120 s")
            time.sleep(0.02)
        (b_done,) = done_times(owner_url, [b_id])
        a_done = done_times(owner_url, a_ids)
        a_before = sum(1 for t in a_done if t <= b_done)
        print("\nResult")
        print(
            f"  B's document done               {b_done - spawned:6.2f} s after the worker "
            f"process started (start-up included; it answered a ping after "
            f"{ready - spawned:.2f} s)"
        )
        print(f"  A's documents done before it    {a_before:6d} of {args.backlog}")
        time.sleep(3)
        a_done = done_times(owner_url, a_ids)
        span = 3 + b_done - spawned
        window = [t for t in a_done if t <= spawned + span]
        print(
            f"  A's documents done meanwhile    {len(window)} in the first {span:.1f} s "
            "(A keeps its one slot busy)"
        )
        print(f"  load average at end: {pipeline.load_average()}")
    finally:
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
        from webapp.extensions import db

        with app.app_context():
            for engine in db.engines.values():
                engine.dispose()
        redis.Redis.from_url(args.redis_url).flushdb()
        if not args.keep:
            from webapp import embedded

            embedded.drop_database(args.database_url, pipeline.DATABASE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
