"""Search latency in one organization of a large, shared documents table.

    python bench/search.py [--docs 1000000] [--orgs 1000] [--big-org-docs 10000]
                           [--repeat 50] [--slices N] [--database-url URL] [--keep] [--explain]

DESIGN.md §6 wants ranked full-text search with highlighted snippets; the target is a median
under 20 ms for an organization of 10,000 documents inside a table of 1,000,000 documents of
many organizations. This script:

1. creates a separate database (``pmdi_bench``, dropped first unless ``--keep`` finds it
   already seeded with the same sizes) with the project's migrations, as the owner role, and
   the runtime role ``pmdi_bench_app``;
2. seeds it with SQL only (``generate_series``, one INSERT ... SELECT per table, split into
   ``--slices`` ranges run side by side, secondary indexes rebuilt after the load):
   organizations (plans exist), documents whose text (~150 words) is drawn from a skewed
   project-management vocabulary (common words match most documents, each "codename" token
   about 20), their ``document_analyses`` (the text the snippets come from), and a
   ``search_vector`` built exactly like ``webapp.documents.services.search_vector`` (checked
   against it on a sample). The measured organization owns every N-th document, so its rows
   are spread over the table as after months of tenants uploading side by side;
3. calls ``services.search_documents(q)`` through the app, as the runtime role, inside
   ``tenant_context(org)`` (so wall 1 and RLS both apply), ``--repeat`` times per query after a
   warm-up, and prints the median and p95 per query and overall, with the row counts and the
   mean time spent per call in each kind of statement (ranked search, snippets, the rest) and
   in Python. A typical organization (~1,000 documents) is measured the same way.

``--explain`` prints ``EXPLAIN (ANALYZE, BUFFERS)`` of the statement the service ran, executed
as the runtime role in the same tenant context. The admin URL (``--database-url``, else
``TEST_DATABASE_URL``, else the machine's ``postgres`` superuser) must be a superuser: seeding
writes many organizations' rows at once, which row-level security (forced, even for the table
owner) would otherwise refuse. Figures only: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
APP_ROLE = "pmdi_bench_app"
APP_PASSWORD = "bench-app-password"
TARGET_MEDIAN_MS = 20.0

# Ordered from most to least frequent: words are drawn with a power-law skew over this list,
# so the first ones occur in most documents and the last ones in a few percent. Multi-word
# entries are drawn as a unit, so phrase queries find real adjacent pairs.
VOCABULARY = [
    " ".join(word.split())
    for word in """
project, team, the, will, update, status, week, plan, budget, risk, schedule, delivery,
scope, review, milestone, stakeholder, approval, cost, resource, timeline, issue, action,
owner, deadline, sponsor, requirement, testing, release, deployment, integration, vendor,
contract, training, migration, data, report, forecast, estimate, variance, progress, sprint,
backlog, dependency, escalation, mitigation, impact, probability, severity, decision,
meeting, agenda, minutes, follow-up, workstream, deliverable, baseline, change request,
steering committee, critical path, go-live date, risk register, project board, quality,
assurance, acceptance, sign-off, handover, cutover, rehearsal, rollback, environment,
infrastructure, licence, procurement, invoice, purchase order, finance, governance,
compliance, audit, security, privacy, architecture, design, prototype, pilot, rollout,
adoption, communication, engagement, workshop, interview, survey, feedback, lessons,
retrospective, velocity, capacity, allocation, headcount, contractor, supplier, partner,
customer, user, department, portfolio, programme, benefit, business case, return, savings,
overrun, delay, slippage, blocker, assumption, constraint, tolerance, exception,
contingency, reserve, phase, stage gate, kickoff, closure, charter, brief, roadmap,
objective, outcome, metric, indicator, dashboard, target, threshold, trend, burndown,
estimate, effort, story, epic, feature, defect, bug, incident, outage, support, service,
operations, maintenance, upgrade, patch, server, database, network, cloud, hosting,
platform, application, interface, api, billing, payroll, crm, erp, warehouse, logistics,
inventory, regulatory, legal, policy, standard, template, checklist, documentation,
specification, prioritisation, trade-off, option, recommendation, proposal, negotiation,
renewal, tender, evaluation, shortlist, award, onboarding, offboarding, recruitment, morale,
conflict, holiday, absence, sickness, relocation, facilities, equipment, hardware, software,
tooling, automation, pipeline, repository, branch, merge, refactor, performance, latency,
throughput, scalability, resilience, backup, recovery, continuity, disaster, penetration
test, vulnerability, encryption, identity, access, permission, retention, archive,
reconciliation, duplicate, cleansing, mapping, transformation, extract, load, validation,
translation, localisation, accessibility, usability, prototype, wireframe, mock-up, demo,
showcase, town hall, newsletter, memo, escalation path, war room, hypercare, warranty,
decommission, sunset, legacy, greenfield
""".split(",")
]
TITLES = [
    "Steering committee minutes",
    "Weekly status report",
    "Risk register review",
    "Project charter",
    "Sprint retrospective",
    "Change request",
    "Budget forecast",
    "Vendor assessment",
    "Cutover plan",
    "Lessons learned",
]
SENTENCE_POOL = 20_000
SENTENCE_WORDS = 12
SKEW = 2.5  # index = n * random()^SKEW: a power law over the vocabulary
DOCS_PER_RARE_TOKEN = 20


@dataclass(frozen=True)
class Sizes:
    """What to seed."""

    docs: int
    orgs: int
    big_org_docs: int
    sentences: int  # sentences per document (about 12 words each)


# --- Database set-up ---------------------------------------------------------------------


def prepare_database(admin_url: str, name: str, sizes: Sizes, keep: bool) -> tuple[str, str, bool]:
    """Create (or reuse, with ``keep``) and migrate the bench database; returns owner and app
    URLs and whether the existing data can be reused."""
    from sqlalchemy import create_engine, text

    from webapp import embedded
    from webapp.config import sqlalchemy_url

    owner_url = embedded.ensure_database(admin_url, name, recreate=False)
    reusable = False
    if keep:
        engine = create_engine(sqlalchemy_url(owner_url))
        with engine.connect() as conn:
            seeded = conn.scalar(text("SELECT to_regclass('public.documents') IS NOT NULL"))
            if seeded:
                counts = conn.execute(
                    text(
                        "SELECT (SELECT count(*) FROM documents), "
                        "(SELECT count(*) FROM organizations), "
                        "(SELECT count(*) FROM documents WHERE organization_id = :big)"
                    ),
                    {"big": org_uuid(1)},
                ).one()
                reusable = tuple(counts) == (sizes.docs, sizes.orgs, expected_big_org_docs(sizes))
        engine.dispose()
    if not reusable:
        owner_url = embedded.ensure_database(admin_url, name, recreate=True)
    app_url = embedded.with_role(owner_url, APP_ROLE, APP_PASSWORD)
    # Always upgrade: reused data still gets the migrations added since it was seeded.
    from flask_migrate import upgrade

    migrator = make_app(app_url, MIGRATION_DATABASE_URL=owner_url)
    with migrator.app_context():
        upgrade()
        dispose(migrator)
    return owner_url, app_url, reusable


def drop_database(admin_url: str, name: str) -> None:
    """Drop the bench database (it holds gigabytes)."""
    from sqlalchemy import create_engine, text

    from webapp.config import sqlalchemy_url

    engine = create_engine(sqlalchemy_url(admin_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def make_app(app_url: str, **overrides: Any) -> Any:
    """The application as the runtime role (no server; used for its services)."""
    from webapp import create_app

    config = {
        "SECRET_KEY": "bench-secret",
        "SQLALCHEMY_DATABASE_URI": app_url,
        "REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
    }
    config.update(overrides)
    return create_app(config)


def dispose(app: Any) -> None:
    """Close the app's connection pools (inside its app context)."""
    from webapp.extensions import db

    db.session.remove()
    for engine in db.engines.values():
        engine.dispose()


def org_uuid(number: int) -> uuid.UUID:
    """The id the seed gives organization ``number`` (1 is the big one): md5('bench-org-N')."""
    import hashlib

    return uuid.UUID(hashlib.md5(f"bench-org-{number}".encode()).hexdigest())


# --- Seeding -----------------------------------------------------------------------------


# Each step: (label, SQL, sliced). A sliced step runs once per slice of document numbers
# (:lo to :hi), the slices side by side on their own connections, one per core: PostgreSQL
# does not run INSERT ... SELECT (nor a scan of generate_series) in parallel by itself, and
# to_tsvector is most of the seeding time.
#
# Organization 1 is the big one: every ``:step``-th document, so its rows are spread over
# the whole table as they would be after months of many tenants uploading side by side.
ORG_OF_N = """md5('bench-org-' || CASE WHEN n % :step = 0 THEN 1
                                  ELSE 2 + (n - n / :step) % (:orgs - 1) END)::uuid"""
SEED_STEPS: list[tuple[str, str, bool]] = [
    (
        "sentence pool, organizations",
        """
        -- "g * 0" and "s >= 0" tie the aggregate and the sub-select to their rows, so each
        -- sentence gets its own random words (an aggregate over outer columns only would
        -- belong to the outer query).
        CREATE UNLOGGED TABLE bench_sentences AS
        SELECT s AS id,
               (SELECT initcap(left(t, 1)) || substr(t, 2) || '.'
                  FROM (SELECT string_agg(
                                   v.words[g * 0 + 1 + floor(pow(random(), :skew)
                                                     * cardinality(v.words))::int], ' ') AS t
                          FROM generate_series(1, :sentence_words) g
                         WHERE s >= 0) x) AS text
          FROM generate_series(0, :pool - 1) s, (SELECT CAST(:vocab AS text[]) AS words) v;
        ALTER TABLE bench_sentences ADD PRIMARY KEY (id);
        ANALYZE bench_sentences;
        INSERT INTO organizations (id, name, slug, plan_id, status, settings, quota_overrides)
        SELECT md5('bench-org-' || o)::uuid, 'Bench organization ' || o, 'bench-org-' || o,
               CASE WHEN o = 1 THEN 'enterprise'
                    ELSE (ARRAY['free', 'pro', 'enterprise'])[1 + o % 3] END,
               'active', '{}', '{}'
          FROM generate_series(1, :orgs) o;
        CREATE UNLOGGED TABLE bench_docs (
            n integer, org_id uuid, title text, body text, search_vector tsvector
        );
        -- Secondary indexes are dropped for the load and rebuilt after it (faster).
        CREATE UNLOGGED TABLE bench_indexes AS
        SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS definition
          FROM pg_index i
         WHERE indrelid = 'documents'::regclass
           AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid);
        DO $$ DECLARE r record; BEGIN
          FOR r IN SELECT name FROM bench_indexes LOOP EXECUTE 'DROP INDEX ' || r.name; END LOOP;
        END $$;
        """,
        False,
    ),
    (
        # The vector exactly as services.search_vector builds it (checked after seeding).
        "document texts and search vectors",
        f"""
        INSERT INTO bench_docs
        SELECT n, org_id, title, body,
               setweight(to_tsvector('english', title), 'A')
               || setweight(to_tsvector('english', left(body, :search_chars)), 'B')
               || array_to_tsvector(ARRAY['org' || replace(org_id::text, '-', '')])
          FROM (
            SELECT n, {ORG_OF_N} AS org_id,
                   (CAST(:titles AS text[]))[1 + (hashint4(n) & 2147483647)
                                             % cardinality(CAST(:titles AS text[]))]
                       || ' ' || n AS title,
                   (SELECT string_agg(s.text, ' ' ORDER BY j)
                      FROM generate_series(1, :sentences) j
                      JOIN bench_sentences s
                        ON s.id = (hashint8(n * 64 + j) & 2147483647) % :pool)
                   || ' Codename codename' || (n % :rare_space) || '.' AS body
              FROM generate_series(:lo, :hi) n
          ) texts;
        """,
        True,
    ),
    (
        "documents",
        """
        INSERT INTO documents (organization_id, id, title, filename, content_type,
                               detected_type, size_bytes, sha256, status, progress,
                               word_count, created_at, updated_at, processed_at, search_vector)
        SELECT org_id, md5('bench-doc-' || n)::uuid, title, 'bench-' || n || '.txt',
               'text/plain; charset=utf-8', 'txt', octet_length(body),
               encode(sha256(convert_to('bench-doc-' || n, 'UTF8')), 'hex'), 'done', 100,
               :sentences * :sentence_words + 2, stamp, stamp, stamp, search_vector
          FROM (SELECT *, now() - make_interval(secs => 30.0 * (:docs - n)) AS stamp
                  FROM bench_docs WHERE n BETWEEN :lo AND :hi) d;
        """,
        True,
    ),
    (
        "document_analyses",
        """
        INSERT INTO document_analyses (organization_id, document_id, text, digest)
        SELECT org_id, md5('bench-doc-' || n)::uuid, body,
               jsonb_build_object('summary', jsonb_build_array(left(body, 200)))
          FROM bench_docs WHERE n BETWEEN :lo AND :hi;
        """,
        True,
    ),
    (
        "rebuild secondary indexes (GIN included)",
        """
        SET maintenance_work_mem = '1GB';
        DO $$ DECLARE r record; BEGIN
          FOR r IN SELECT definition FROM bench_indexes LOOP EXECUTE r.definition; END LOOP;
        END $$;
        """,
        False,
    ),
    (
        "clean up, VACUUM ANALYZE",
        """
        DROP TABLE bench_docs, bench_sentences, bench_indexes;
        VACUUM (ANALYZE) organizations;
        VACUUM (ANALYZE) documents;
        VACUUM (ANALYZE) document_analyses;
        """,
        False,
    ),
]


def big_org_step(sizes: Sizes) -> int:
    """Every how many documents one belongs to the big organization."""
    return max(1, sizes.docs // sizes.big_org_docs)


def expected_big_org_docs(sizes: Sizes) -> int:
    return sizes.docs // big_org_step(sizes)


def seed(owner_url: str, sizes: Sizes, slices: int) -> None:
    """Fill the bench database with SQL only, timing each step."""
    from concurrent.futures import ThreadPoolExecutor

    import psycopg

    from webapp.config import sqlalchemy_url
    from webapp.documents.services import SEARCH_TEXT_CHARS

    params = {
        "vocab": VOCABULARY,
        "titles": TITLES,
        "skew": SKEW,
        "sentence_words": SENTENCE_WORDS,
        "pool": SENTENCE_POOL,
        "orgs": sizes.orgs,
        "docs": sizes.docs,
        "step": big_org_step(sizes),
        "sentences": sizes.sentences,
        "rare_space": rare_space(sizes),
        "search_chars": SEARCH_TEXT_CHARS,
    }
    dsn = sqlalchemy_url(owner_url).replace("postgresql+psycopg://", "postgresql://")

    def run(sql: str, bounds: tuple[int, int] = (1, sizes.docs)) -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SET jit = off")
            for statement in split_statements(sql):
                conn.execute(bind(statement, {**params, "lo": bounds[0], "hi": bounds[1]}))

    width = -(-sizes.docs // slices)
    bounds = [(lo, min(sizes.docs, lo + width - 1)) for lo in range(1, sizes.docs + 1, width)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=slices) as pool:
        for label, sql, sliced in SEED_STEPS:
            step = time.perf_counter()
            if sliced:
                for future in [pool.submit(run, sql, b) for b in bounds]:
                    future.result()
            else:
                run(sql)
            shown = f"{label} ({len(bounds)} connections)" if sliced else label
            print(f"  seeded {shown:<50} {time.perf_counter() - step:7.1f} s", flush=True)
    print(f"  seeding took {time.perf_counter() - started:.1f} s", flush=True)


def rare_space(sizes: Sizes) -> int:
    """How many distinct codename tokens: each then occurs in about 20 documents."""
    return max(1, sizes.docs // DOCS_PER_RARE_TOKEN)


def split_statements(sql: str) -> list[str]:
    """Split on ';' at line ends, keeping DO $$ … $$ blocks whole."""
    statements, current, in_dollar = [], [], False
    for line in sql.strip().splitlines():
        current.append(line)
        in_dollar ^= line.count("$$") % 2 == 1
        if line.rstrip().endswith(";") and not in_dollar:
            statements.append("\n".join(current).strip())
            current = []
    if "".join(current).strip():
        statements.append("\n".join(current).strip())
    return statements


def bind(statement: str, params: dict[str, Any]) -> Any:
    """Inline ``:name`` parameters as literals (utility statements take no bind parameters)."""
    import re

    from psycopg import sql as psql

    def literal(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in params:
            return match.group(0)
        return psql.Literal(params[name]).as_string(None)

    return re.sub(r"(?<!:):([a-z_]+)\b", literal, statement)


def check_vector(app_url: str, owner_url: str) -> bool:
    """Does a seeded vector equal ``services.search_vector`` of the same title and text?"""
    from sqlalchemy import create_engine, select, text

    from webapp.config import sqlalchemy_url
    from webapp.documents import services

    engine = create_engine(sqlalchemy_url(owner_url))
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT d.organization_id, d.title, a.text, d.search_vector::text AS stored "
                "FROM documents d JOIN document_analyses a "
                "ON a.organization_id = d.organization_id AND a.document_id = d.id "
                "WHERE d.organization_id = :big LIMIT 1"
            ),
            {"big": org_uuid(1)},
        ).one()
        expected = conn.scalar(
            select(services.search_vector(row.organization_id, row.title, row.text))
        )
    engine.dispose()
    return str(expected) == row.stored


# --- Measuring ---------------------------------------------------------------------------


@dataclass
class QueryResult:
    """Latencies of one query (milliseconds) and what it found."""

    label: str
    q: str
    hits: int
    matches: int
    first_ms: float
    times_ms: list[float]
    sql_ms: dict[str, float]  # mean database time per call, by kind of statement

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.times_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


@contextmanager
def captured_statements(app: Any):  # type: ignore[no-untyped-def]
    """Record (statement, parameters) of every query the app's engine runs."""
    from sqlalchemy import event

    from webapp.extensions import db

    seen: list[tuple[str, Any]] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append((statement, parameters))

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


class StatementTimer:
    """Time spent in the database per kind of statement (search, snippets, other)."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {"search": 0.0, "snippets": 0.0, "other": 0.0}
        self._started: float | None = None

    @staticmethod
    def kind(statement: str) -> str:
        if "ts_headline" in statement:
            return "snippets"
        if "ts_rank_cd" in statement or "app_search_documents" in statement:
            return "search"
        return "other"  # app_enter_org at transaction start, the pool's pre-ping

    def before(self, conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        self._started = time.perf_counter()

    def after(self, conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if self._started is not None:
            self.ms[self.kind(statement)] += (time.perf_counter() - self._started) * 1000
            self._started = None


@contextmanager
def timed_statements(timer: StatementTimer):  # type: ignore[no-untyped-def]
    """Feed ``timer`` from the app engine's cursor events for the duration of the block."""
    from sqlalchemy import event

    from webapp.extensions import db

    engine = db.engine
    event.listen(engine, "before_cursor_execute", timer.before)
    event.listen(engine, "after_cursor_execute", timer.after)
    try:
        yield timer
    finally:
        event.remove(engine, "before_cursor_execute", timer.before)
        event.remove(engine, "after_cursor_execute", timer.after)


def measure(
    app: Any,
    org_id: uuid.UUID,
    queries: list[tuple[str, str]],
    repeat: int,
    owner_url: str,
    explain: bool,
) -> list[QueryResult]:
    """Run every query through ``services.search_documents`` in the organization's context."""
    from sqlalchemy import create_engine, func, select

    from webapp.config import sqlalchemy_url
    from webapp.documents import services
    from webapp.extensions import db
    from webapp.models import Document
    from webapp.tenancy import tenant_context

    owner = create_engine(sqlalchemy_url(owner_url))
    results = []
    with app.app_context():
        for label, q in queries:
            with owner.connect() as conn:
                matches = conn.scalar(
                    select(func.count())
                    .select_from(Document)
                    .where(
                        Document.organization_id == org_id,
                        Document.search_vector.op("@@")(func.websearch_to_tsquery("english", q)),
                    )
                )
            with tenant_context(org_id):
                db.session.remove()
                started = time.perf_counter()
                hits = services.search_documents(q)
                first = (time.perf_counter() - started) * 1000
                for _ in range(3):  # warm-up
                    db.session.remove()
                    services.search_documents(q)
                times = []
                timer = StatementTimer()
                with timed_statements(timer):
                    for _ in range(repeat):
                        db.session.remove()  # each call begins its own transaction
                        started = time.perf_counter()
                        services.search_documents(q)
                        times.append((time.perf_counter() - started) * 1000)
                db.session.remove()
                if explain:
                    print_plan(label, q)
            split = {kind: ms / repeat for kind, ms in timer.ms.items()}
            results.append(QueryResult(label, q, len(hits), matches or 0, first, times, split))
        dispose(app)
    owner.dispose()
    return results


def print_plan(label: str, q: str) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) the search statement, as the runtime role, in context."""
    from flask import current_app

    from webapp.documents import services
    from webapp.extensions import db

    with captured_statements(current_app) as seen:
        services.search_documents(q)
    db.session.remove()
    statement, parameters = next(
        (s, p)
        for s, p in seen
        if "app_search_documents" in s or ("ts_rank_cd" in s and "FROM documents" in s)
    )
    conn = db.session.connection()
    cursor = conn.connection.driver_connection.cursor()
    cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS) " + statement, parameters)
    plan = "\n".join("    " + row[0] for row in cursor.fetchall())
    db.session.rollback()
    print(f"\n  EXPLAIN ANALYZE — {label}: {q}\n{plan}\n", flush=True)


def row_counts(owner_url: str, big_org: uuid.UUID, small_org: uuid.UUID) -> dict[str, Any]:
    """How much data the measurement ran against."""
    from sqlalchemy import create_engine, text

    from webapp.config import sqlalchemy_url

    engine = create_engine(sqlalchemy_url(owner_url))
    with engine.connect() as conn:
        counts = dict(
            conn.execute(
                text(
                    "SELECT 'documents', count(*) FROM documents UNION ALL "
                    "SELECT 'document_analyses', count(*) FROM document_analyses UNION ALL "
                    "SELECT 'organizations', count(*) FROM organizations UNION ALL "
                    "SELECT 'big organization documents', count(*) FROM documents "
                    "WHERE organization_id = :big UNION ALL "
                    "SELECT 'small organization documents', count(*) FROM documents "
                    "WHERE organization_id = :small"
                ),
                {"big": big_org, "small": small_org},
            ).all()
        )
        counts["documents table size"] = conn.scalar(
            text("SELECT pg_size_pretty(pg_total_relation_size('documents'))")
        )
        counts["GIN index size"] = conn.scalar(
            text("SELECT pg_size_pretty(pg_relation_size('ix_documents_search'))")
        )
        counts["avg text chars"] = conn.scalar(
            text("SELECT round(avg(length(text))) FROM document_analyses TABLESAMPLE SYSTEM (1)")
        )
    engine.dispose()
    return counts


def report(title: str, results: list[QueryResult]) -> None:
    """Print one table of latencies."""
    print(f"\n{title}")
    print(
        f"  {'query':<12} {'q':<24} {'matches':>8} {'hits':>5} {'first':>7} "
        f"{'median':>7} {'p95':>7} | {'search':>7} {'snippet':>7} {'other':>7} {'python':>7}  (ms)"
    )
    for r in results:
        sql = r.sql_ms
        python = statistics.mean(r.times_ms) - sum(sql.values())
        print(
            f"  {r.label:<12} {r.q:<24} {r.matches:>8} {r.hits:>5} {r.first_ms:>7.1f} "
            f"{r.median:>7.1f} {r.p95:>7.1f} | {sql['search']:>7.1f} {sql['snippets']:>7.1f} "
            f"{sql['other']:>7.1f} {python:>7.1f}"
        )
    every = [t for r in results for t in r.times_ms]
    ordered = sorted(every)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    median = statistics.median(every)
    verdict = "meets" if median < TARGET_MEDIAN_MS else "MISSES"
    print(
        f"  {'overall':<12} {'':<24} {'':>8} {'':>5} {'':>7} {median:>7.1f} {p95:>7.1f}"
        f"   -> {verdict} the {TARGET_MEDIAN_MS:.0f} ms median target"
    )
    print(
        "  matches: documents of the organization matching q; hits: results returned (limit "
        "20);\n  search/snippet/other: mean time per call in the ranked search statement, the "
        "ts_headline\n  statement and the rest (app_enter_org, pool pre-ping); python: mean call "
        "time minus those."
    )


def main(argv: list[str] | None = None) -> int:
    """Parse options, prepare and seed the database, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=1_000_000, help="documents in the table")
    parser.add_argument("--orgs", type=int, default=1_000, help="organizations")
    parser.add_argument(
        "--big-org-docs", type=int, default=10_000, help="documents of the measured organization"
    )
    parser.add_argument(
        "--sentences", type=int, default=10, help="sentences (~12 words) per document"
    )
    parser.add_argument("--repeat", type=int, default=50, help="timed calls per query")
    parser.add_argument(
        "--slices",
        type=int,
        default=os.cpu_count() or 2,
        help="connections that seed side by side (default: one per core)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL") or DEFAULT_ADMIN_URL,
        help="a superuser URL (default: TEST_DATABASE_URL, else the local postgres)",
    )
    parser.add_argument("--database", default="pmdi_bench", help="the database to (re)create")
    parser.add_argument(
        "--keep", action="store_true", help="reuse seeded data of the same sizes; keep it after"
    )
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE per query")
    args = parser.parse_args(argv)
    if args.orgs < 2 or args.big_org_docs >= args.docs:
        parser.error("need at least 2 organizations and --big-org-docs < --docs")
    sizes = Sizes(args.docs, args.orgs, args.big_org_docs, args.sentences)

    print("bench/search.py — full-text search latency through services.search_documents")
    print(f"  command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    print(
        f"  parameters: docs={sizes.docs:,} orgs={sizes.orgs:,} big_org_docs="
        f"{sizes.big_org_docs:,} sentences/doc={sizes.sentences} repeat={args.repeat} "
        f"database={args.database} keep={args.keep}"
    )
    import logging

    logging.getLogger().setLevel(logging.WARNING)
    owner_url, app_url, reused = prepare_database(
        args.database_url, args.database, sizes, args.keep
    )
    if reused:
        print("  reusing the seeded data (--keep, same sizes)")
    else:
        seed(owner_url, sizes, args.slices)
    print(f"  seeded vector == services.search_vector(...): {check_vector(app_url, owner_url)}")

    big_org, small_org = org_uuid(1), org_uuid(2)
    counts = row_counts(owner_url, big_org, small_org)
    print("\nRow counts")
    for name, value in counts.items():
        print(
            f"  {name:<30} {value:>12,}" if isinstance(value, int) else f"  {name:<30} {value:>12}"
        )

    queries = [
        ("common", "budget"),
        ("rare", f"codename{big_org_step(sizes) % rare_space(sizes)}"),
        ("two words", "vendor delay"),
        ("phrase", '"steering committee"'),
        ("or", "outage or rollback"),
    ]
    app = make_app(app_url)
    report(
        f"Big organization ({counts['big organization documents']:,} documents), "
        f"{args.repeat} calls per query after 3 warm-ups",
        measure(app, big_org, queries, args.repeat, owner_url, args.explain),
    )
    small_app = make_app(app_url)
    report(
        f"Small organization ({counts['small organization documents']:,} documents), same queries",
        measure(small_app, small_org, queries, args.repeat, owner_url, False),
    )
    if not args.keep:
        drop_database(args.database_url, args.database)
        print(f"\n  dropped {args.database} (--keep keeps it for the next run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
