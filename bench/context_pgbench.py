"""The tenant context and row-level security at the database, against the owner's plain query.

    python bench/context_pgbench.py [--orgs 10000] [--docs-per-org 200] [--sample 50]
                                    [--rounds 6] [--seconds 10] [--clients 4]
                                    [--database-url URL] [--keep]

pgbench, on a database of its own (``pmdi_bench_ctx_pgbench``; ``--keep`` leaves it for a
rerun with the same sizes), seeded with ``--orgs`` organizations of ``--docs-per-org``
documents. Two workloads, each a set of ``--sample`` scripts (one per organization, picked at
random per transaction), alternating round by round:

* **owner**: the owner role (no RLS), the API list's statement with its
  ``WHERE organization_id = …``, one statement in autocommit — one round trip;
* **tenant**: the tenant role, as the app sends a read since issue 15 (webapp/database.py,
  DATABASE_IMPLICIT_READS): one pipeline (one network write, one Sync) of
  ``SELECT app_enter_org(org, proof)`` (the verified context, a proof signed with the key as
  the app signs it) and the same statement under forced RLS, with no BEGIN: the two run as
  one implicit transaction, which ends at the Sync — one round trip, two statements;
* **owner-tx** (a reference): the owner role, the tenant's pipeline shape with nothing
  verified and no RLS: ``SELECT set_config('app.current_org_id', org, true)`` (the
  unverified context of before issue 11), then the statement;
* **tenant-tx** (a reference): the tenant's transaction as the app sent every one before
  (and still sends one that writes): ``BEGIN``, the context, the statement, ``ROLLBACK``.

All ``-M prepared`` (the app's driver prepares a statement after five uses), ``--clients``
clients, the workloads' order rotating round by round. Prints each round's transactions per
second and three ratios: tenant/owner, the issue's target (>= 0.9); tenant/owner-tx, what
the verified context and RLS cost once the two statements are paid for by both sides (two
statements against one cost the server and pgbench's own client, which shares the machine,
whatever the context does); and tenant-tx/owner, the four-statement shape of before.
Figures only; nothing asserts.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bench import memory  # noqa: E402 - after the path is set
from bench.noisy_neighbour import drop_database, prepare_database  # noqa: E402

DATABASE = "pmdi_bench_ctx_pgbench"
COLUMNS = (
    "id, title, filename, detected_type, content_type, size_bytes, sha256, status, progress, "
    "error, page_count, word_count, uploaded_by, created_at, updated_at, processed_at"
)


def list_sql(org_id: uuid.UUID) -> str:
    return (
        f"SELECT {COLUMNS} FROM documents WHERE organization_id = '{org_id}' "
        "ORDER BY created_at DESC, id DESC LIMIT 51;"
    )


def org_id(number: int) -> uuid.UUID:
    return uuid.UUID(hex=f"{number:032x}")


def seed(owner_url: str, orgs: int, per_org: int) -> None:
    """Organizations numbered 1..orgs (id = the number as a UUID), documents interleaved."""
    engine = create_engine(owner_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO organizations (id, name, slug, plan_id, status, settings, "
                "quota_overrides) SELECT lpad(to_hex(g), 32, '0')::uuid, 'Org ' || g, "
                "'org-' || g, 'free', 'active', '{}'::jsonb, '{}'::jsonb "
                "FROM generate_series(1, :n) g"
            ),
            {"n": orgs},
        )
        conn.execute(text("ALTER TABLE documents DISABLE TRIGGER documents_counted"))
        conn.execute(
            text(
                "INSERT INTO documents (organization_id, id, title, filename, content_type, "
                "detected_type, size_bytes, sha256, status, progress, attempts, created_at, "
                "updated_at) SELECT lpad(to_hex(1 + g % :n), 32, '0')::uuid, gen_random_uuid(), "
                "'Minutes ' || g, 'm.txt', 'text/plain', 'txt', 1000, md5(g::text), 'done', "
                "100, 1, now() - make_interval(secs => g), now() "
                "FROM generate_series(1, :total) g"
            ),
            {"n": orgs, "total": orgs * per_org},
        )
        conn.execute(text("ALTER TABLE documents ENABLE TRIGGER documents_counted"))
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    engine.dispose()


def seeded(owner_url: str, orgs: int, per_org: int) -> bool:
    from sqlalchemy.exc import ProgrammingError

    engine = create_engine(owner_url)
    try:
        with engine.connect() as conn:
            found = conn.scalar(text("SELECT count(*) FROM documents"))
    except ProgrammingError:  # not migrated yet
        found = None
    engine.dispose()
    return found == orgs * per_org


def migrate_kept(owner_url: str, app_url: str) -> None:
    """Bring a kept database to the migrations' head, so it measures this checkout's context."""
    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.extensions import db

    migrator = create_app(
        {
            "SECRET_KEY": "bench-secret",
            "SQLALCHEMY_DATABASE_URI": app_url,
            "MIGRATION_DATABASE_URL": owner_url,
        }
    )
    with migrator.app_context():
        upgrade()
        for engine in db.engines.values():
            engine.dispose()


def write_scripts(
    workdir: Path, sample: list[int], name: str, key: bytes | None = None
) -> list[str]:
    """One script per organization for workload ``name``: ``owner`` (the plain statement),
    ``tenant`` (the context and the statement in one implicit transaction, proofs signed
    with ``key``), ``owner-tx`` (the same pipeline with the unverified ``set_config``) or
    ``tenant-tx`` (BEGIN, the context, the statement, ROLLBACK)."""
    from webapp.tenancy import entry_proof

    names = []
    for number in sample:
        org = org_id(number)
        if name == "owner":
            body = list_sql(org) + "\n"
        else:
            if name in ("tenant", "tenant-tx"):
                assert key is not None, "the tenant's proofs need the key"
                context = f"SELECT app_enter_org('{org}'::uuid, '{entry_proof(key, org)}');"
            else:
                context = f"SELECT set_config('app.current_org_id', '{org}', true);"
            statements = [context, list_sql(org)]
            if name == "tenant-tx":
                statements = ["BEGIN;", *statements, "ROLLBACK;"]
            body = "\\startpipeline\n" + "\n".join(statements) + "\n\\endpipeline\n"
        path = workdir / f"{name}-{number}.sql"
        path.write_text(body)
        names.append(f"{path}@1")
    return names


def pgbench(url: str, scripts: list[str], clients: int, seconds: int) -> float:
    command = ["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", "2"]
    command += ["-T", str(seconds)]
    for script in scripts:
        command += ["-f", script]
    command.append(url.replace("postgresql+psycopg", "postgresql"))
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", done.stdout)
    if done.returncode != 0 or match is None:
        raise RuntimeError(f"pgbench failed:\n{done.stdout}\n{done.stderr}")
    failed = re.search(r"number of failed transactions: (\d+)", done.stdout)
    if failed and int(failed.group(1)):
        raise RuntimeError(f"pgbench: failed transactions\n{done.stdout}")
    return float(match.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orgs", type=int, default=10_000)
    parser.add_argument("--docs-per-org", type=int, default=200)
    parser.add_argument("--sample", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--database-url", default=os.environ.get("TEST_DATABASE_URL") or memory.DEFAULT_ADMIN_URL
    )
    args = parser.parse_args(argv)

    import logging
    import random

    logging.getLogger().setLevel(logging.WARNING)
    print("bench/context_pgbench.py — the list statement: tenant context + RLS vs owner's plain")
    print(f"  command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    from webapp import embedded

    owner_url = embedded.ensure_database(args.database_url, DATABASE, recreate=False)
    reuse = args.keep and seeded(owner_url, args.orgs, args.docs_per_org)
    if not reuse:
        owner_url, app_url = prepare_database(args.database_url, DATABASE)
        started = time.perf_counter()
        seed(owner_url, args.orgs, args.docs_per_org)
        print(f"  seeded in {time.perf_counter() - started:.0f} s")
    else:
        app_url = embedded.with_role(owner_url, memory.APP_ROLE, memory.APP_PASSWORD)
        migrate_kept(owner_url, app_url)  # a database kept from an older checkout
    engine = create_engine(owner_url)
    with engine.connect() as conn:
        head = conn.scalar(text("SELECT version_num FROM alembic_version"))
    engine.dispose()
    print(
        f"  schema at {head}; "
        f"{args.orgs} organizations x {args.docs_per_org} documents; {args.sample} sampled; "
        f"{args.clients} clients, {args.seconds} s per run, {args.rounds} rounds; "
        "pgbench -M prepared"
    )
    from webapp import create_app, tenancy
    from webapp.extensions import db

    app = create_app({"SECRET_KEY": "bench-secret", "SQLALCHEMY_DATABASE_URI": app_url})
    with app.app_context():
        key = tenancy.context_key()
        for engine in db.engines.values():
            engine.dispose()
    sample = random.Random(15).sample(range(1, args.orgs + 1), args.sample)
    workdir = Path(tempfile.mkdtemp(prefix="pmdi-ctx-pgbench-"))
    scripts = {
        "owner": (owner_url, write_scripts(workdir, sample, "owner")),
        "owner-tx": (owner_url, write_scripts(workdir, sample, "owner-tx")),
    }
    names = ("owner", "tenant", "owner-tx", "tenant-tx")
    results: dict[str, list[float]] = {name: [] for name in names}
    try:
        print(
            f"\n  {'round':>5} {'owner tps':>10} {'tenant tps':>10} {'owner-tx tps':>12} "
            f"{'tenant-tx tps':>13} {'tenant/owner':>12} {'tenant/owner-tx':>15} "
            f"{'tenant-tx/owner':>15}"
        )
        for number in range(args.rounds):
            # Fresh proofs each round: one is good for five minutes.
            for tenant in ("tenant", "tenant-tx"):
                scripts[tenant] = (app_url, write_scripts(workdir, sample, tenant, key))
            order = names[number % len(names) :] + names[: number % len(names)]
            got = {}
            for name in order:
                url, files = scripts[name]
                got[name] = pgbench(url, files, args.clients, args.seconds)
                results[name].append(got[name])
            print(
                f"  {number + 1:>5} {got['owner']:10.0f} {got['tenant']:10.0f} "
                f"{got['owner-tx']:12.0f} {got['tenant-tx']:13.0f} "
                f"{got['tenant'] / got['owner']:12.3f} {got['tenant'] / got['owner-tx']:15.3f} "
                f"{got['tenant-tx'] / got['owner']:15.3f}"
            )
    finally:
        if not args.keep:
            drop_database(args.database_url, DATABASE)
    ratios = [t / o for t, o in zip(results["tenant"], results["owner"], strict=True)]
    same_shape = [t / o for t, o in zip(results["tenant"], results["owner-tx"], strict=True)]
    before = [t / o for t, o in zip(results["tenant-tx"], results["owner"], strict=True)]
    print(
        f"\n  median tps: owner {statistics.median(results['owner']):.0f}, tenant "
        f"{statistics.median(results['tenant']):.0f}, owner-tx "
        f"{statistics.median(results['owner-tx']):.0f}; tenant/owner: median of rounds "
        f"{statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f}; "
        "target >= 0.9)"
    )
    print(
        f"  tenant/owner-tx (same two statements): median of rounds "
        f"{statistics.median(same_shape):.3f} "
        f"(range {min(same_shape):.3f}-{max(same_shape):.3f})"
    )
    print(
        f"  tenant-tx/owner (BEGIN, context, statement, ROLLBACK): median of rounds "
        f"{statistics.median(before):.3f} (range {min(before):.3f}-{max(before):.3f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
