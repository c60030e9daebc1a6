"""The Actions page: one indexed query over ``digest_items`` vs. reading every JSON digest.

    python bench/actions.py [--orgs 20] [--docs 1000] [--big-org-docs 2000] [--repeat 30]
                            [--database-url URL]

Issue 12 lists every open action of an organization, filtered and sorted, from every digest.
Migration 0014 materialises the digests' items into ``digest_items`` when a digest is stored,
so the page is one indexed query (``webapp.workspace.items.list_actions``). This script seeds
a separate database (``pmdi_bench_ws``, dropped at the end) with ``--orgs`` organizations of
``--docs`` documents (five actions each in their digest JSON and in ``digest_items``) and one
measured organization of ``--big-org-docs`` documents, then times, as the runtime role inside
the organization's tenant context (wall 1 and RLS apply):

- ``list_actions`` for the page's first 25 open actions by due date (count included), for a
  member's own ("mine"), and for the overdue view;
- the same first page computed by reading every digest of the organization and filtering and
  sorting in Python (what the page would cost without the table).

It prints the median and p95 of each and the ratio within this run. Figures only: nothing
here asserts a timing. The admin URL (``--database-url``, else ``TEST_DATABASE_URL``, else the
machine's ``postgres``) must be a superuser: seeding writes many organizations' rows at once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.search import dispose, drop_database, make_app, org_uuid  # noqa: E402

DATABASE = "pmdi_bench_ws"
APP_ROLE = "pmdi_bench_ws_app"
APP_PASSWORD = "bench-ws-password"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TODAY = dt.date(2026, 12, 1)

SEED = """
INSERT INTO organizations (id, name, slug, plan_id, status, settings, quota_overrides)
SELECT md5('bench-org-' || n)::uuid, 'Org ' || n, 'bench-org-' || n, 'enterprise', 'active',
       '{}', '{}' FROM generate_series(1, :orgs) n;
INSERT INTO users (organization_id, id, email, name, password_hash, role, status)
SELECT md5('bench-org-1')::uuid, md5('bench-user-' || u)::uuid, 'user' || u || '@bench.test',
       'Member ' || u, 'x', 'member', 'active' FROM generate_series(1, 10) u;
INSERT INTO documents (organization_id, id, title, filename, content_type, detected_type,
                       size_bytes, sha256, status, progress)
SELECT md5('bench-org-' || o)::uuid, md5('bench-doc-' || o || '-' || d)::uuid,
       'Minutes ' || d, 'minutes-' || d || '.txt', 'text/plain', 'txt', 1000,
       md5('sha-' || o || '-' || d) || md5('x'), 'done', 100
FROM generate_series(1, :orgs) o,
     generate_series(1, CASE WHEN o = 1 THEN :big ELSE :docs END) d;
INSERT INTO document_analyses (organization_id, document_id, text, digest)
SELECT organization_id, id, '', jsonb_build_object(
    'summary', jsonb_build_array('A meeting.'), 'decisions', '[]'::jsonb, 'risks', '[]'::jsonb,
    'done_actions', '[]'::jsonb,
    'action_items', (SELECT jsonb_agg(jsonb_build_object(
        'text', 'Task ' || a || ' of ' || title,
        'owner', 'Member ' || ((hashtext(id::text) + a) & 7 + 1),
        'owners', jsonb_build_array('Member ' || ((hashtext(id::text) + a) & 7 + 1)),
        'due_date', (date '2026-06-01' + ((hashtext(id::text || a) & 511)))::text,
        'due_text', NULL, 'priority', 'medium', 'done', false, 'line', a, 'page', NULL))
      FROM generate_series(1, 5) a))
FROM documents;
INSERT INTO digest_items (organization_id, id, document_id, kind, position, text, owner_text,
                          owner_key, member_id, due_date, priority, done, origin, analyser_key,
                          source_line)
SELECT a.organization_id, gen_random_uuid(), a.document_id, 'action', (e.n - 1)::int,
       e.item ->> 'text', e.item ->> 'owner', lower(e.item ->> 'owner'),
       CASE WHEN a.organization_id = md5('bench-org-1')::uuid
            THEN md5('bench-user-' || substr(e.item ->> 'owner', 8))::uuid END,
       (e.item ->> 'due_date')::date, 'medium', false, 'analyser',
       'action:' || lower(e.item ->> 'text'), (e.item ->> 'line')::int
FROM document_analyses a,
     jsonb_array_elements(a.digest -> 'action_items') WITH ORDINALITY e(item, n);
ANALYZE;
"""


def timed(run, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    run()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return times


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orgs", type=int, default=20)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--big-org-docs", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--database-url")
    args = parser.parse_args(argv)
    admin_url = args.database_url or os.environ.get("TEST_DATABASE_URL") or DEFAULT_ADMIN_URL

    from flask_migrate import upgrade
    from sqlalchemy import create_engine, select, text

    from webapp import embedded
    from webapp.config import sqlalchemy_url

    owner_url = embedded.ensure_database(admin_url, DATABASE, recreate=True)
    app_url = embedded.with_role(owner_url, APP_ROLE, APP_PASSWORD)
    try:
        migrator = make_app(app_url, MIGRATION_DATABASE_URL=owner_url)
        with migrator.app_context():
            upgrade()
            dispose(migrator)
        start = time.perf_counter()
        engine = create_engine(sqlalchemy_url(owner_url))
        with engine.begin() as conn:
            for statement in SEED.split(";\n"):
                if statement.strip():
                    conn.execute(
                        text(statement),
                        {"orgs": args.orgs, "docs": args.docs, "big": args.big_org_docs},
                    )
            total = conn.scalar(text("SELECT count(*) FROM digest_items"))
        engine.dispose()
        print(f"seeded {total:,} actions in {args.orgs} organizations "
              f"({time.perf_counter() - start:.1f} s); measured organization: "
              f"{args.big_org_docs:,} documents, {args.big_org_docs * 5:,} actions")  # fmt: skip

        from webapp.extensions import db
        from webapp.models import Document, DocumentAnalysis
        from webapp.tenancy import tenant_context
        from webapp.workspace import items

        app = make_app(app_url)
        with app.app_context(), tenant_context(org_uuid(1)):
            member = db.session.scalar(text("SELECT id FROM users ORDER BY email LIMIT 1"))
            db.session.rollback()

            def page(filters):  # type: ignore[no-untyped-def]
                def run() -> None:
                    rows, count, _, _ = items.list_actions(filters, TODAY)
                    assert len(rows) == 25 or count < 25
                    db.session.rollback()

                return run

            def json_scan() -> None:
                found = []
                for digest, title in db.session.execute(
                    select(DocumentAnalysis.digest, Document.title).join(
                        Document, Document.id == DocumentAnalysis.document_id
                    )
                ):
                    for action in digest.get("action_items") or []:
                        if not action.get("done"):
                            found.append((action.get("due_date") or "9999", title, action))
                found.sort(key=lambda row: (row[0], row[1]))
                assert len(found[:25]) == 25
                db.session.rollback()

            results = {
                "list_actions, open, by due date": timed(
                    page(items.ActionFilter(view="open")), args.repeat
                ),
                "list_actions, mine": timed(
                    page(items.ActionFilter(view="open", member_id=member)), args.repeat
                ),
                "list_actions, overdue": timed(
                    page(items.ActionFilter(view="overdue")), args.repeat
                ),
                "every JSON digest, filtered in Python": timed(json_scan, max(5, args.repeat // 3)),
            }
            dispose(app)
        for label, values in results.items():
            print(f"{label:<40} median {statistics.median(values):8.1f} ms   "
                  f"p95 {p95(values):8.1f} ms   ({len(values)} runs)")  # fmt: skip
        indexed = statistics.median(results["list_actions, open, by due date"])
        scan = statistics.median(results["every JSON digest, filtered in Python"])
        print(f"ratio (JSON scan / indexed page): {scan / indexed:.1f}x")
    finally:
        drop_database(admin_url, DATABASE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
