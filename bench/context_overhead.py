"""What the verified tenant context costs the documents list, against the plain one it replaced.

    python bench/context_overhead.py [--orgs 40] [--docs-per-org 2500] [--rounds 12]
                                     [--per-round 150] [--database-url URL] [--keep]

Issue 11 replaced ``app_current_org()`` — which returned whatever ``app.current_org_id`` held —
with one that checks an HMAC of (organization, backend, transaction start) on every statement,
set by ``app_enter_org(org, proof)`` at transaction start (migration 0010). The budget: at most
5 % on the list query. This script:

1. creates and migrates its own database (``pmdi_bench_context``; ``--keep`` reuses it when it
   holds the same sizes) and seeds ``--orgs`` organizations of ``--docs-per-org`` documents,
   interleaved in time as tenants upload side by side;
2. captures the SQL the app itself runs for the first page of the documents list
   (``services.list_documents``: the count and the page, as ``db.paginate`` sends them), in
   one organization's context;
3. copies ``documents`` twice (same rows, indexes, forced RLS): one table's policy calls the
   *plain* 0001 body of ``app_current_org()`` (context opened by ``set_config``), the other the
   *verified* 0010 one (opened by ``app_enter_org`` with a proof signed in Python);
4. replays the list on each copy on one raw psycopg connection of the tenant role (statements
   prepared after five runs, as the app's pool does), alternating plain and verified sample by
   sample (so load on a shared machine hits both alike), in rounds of ``--per-round`` pairs:
   * the list query: the page and the count statements, inside an open transaction whose
     context is set (each pays the per-statement check once);
   * the whole list transaction: BEGIN, the context statement, page, count, COMMIT;
5. prints each mode's median over all samples, the median of the per-round medians, the
   verified/plain ratios, the median of paired differences (each verified sample minus the
   plain one taken next to it: the estimate least moved by other load on the machine), and
   the function's own cost per call (called per row of ``generate_series``). Figures only:
   nothing asserts.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "pmdi_bench_context"
APP_ROLE = "pmdi_bench_app"
APP_PASSWORD = "bench-app-password"
BUDGET = 1.05
CALLS = 2000

MIGRATION = importlib.import_module("migrations.versions.0010_roles_by_trust")
# Two copies of the documents table, identical but for the function their policy calls.
TWINS = {"plain": "bench_documents_plain", "verified": "bench_documents_verified"}
PLAIN_FUNCTION = MIGRATION.CURRENT_ORG_PLAIN.replace("app_current_org()", "app_current_org_plain()")


def make_twin_tables(owner: Any, tenant_role: str) -> None:
    """``bench_documents_plain`` and ``bench_documents_verified``: copies of ``documents`` (same
    rows, indexes, RLS forced), whose policy calls the 0001 body and the 0010 one."""
    owner.execute(PLAIN_FUNCTION)
    owner.execute(f'GRANT EXECUTE ON FUNCTION app_current_org_plain() TO "{tenant_role}"')
    for mode, table in TWINS.items():
        function = "app_current_org_plain" if mode == "plain" else "app_current_org"
        owner.execute(f"DROP TABLE IF EXISTS {table}")
        owner.execute(f"CREATE TABLE {table} (LIKE documents INCLUDING ALL)")
        owner.execute(f"INSERT INTO {table} SELECT * FROM documents ORDER BY created_at DESC")
        owner.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        owner.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        owner.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            f"USING (organization_id = (SELECT {function}())) "
            f"WITH CHECK (organization_id = (SELECT {function}()))"
        )
        owner.execute(f'GRANT SELECT ON {table} TO "{tenant_role}"')
        owner.execute(f"VACUUM ANALYZE {table}")


def dsn(url: str) -> str:
    """A libpq URL from a SQLAlchemy one."""
    from webapp.config import sqlalchemy_url

    return sqlalchemy_url(url).replace("postgresql+psycopg://", "postgresql://")


def make_app(app_url: str, **overrides: Any) -> Any:
    from webapp import create_app

    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": app_url,
            "TENANCY_VERIFY_ROLE": False,
            **overrides,
        }
    )


def prepare(admin_url: str, orgs: int, per_org: int, keep: bool) -> tuple[str, str, str]:
    """Create (or reuse) the database, migrate it, seed it; owner, tenant and platform URLs."""
    import psycopg
    from flask_migrate import upgrade

    from webapp import embedded

    owner_url = embedded.ensure_database(admin_url, DATABASE, recreate=not keep)
    app_url = embedded.with_role(owner_url, APP_ROLE, APP_PASSWORD)
    migrator = make_app(app_url, MIGRATION_DATABASE_URL=owner_url)
    with migrator.app_context():
        upgrade()
        platform_url = migrator.config["PLATFORM_DATABASE_URL"]
        from webapp.extensions import db

        for engine in db.engines.values():
            engine.dispose()
    with psycopg.connect(dsn(owner_url), autocommit=True) as conn:
        have = conn.execute(
            "SELECT (SELECT count(*) FROM organizations), (SELECT count(*) FROM documents)"
        ).fetchone()
        if have != (orgs, orgs * per_org):
            started = time.perf_counter()
            conn.execute("TRUNCATE organizations CASCADE")
            conn.execute(
                "INSERT INTO organizations (id, name, slug, plan_id) "
                "SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(o), 12, '0'))::uuid, "
                "'Bench ' || o, 'bench-' || o, 'pro' FROM generate_series(1, %s) o",
                (orgs,),
            )
            # Document n belongs to organization n % orgs: every organization's rows are
            # spread over the table, as after months of uploads side by side.
            conn.execute(
                "INSERT INTO documents (organization_id, id, title, filename, content_type, "
                "detected_type, size_bytes, sha256, status, created_at, updated_at) "
                "SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(n %% %s + 1), 12, '0'))::uuid, "
                "gen_random_uuid(), 'Document ' || n, 'doc-' || n || '.txt', 'text/plain', "
                "'txt', 1000 + n %% 5000, md5(n::text) || md5(n::text), "
                "(ARRAY['done','done','done','failed','queued'])[1 + n %% 5], "
                "now() - make_interval(secs => n), now() - make_interval(secs => n) "
                "FROM generate_series(1, %s) n",
                (orgs, orgs * per_org),
            )
            conn.execute("ANALYZE")
            print(f"  seeded in {time.perf_counter() - started:.1f} s", flush=True)
    return owner_url, app_url, platform_url


def captured_list_sql(app_url: str, org_id: uuid.UUID) -> list[tuple[str, Any]]:
    """The statements the app runs for the first page of the documents list."""
    from sqlalchemy import event

    from webapp.documents import services
    from webapp.extensions import db
    from webapp.tenancy import tenant_context

    app = make_app(app_url)
    seen: list[tuple[str, Any]] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "app_enter_org" not in statement:
            seen.append((statement, parameters))

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", record)
        with tenant_context(org_id):
            page = services.list_documents(services.DocumentFilter(), page=1)
            assert page.items, "the organization shows documents"
        db.session.remove()
        event.remove(db.engine, "before_cursor_execute", record)
        for engine in db.engines.values():
            engine.dispose()
    return seen


def run(args: argparse.Namespace) -> int:
    import psycopg

    from webapp import tenancy

    admin_url = args.database_url or os.environ.get("TEST_DATABASE_URL") or DEFAULT_ADMIN_URL
    print(f"Seeding {args.orgs} organizations x {args.docs_per_org} documents ...", flush=True)
    owner_url, app_url, platform_url = prepare(admin_url, args.orgs, args.docs_per_org, args.keep)
    org_id = uuid.UUID("00000000-0000-4000-8000-000000000001")
    statements = captured_list_sql(app_url, org_id)
    print(f"The list runs {len(statements)} statements:")
    for sql, _ in statements:
        print("  " + " ".join(sql.split())[:150] + " ...")

    with psycopg.connect(dsn(platform_url)) as platform:
        key = bytes(platform.execute("SELECT app_context_key()").fetchone()[0])
    with psycopg.connect(dsn(owner_url), autocommit=True) as owner:
        make_twin_tables(owner, APP_ROLE)
    tenant = psycopg.connect(dsn(app_url))
    queries = {
        mode: [(re.sub(r"\bdocuments\b", TWINS[mode], sql), params) for sql, params in statements]
        for mode in TWINS
    }

    def enter(mode: str) -> None:
        if mode == "plain":
            tenant.execute("SELECT set_config('app.current_org_id', %s, true)", (str(org_id),))
        else:
            proof = tenancy.entry_proof(key, org_id)
            tenant.execute("SELECT app_enter_org(CAST(%s AS uuid), %s)", (str(org_id), proof))

    def one_list(mode: str) -> float:
        started = time.perf_counter()
        for sql, params in queries[mode]:
            assert tenant.execute(sql, params).fetchall(), "the list shows rows"
        return time.perf_counter() - started

    def one_transaction(mode: str) -> float:
        started = time.perf_counter()
        enter(mode)
        for sql, params in queries[mode]:
            tenant.execute(sql, params).fetchall()
        tenant.commit()
        return time.perf_counter() - started

    samples: dict[str, dict[str, list[float]]] = {
        m: {"statement": [], "transaction": []} for m in TWINS
    }
    rounds: dict[str, dict[str, list[float]]] = {
        m: {"statement": [], "transaction": []} for m in TWINS
    }
    per_call: dict[str, list[float]] = {"app_current_org_plain": [], "app_current_org": []}
    for mode in TWINS:  # warm-up: plans, prepared statements, the function caches
        for _ in range(20):
            one_transaction(mode)
    try:
        for index in range(args.rounds):
            taken: dict[str, dict[str, list[float]]] = {
                m: {"statement": [], "transaction": []} for m in TWINS
            }
            # Within one transaction whose context both functions accept (app_enter_org sets
            # app.current_org_id, which is all the plain one reads), alternate the two lists.
            enter("verified")
            for i in range(args.per_round):
                for mode in ("plain", "verified") if i % 2 == 0 else ("verified", "plain"):
                    taken[mode]["statement"].append(one_list(mode))
            tenant.commit()
            for i in range(args.per_round):
                for mode in ("plain", "verified") if i % 2 == 0 else ("verified", "plain"):
                    taken[mode]["transaction"].append(one_transaction(mode))
            for mode in TWINS:
                for kind in ("statement", "transaction"):
                    samples[mode][kind] += taken[mode][kind]
                    rounds[mode][kind].append(statistics.median(taken[mode][kind]))
            # The function alone, called per row so that it dominates: microseconds a call.
            enter("verified")
            for name in ("app_current_org_plain", "app_current_org") * 2:
                started = time.perf_counter()
                tenant.execute(f"SELECT count({name}()) FROM generate_series(1, {CALLS})")
                per_call[name].append((time.perf_counter() - started) / CALLS * 1e6)
            tenant.commit()
            print(
                f"  round {index + 1:2}/{args.rounds}: list query plain "
                f"{rounds['plain']['statement'][-1] * 1e3:.3f} ms, verified "
                f"{rounds['verified']['statement'][-1] * 1e3:.3f} ms; transaction plain "
                f"{rounds['plain']['transaction'][-1] * 1e3:.3f} ms, verified "
                f"{rounds['verified']['transaction'][-1] * 1e3:.3f} ms",
                flush=True,
            )
    finally:
        tenant.close()

    print(
        f"\n{args.rounds} interleaved rounds x {args.per_round} samples per mode and kind; "
        f"organization of {args.docs_per_org} documents in a table of "
        f"{args.orgs * args.docs_per_org}."
    )
    print(f"{'':34}{'plain':>10}{'verified':>10}{'ratio':>8}")
    for kind, label in (
        ("statement", "list query (ms, all samples)"),
        ("transaction", "list transaction (ms, all samples)"),
    ):
        plain = statistics.median(samples["plain"][kind]) * 1e3
        verified = statistics.median(samples["verified"][kind]) * 1e3
        print(f"{label:34}{plain:10.3f}{verified:10.3f}{verified / plain:8.3f}")
        plain_r = statistics.median(rounds["plain"][kind]) * 1e3
        verified_r = statistics.median(rounds["verified"][kind]) * 1e3
        ratios = [
            v / p for v, p in zip(rounds["verified"][kind], rounds["plain"][kind], strict=True)
        ]
        print(
            f"{'  median of round medians':34}{plain_r:10.3f}{verified_r:10.3f}"
            f"{verified_r / plain_r:8.3f}   (per-round ratios: median "
            f"{statistics.median(ratios):.3f}, min {min(ratios):.3f}, max {max(ratios):.3f})"
        )
    print("\nPaired differences (each verified sample minus the plain one taken next to it):")
    for kind, label in (("statement", "list query"), ("transaction", "list transaction")):
        diffs = [
            v - p for v, p in zip(samples["verified"][kind], samples["plain"][kind], strict=True)
        ]
        extra = statistics.median(diffs)
        base = statistics.median(samples["plain"][kind])
        print(
            f"  {label:18} median +{extra * 1e6:7.1f} us on {base * 1e3:.3f} ms "
            f"= {extra / base * 100:+.1f} %"
        )
    plain_call = statistics.median(per_call["app_current_org_plain"])
    verified_call = statistics.median(per_call["app_current_org"])
    print(
        f"  app_current_org() alone: plain {plain_call:.1f} us a call, verified "
        f"{verified_call:.1f} us a call (+{verified_call - plain_call:.1f} us per statement)"
    )
    page_ratio = statistics.median(samples["verified"]["statement"]) / statistics.median(
        samples["plain"]["statement"]
    )
    verdict = "within" if page_ratio <= BUDGET else "OVER"
    print(
        f"\nThe list query under the verified context: x{page_ratio:.3f} ({verdict} the 5 % budget)"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orgs", type=int, default=40)
    parser.add_argument("--docs-per-org", type=int, default=2500)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--per-round", type=int, default=150)
    parser.add_argument("--database-url")
    parser.add_argument("--keep", action="store_true", help="reuse a seeded database")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
