"""The platform admin's organization list at 10,000 organizations: first page, last, search.

    python bench/admin_list.py [--orgs 10000] [--docs-per-org 10] [--repeat 15]
                               [--database-url URL] [--keep]

Seeds its own database (``pmdi_bench_admin``; ``--keep`` leaves it for a rerun with the same
sizes) with ``--orgs`` organizations created a minute apart (one member and
``--docs-per-org`` documents each, as the owner role, so the counting triggers of migration
0018 fill ``usage_totals``), then times through the app's own platform-role engine:

* the offset door the list used before (``app_admin_list_organizations``: counts per row,
  ``count(*) OVER ()``, ``OFFSET``) — first page, last page, a name search;
* the list as it is now (``admin.services.list_organizations``: the keyset door
  ``app_admin_organizations_page``, counts kept in ``usage_totals``, trigram search) — first
  page, the last page (reached by its cursor), the same search.

Prints the median of ``--repeat`` runs of each (ms) and last/first ratios (target: the last
page at most 2x the first). Figures only; nothing asserts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bench import memory  # noqa: E402 - after the path is set
from bench.noisy_neighbour import drop_database, prepare_database  # noqa: E402

DATABASE = "pmdi_bench_admin"
SEARCH = "harbour"  # a sixth of the names
RARE = "4321"  # one name


def seed(owner_url: str, orgs: int, docs_per_org: int) -> None:
    """Organizations a minute apart, one member and some documents each (owner role)."""
    engine = create_engine(owner_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO organizations (id, name, slug, plan_id, status, settings, "
                "quota_overrides, created_at) "
                "SELECT gen_random_uuid(), "
                "(ARRAY['Northwind', 'Harbour', 'Summit', 'Lakeside', 'Granite', 'Meridian'])"
                "[1 + g % 6] || ' ' || (ARRAY['Builders', 'Logistics', 'Health', 'Partners'])"
                "[1 + (g / 6) % 4] || ' ' || g, "
                "'bench-org-' || g, 'free', 'active', '{}'::jsonb, '{}'::jsonb, "
                "now() - make_interval(mins => g) FROM generate_series(1, :n) g"
            ),
            {"n": orgs},
        )
        conn.execute(
            text(
                "INSERT INTO users (organization_id, id, email, name, password_hash, role, "
                "status, created_at, session_version) SELECT o.id, gen_random_uuid(), "
                "o.slug || '@example.com', 'Owner', 'x', 'owner', 'active', o.created_at, 0 "
                "FROM organizations o"
            )
        )
        conn.execute(
            text(
                "INSERT INTO documents (organization_id, id, title, filename, content_type, "
                "detected_type, size_bytes, sha256, status, progress, attempts, created_at, "
                "updated_at) SELECT o.id, gen_random_uuid(), 'Minutes ' || g, 'm.txt', "
                "'text/plain', 'txt', 1000, md5(o.id::text || g), 'done', 100, 1, "
                "o.created_at, o.created_at FROM organizations o, generate_series(1, :d) g"
            ),
            {"d": docs_per_org},
        )
        conn.execute(text("ANALYZE"))
    engine.dispose()


def median_ms(action, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orgs", type=int, default=10_000)
    parser.add_argument("--docs-per-org", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL") or memory.DEFAULT_ADMIN_URL,
    )
    args = parser.parse_args(argv)

    import logging

    logging.getLogger().setLevel(logging.WARNING)
    print("bench/admin_list.py — the platform admin's organization list")
    print(f"  command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    owner_url, app_url = prepare_database(args.database_url, DATABASE)
    try:
        started = time.perf_counter()
        seed(owner_url, args.orgs, args.docs_per_org)
        print(
            f"  seeded {args.orgs} organizations, {args.orgs * args.docs_per_org} documents "
            f"in {time.perf_counter() - started:.1f} s; median of {args.repeat} runs each"
        )
        from webapp import create_app, tenancy
        from webapp.admin import services
        from webapp.extensions import db

        app = create_app({"SECRET_KEY": "bench-secret", "SQLALCHEMY_DATABASE_URI": app_url})
        with app.app_context():
            per_page = services.PER_PAGE
            last_offset = (args.orgs - 1) // per_page * per_page

            def old(search: str | None, offset: int):  # type: ignore[no-untyped-def]
                def run() -> None:
                    tenancy.admin_list_organizations(search, per_page, offset)
                    db.session.rollback()

                return run

            # The cursor of the last page: walk there once, as an admin clicking "Older".
            cursor = None
            page = services.list_organizations(None, None)
            while page.next_cursor is not None:
                cursor = page.next_cursor
                page = services.list_organizations(None, cursor)
            assert len(page.organizations) == args.orgs - last_offset

            figures = {
                "before: first page": median_ms(old(None, 0), args.repeat),
                "before: last page": median_ms(old(None, last_offset), args.repeat),
                f"before: search '{SEARCH}'": median_ms(old(SEARCH, 0), args.repeat),
                f"before: search '{RARE}'": median_ms(old(RARE, 0), args.repeat),
                "now: first page": median_ms(
                    lambda: services.list_organizations(None, None), args.repeat
                ),
                "now: last page": median_ms(
                    lambda: services.list_organizations(None, cursor), args.repeat
                ),
                f"now: search '{SEARCH}'": median_ms(
                    lambda: services.list_organizations(SEARCH, None), args.repeat
                ),
                f"now: search '{RARE}'": median_ms(
                    lambda: services.list_organizations(RARE, None), args.repeat
                ),
            }
            for engine in db.engines.values():
                engine.dispose()
        print()
        for label, ms in figures.items():
            print(f"  {label:<28} {ms:9.2f} ms")
        for when in ("before", "now"):
            ratio = figures[f"{when}: last page"] / figures[f"{when}: first page"]
            print(
                f"  {when}: last page / first page = {ratio:.2f}"
                + (" (target <= 2)" if when == "now" else "")
            )
    finally:
        if not args.keep:
            drop_database(args.database_url, DATABASE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
