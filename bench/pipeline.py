"""Pipeline throughput: API uploads to finished digests, set against the task body alone.

    python bench/pipeline.py [--docs 200] [--clients 4] [--direct-docs N] [--processes 2]
                             [--warmup 2] [--worker-slots 2] [--prefetch-multiplier N]
                             [--cycles 1] [--corpus DIR] [--no-e2e] [--profile DIR]
                             [--database-url URL] [--db-name NAME]
                             [--redis-url URL | --private-redis] [--keep]

    # issue 15's targets: one-page reports, and the labelled corpus of #6
    python bench/pipeline.py --docs 40 --cycles 8 --private-redis
    python bench/pipeline.py --corpus tests/fixtures/corpus/docs --cycles 2 --private-redis
    python bench/pipeline.py --url http://host:port --token pmdi_... [--app-database-url URL]

DESIGN.md §6: an upload stores the document and dispatches ``process_document`` to a Celery
worker, which extracts, analyses and indexes it. This script measures that path end to end,
from outside, and the worker's share of it:

1. by default it creates and migrates its own database (``pmdi_bench_pipeline``, runtime role
   ``pmdi_bench_pipeline_app``; dropped at the end unless ``--keep``), flushes its own Redis
   database (``--redis-url``, default db 13, before and after), and starts the web server and
   ONE Celery worker with the commands ``webapp/serve.py`` uses (gunicorn with 2 workers; the
   worker prefork with ``--concurrency=2``, beat inside it, the queues of
   ``workers.fairness.worker_queues``). With ``--url`` and ``--token`` it uses a server and
   worker that are already running instead;
2. signs up organization A through the pages (CSRF token from the form), creates organization
   B through the sign-up service in-process, raises both organizations' quota overrides (no
   quota or rate limit within reach; ``worker_slots`` = ``--worker-slots``, default 2 so one
   organization may use the whole worker, where the free plan allows 1), and issues an API
   token for A's owner in-process (``tokens.create_token`` as the runtime role, inside
   ``tenant_context``);
3. warm-up: ``--warmup`` documents through the whole path (so no figure includes the first
   request of a gunicorn worker or the first task of a Celery child);
4. **end to end**: uploads ``--docs`` distinct one-page PM status reports (~400 words, one
   unique line each, so every SHA-256 differs) with ``POST /api/v1/documents`` from
   ``--clients`` threads, timing each request, then polls ``GET /api/v1/documents`` until all
   are ``done`` or ``failed``. It prints documents/second from the first upload's start to the
   last document's ``processed_at``, the upload latency p50/p95/max, and the time to the last
   document done;
5. **worker only**: ``--direct-docs`` (default: ``--docs``) documents of the same text (only
   the unique line differs) were uploaded into organization B in-process with the dispatch
   replaced by "mark the outbox message sent", so no worker sees them. ``--processes``
   (default 2, the worker's concurrency) spawned processes, each with its own app, pull their
   ids from one queue and call ``workers.pipeline.process(id)`` inside the app context and
   ``tenant_context`` — the pipeline as ``TenantTask`` runs it, without the broker and
   without the worker-slot bookkeeping of ``workers/fair_run.py`` (both count as queue).
   It prints documents/second, the ratio end-to-end / worker-only and "queue cost" =
   1 - ratio;
6. **through the queue, stored first**: the same number of documents, stored in-process, are
   dispatched through the real path (worker slots, Celery, the running worker) with no
   uploads competing for the cores: the queue's own cost, as queued / worker-only;
7. **Celery's own cost per message**: as many no-op tasks (``celery.accumulate``, published
   like a document: JSON, late ack, no result) through the same worker. From the CPU per
   message and the worker-only run's CPU per document it prints the best queued / worker-only
   ratio any code could reach with one Celery message per document on this machine.

``--corpus DIR`` uploads the files of DIR instead of one-page reports (every file in turn,
each copy made unique where its format ignores it: a PNG text chunk, a zip comment, a comment
after ``%%EOF``, a mail header, a CSV row, a trailing line), so PDFs, DOCX, mails and scans
through Tesseract are in the mix. ``--private-redis`` runs a Redis server of the script's own,
so the Redis CPU counted is the bench's alone; ``--db-name`` names the database (and its
runtime role, ``<name>_app``) when others run this script too.

**Ratios from CPU time.** On a shared machine the wall clock of a run of a few seconds moves
by tens of percent with other people's work; the CPU the bench's own processes spent per
document (the pipeline processes or the Celery worker, with the Tesseract children they
waited for; the PostgreSQL backends of the bench database; Redis; this script's dispatching,
not its polling; the idle web server left out) moves much less. A CPU-bound machine runs
documents at 1 / (CPU per document), so "queued / worker only (CPU)" is worker-only CPU per
document / queued CPU per document, and Celery's floor is worker / (worker + one no-op
message). Each cycle runs worker only, queued, no-op and (unless ``--no-e2e``) end to end
back to back and prints its ratios with the load average; the summary prints each cycle, the
pooled ratios (CPU per document averaged over the cycles first) and the medians. The running
Celery worker's CPU counts in the worker-only run too: the pipeline asks it to mail the
notifications of each document, there as here. The queued run uses an organization of its
own (the worker-only run's lease renewers hold worker slots of theirs until they expire), and
the worker is started with ``RECONCILE_SETTLE_SECONDS=3600`` so the reconciler, still running
every few seconds, leaves the worker-only run's deliberately unsent documents alone.
``--profile DIR`` writes a CPU-time cProfile of each worker process (bench/_celery_profile.py).

Both runs also print the CPU seconds each group of processes spent (web server, Celery
worker, the PostgreSQL backends of the bench database, Redis, this script), per document:
on a small machine the uploads and the processing share the same cores, so the queue cost is
as much the price of ingesting as of queueing.

The machine's load average is printed at the start and the end: other work on the machine
changes every figure. Figures only; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import http.client
import io
import logging
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.memory import Client, free_port  # noqa: E402  (needs ROOT on sys.path)

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
DATABASE = "pmdi_bench_pipeline"
APP_ROLE = "pmdi_bench_pipeline_app"
APP_PASSWORD = "bench-app-password"
SECRET_KEY = "bench-secret"
API = "/api/v1"
# Generous enough that no plan limit or rate limit refuses or slows the bench's uploads; the
# worker slots (how many of an organization's documents may be queued or running at once,
# workers/fairness.py) are set by --worker-slots.
QUOTA_OVERRIDES = {
    "requests_per_minute": 1_000_000,
    "token_requests_per_minute": 1_000_000,
    "uploads_per_hour": 1_000_000,
    "documents_per_month": 1_000_000,
    "storage_bytes": 1 << 40,
    "max_file_bytes": 100 * 1024 * 1024,
}
PROJECTS = ["Atlas CRM migration", "Borealis data platform", "Cygnus billing replacement"]
PEOPLE = ["Maria Lopez", "Tom Brennan", "Priya Natarajan", "Daniel Okafor", "Zoë Fischer"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "September"]
# A one-page weekly status report (~400 words); {fields} vary with the document's number.
REPORT = """{project} - Weekly Status Report

Reporting period: week {week}, {month} 2027
Prepared by: {author}
Overall status: {rag}
{unique}

Executive summary

The project is broadly on schedule, but the billing integration is at risk because the
vendor's API release has slipped by two weeks. Data migration rehearsals are going well and
user acceptance testing is planned for {month}. Spend remains within the approved budget,
with {contingency} of contingency left after this period's change requests.

Milestones

Milestone | Planned | Forecast | Status
Migration rehearsal {week} | 26 {month} 2027 | 26 {month} 2027 | Complete
Billing integration complete | 19 {month} 2027 | 2 {month} 2027 | At risk
User acceptance testing | 5 {month} 2027 | 12 {month} 2027 | On track
Go-live | 14 June 2027 | 14 June 2027 | On track

Accomplishments this period

- Completed migration rehearsal {week} with {reconciled}% of records reconciled.
- Signed off the security design with the information security team.
- Agreed the cutover communication plan with the customer service leads.
- Closed eleven defects from the previous test cycle; three remain open.

Issues and risks

- High: The billing vendor's API delivery has slipped by two weeks, so integration testing
  will start late and may push user acceptance testing back.
- Medium: Two developers are leaving the contractor team next month, reducing delivery
  capacity during the busiest part of the schedule.
- Medium: The data quality of legacy customer records is lower than assumed; duplicate
  accounts may need manual cleansing before cutover.
- Low: The training room booking for {month} is not yet confirmed.

Budget

The budget at completion is forecast at £1.18m against an approved budget of £1.2m. The
steering committee asked for a revised forecast that includes the cost of the extra
rehearsal and the replacement developers.

Decisions

The sponsor approved the revised test strategy on 22 {month} 2027. The steering committee
decided to keep the go-live date and to add a third rehearsal rather than move the cutover.

Next steps

- {owner1} to agree a revised integration plan with the billing vendor by 10 {month} 2027.
- {owner2} will publish the updated cost forecast by 15 {month} 2027.
- Recruit two replacement developers (Owner: {owner3}, priority: high).
- Book the training room and confirm the trainers for the first two weeks of user training.
"""


# --- Documents ---------------------------------------------------------------------------


def document_text(n: int, unique: str) -> bytes:
    """The n-th report: fields vary with n; ``unique`` is a line that makes its SHA-256 unique."""
    return REPORT.format(
        project=PROJECTS[n % len(PROJECTS)],
        week=n % 52 + 1,
        month=MONTHS[n % len(MONTHS)],
        author=PEOPLE[n % len(PEOPLE)],
        rag=("Green", "Amber", "Red")[n % 3],
        unique=unique,
        contingency=f"£{40_000 + 250 * (n % 80):,}",
        reconciled=f"{97 + (n % 30) / 10:.1f}",
        owner1=PEOPLE[(n + 1) % len(PEOPLE)],
        owner2=PEOPLE[(n + 2) % len(PEOPLE)],
        owner3=PEOPLE[(n + 3) % len(PEOPLE)],
    ).encode()


# With --corpus: the files of that directory, in name order; ``documents`` cycles through them.
CORPUS: list[tuple[str, bytes]] = []


def documents(count: int, label: str, start: int = 0) -> list[tuple[str, bytes]]:
    """``count`` (filename, content) pairs; the same ``n`` gives the same text whatever label.

    With a corpus (``--corpus``) the n-th is the corpus's n-th file (cycling), made unique.
    """
    run = uuid.uuid4().hex[:8]
    if CORPUS:
        return [
            unique_copy(*CORPUS[n % len(CORPUS)], f"{label}-{run}-{n:05d}")
            for n in range(start, start + count)
        ]
    return [
        (f"status-report-{n:04d}.txt", document_text(n, f"Reference: {label}-{run}-{n:05d}"))
        for n in range(start, start + count)
    ]


def load_corpus(directory: Path) -> list[tuple[str, bytes]]:
    """Every file of ``directory`` (the labelled corpus of #6: tests/fixtures/corpus/docs)."""
    return [
        (path.name, path.read_bytes()) for path in sorted(directory.iterdir()) if path.is_file()
    ]


def unique_copy(filename: str, content: bytes, unique: str) -> tuple[str, bytes]:
    """The same document with a different SHA-256 and the same work for the pipeline.

    Each format gets the mark where its readers ignore it: a PNG text chunk, a zip comment
    (DOCX), a comment after a PDF's ``%%EOF``, a mail header, a trailing line of text.
    """
    import zipfile
    import zlib

    mark = f"Reference: {unique}".encode()
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        data = b"Comment\x00" + mark
        chunk = len(data).to_bytes(4, "big") + b"tEXt" + data
        chunk += zlib.crc32(b"tEXt" + data).to_bytes(4, "big")
        end = content.rindex(b"IEND") - 4
        return filename, content[:end] + chunk + content[end:]
    if content.startswith(b"PK\x03\x04"):
        buffer = io.BytesIO(content)
        with zipfile.ZipFile(buffer, "a") as archive:
            archive.comment = mark
        return filename, buffer.getvalue()
    if content.startswith(b"%PDF-"):
        return filename, content + b"\n%" + mark + b"\n"
    if filename.endswith(".eml"):
        return filename, b"X-Bench-" + mark + b"\r\n" + content
    if filename.endswith(".csv"):  # one more row of as many fields as the header
        fields = content.split(b"\n", 1)[0].count(b",")
        return filename, content.rstrip(b"\r\n") + b"\r\n" + mark + b"," * fields + b"\r\n"
    if filename.endswith((".html", ".htm")):
        return filename, content + b"\n<!-- " + mark + b" -->\n"
    return filename, content + b"\n" + mark + b"\n"


# --- Set-up ------------------------------------------------------------------------------


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, and the core count."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} cores"


def prepare_database(admin_url: str) -> tuple[str, str]:
    """A fresh, migrated bench database; returns the admin-on-it and runtime-role URLs."""
    from flask_migrate import upgrade

    from webapp import create_app, embedded
    from webapp.extensions import db

    owner_url = embedded.ensure_database(admin_url, DATABASE, recreate=True)
    app_url = embedded.with_role(owner_url, APP_ROLE, APP_PASSWORD)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    migrator = create_app(
        {
            "SECRET_KEY": SECRET_KEY,
            "SQLALCHEMY_DATABASE_URI": app_url,
            "MIGRATION_DATABASE_URL": owner_url,
        }
    )
    with migrator.app_context():
        upgrade()
        for engine in db.engines.values():
            engine.dispose()
    return owner_url, app_url


def app_config(app_url: str, redis_url: str) -> dict[str, Any]:
    """Config for the in-process apps (the runtime role, so RLS applies as in the server)."""
    return {"SECRET_KEY": SECRET_KEY, "SQLALCHEMY_DATABASE_URI": app_url, "REDIS_URL": redis_url}


def make_app(config: dict[str, Any]) -> Any:
    """An app on ``config`` that logs warnings only."""
    from webapp import create_app

    app = create_app(config)
    logging.getLogger().setLevel(logging.WARNING)
    return app


@dataclass
class Stack:
    """The web server and the Celery worker this script started, each in its own group."""

    url: str
    processes: list[subprocess.Popen] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def stop(self) -> None:
        """SIGTERM each process group, wait, then SIGKILL whatever is left."""
        for process in self.processes:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(process, signal.SIGKILL)  # any child the leader left behind
            process.wait()


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def start_stack(
    app: Any, app_url: str, redis_url: str, workdir: Path, prefetch: int | None = None
) -> Stack:
    """gunicorn (2 workers) and one Celery worker (concurrency 2), as webapp/serve.py runs them.

    The worker consumes the same queues (``workers.fairness.worker_queues``: default and one
    per plan) and runs beat inside it, as serve.py does, with its schedule file in ``workdir``.
    ``prefetch`` overrides the app's ``worker_prefetch_multiplier`` (1) for an experiment.
    """
    from workers.fairness import worker_queues

    port = free_port()
    # --profile: the same app, with a cProfile of each worker process (bench/_celery_profile.py).
    profiling = bool(os.environ.get("PMDI_BENCH_PROFILE_DIR"))
    celery_module = "bench._celery_profile" if profiling else "celery_app"
    env = {
        **os.environ,
        "DATABASE_URL": app_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": SECRET_KEY,
        "PYTHONPATH": str(ROOT),
        # The worker-only run's documents wait ``queued`` without a message or a slot, on
        # purpose; the reconciler would take them for lost and send them to this worker. It
        # still runs every RECONCILE_INTERVAL, only waiting an hour before it does that.
        "RECONCILE_SETTLE_SECONDS": "3600",
    }
    for name in ("MIGRATION_DATABASE_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    commands = {
        "celery": [
            sys.executable,
            *("-m", "celery", "-A", celery_module, "worker"),
            *("--beat", "--schedule", str(workdir / "celerybeat-schedule"), "--concurrency=2"),
            *(
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "-Q",
                worker_queues("docs"),
            ),
            *([f"--prefetch-multiplier={prefetch}"] if prefetch else []),
        ],
        "gunicorn": [
            sys.executable,
            *("-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}"),
            *("--access-logfile", "-", "wsgi:app"),
        ],
    }
    stack = Stack(url=f"http://127.0.0.1:{port}")
    try:
        for name, command in commands.items():
            log_path = workdir / f"{name}.log"
            print(f"  starting {name}: {' '.join(command[1:])}  (log: {log_path})")
            with log_path.open("w") as log_file:
                stack.processes.append(
                    subprocess.Popen(
                        command,
                        cwd=ROOT,
                        env=env,
                        stdout=log_file,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,  # a group of its own, killed as a whole
                    )
                )
            stack.logs.append(log_path)
        _wait_until_ready(app, stack)
    except BaseException:
        stack.stop()
        raise
    return stack


def _wait_until_ready(app: Any, stack: Stack) -> None:
    """Wait until gunicorn answers and the Celery worker answers a ping."""
    deadline = time.monotonic() + 90

    def check_alive() -> None:
        for process, log_path in zip(stack.processes, stack.logs, strict=True):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text()[-3000:]
                raise RuntimeError(f"{log_path.stem} did not start:\n{tail}")

    while True:
        check_alive()
        try:
            connection = http.client.HTTPConnection(urllib.parse.urlsplit(stack.url).netloc)
            connection.request("GET", "/login")
            connection.getresponse().read()
            connection.close()
            break
        except OSError:
            time.sleep(0.2)
    celery = app.extensions["celery"]
    while not celery.control.ping(timeout=0.5):
        check_alive()


def raise_quotas(admin_db_url: str, org_ids: list[uuid.UUID], worker_slots: int) -> None:
    """Override the organizations' plan limits generously (as the admin role, past RLS)."""
    import json

    from sqlalchemy import create_engine, text

    from webapp.config import sqlalchemy_url

    engine = create_engine(sqlalchemy_url(admin_db_url))
    with engine.begin() as conn:
        for org_id in org_ids:
            conn.execute(
                text(
                    "UPDATE organizations SET quota_overrides = "
                    "coalesce(quota_overrides, '{}'::jsonb) || CAST(:o AS jsonb) WHERE id = :id"
                ),
                {"o": json.dumps({**QUOTA_OVERRIDES, "worker_slots": worker_slots}), "id": org_id},
            )
    engine.dispose()


def user_of(admin_db_url: str, email: str) -> tuple[uuid.UUID, uuid.UUID]:
    """(organization id, user id) of an e-mail (as the admin role, past RLS)."""
    from sqlalchemy import create_engine, text

    from webapp.config import sqlalchemy_url

    engine = create_engine(sqlalchemy_url(admin_db_url))
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT organization_id, id FROM users WHERE email = :e"), {"e": email}
        ).one()
    engine.dispose()
    return row[0], row[1]


def sign_up_through_pages(url: str, label: str) -> str:
    """Sign up through the form (CSRF token included); returns the owner's e-mail."""
    client = Client(url)
    tag = uuid.uuid4().hex[:8]
    email = f"bench-{label}-{tag}@example.com"
    page = client.post_form(
        "/signup",
        {
            "csrf_token": client.csrf("/signup"),
            "organization": f"Pipeline bench {label} {tag}",
            "name": "Bench Owner",
            "email": email,
            "password": f"pw-{tag}-long-enough",
            "confirm": f"pw-{tag}-long-enough",
        },
    )
    if "Log out" not in page:
        raise RuntimeError("sign-up failed:\n" + page[-2000:])
    return email


def sign_up_in_process(app: Any, label: str) -> tuple[uuid.UUID, uuid.UUID]:
    """An organization and its owner through the sign-up service; returns (org id, user id)."""
    from webapp.auth import services as auth_services
    from webapp.extensions import db

    tag = uuid.uuid4().hex[:8]
    with app.app_context():
        user = auth_services.register_organization(
            f"Pipeline bench {label} {tag}",
            "Bench Owner",
            f"bench-{label}-{tag}@example.com",
            f"pw-{tag}-long-enough",
        )
        ids = (user.organization_id, user.id)
        db.session.remove()
    return ids


def issue_token(app: Any, org_id: uuid.UUID, user_id: uuid.UUID) -> str:
    """An API token for the user, issued in-process as the runtime role."""
    from webapp.api import tokens
    from webapp.extensions import db
    from webapp.models import User
    from webapp.tenancy import tenant_context

    with app.app_context(), tenant_context(org_id):
        issued = tokens.create_token(db.session.get(User, (org_id, user_id)), "pipeline bench")
        db.session.remove()
    return issued.plaintext


# --- End to end through the API ----------------------------------------------------------


@dataclass
class Upload:
    """One API upload: when it started, how long it took, what came back."""

    filename: str
    started: float  # time.time()
    seconds: float
    status: int
    document_id: str | None
    error: str = ""


class Api:
    """A minimal JSON API client on http.client (one connection per request)."""

    def __init__(self, url: str, token: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.netloc, self.prefix = parts.netloc, parts.path.rstrip("/")
        self.https = parts.scheme == "https"
        self.headers = {"Authorization": f"Bearer {token}"}

    def _request(self, method: str, path: str, body: bytes | None = None, **headers: str):  # type: ignore[no-untyped-def]
        cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        connection = cls(self.netloc, timeout=300)
        try:
            connection.request(method, self.prefix + path, body, {**self.headers, **headers})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def upload(self, filename: str, content: bytes) -> Upload:
        """POST one document as multipart ``file``; timed from connect to last byte read."""
        import json

        boundary = "----pmdi" + uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{filename}"\r\nContent-Type: text/plain\r\n\r\n'
            ).encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        started, clock = time.time(), time.perf_counter()
        try:
            status, raw = self._request(
                "POST",
                f"{API}/documents",
                body,
                **{"Content-Type": f"multipart/form-data; boundary={boundary}"},
            )
        except OSError as exc:
            return Upload(filename, started, time.perf_counter() - clock, 0, None, repr(exc))
        seconds = time.perf_counter() - clock
        if status != 202:
            return Upload(filename, started, seconds, status, None, raw[:300].decode("replace"))
        return Upload(filename, started, seconds, status, json.loads(raw)["id"])

    def documents(self) -> list[dict[str, Any]]:
        """Every document of the organization (all pages of the list)."""
        import json

        found: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = "?limit=100" + (f"&cursor={cursor}" if cursor else "")
            status, raw = self._request("GET", f"{API}/documents{query}")
            if status != 200:
                raise RuntimeError(f"list answered {status}: {raw[:300]!r}")
            page = json.loads(raw)
            found += page["documents"]
            cursor = page["next_cursor"]
            if not cursor:
                return found


def upload_all(api: Api, docs: list[tuple[str, bytes]], clients: int) -> list[Upload]:
    """Upload every document from ``clients`` threads; results in the documents' order."""
    with ThreadPoolExecutor(max_workers=clients) as pool:
        return list(pool.map(lambda doc: api.upload(*doc), docs))


def _epoch(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso).timestamp() if iso else None


def wait_until_finished(
    api: Api, ids: set[str], timeout: float, interval: float = 0.25
) -> dict[str, dict[str, Any]]:
    """Poll the list until every id is ``done`` or ``failed``; returns their last JSON.

    Each returned entry also holds ``seen_at`` (time.time() of the poll that first saw it
    finished) and ``finished_at`` (``processed_at``, else ``updated_at``, as epoch seconds).
    """
    finished: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(finished) < len(ids):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(ids) - len(finished)} documents not finished in {timeout}s")
        polled_at = time.time()
        for doc in api.documents():
            new = doc["id"] in ids and doc["id"] not in finished
            if new and doc["status"] in ("done", "failed"):
                doc["seen_at"] = polled_at
                doc["finished_at"] = _epoch(doc["processed_at"]) or _epoch(doc["updated_at"])
                finished[doc["id"]] = doc
        if len(finished) < len(ids):
            time.sleep(interval)
    return finished


@dataclass
class EndToEnd:
    """What the API run measured."""

    uploads: list[Upload]
    finished: dict[str, dict[str, Any]]

    @property
    def accepted(self) -> list[Upload]:
        return [u for u in self.uploads if u.document_id]

    @property
    def first_start(self) -> float:
        return min(u.started for u in self.uploads)

    @property
    def last_upload_end(self) -> float:
        return max(u.started + u.seconds for u in self.uploads)

    @property
    def last_done(self) -> float:
        return max(d["finished_at"] for d in self.finished.values())

    @property
    def last_seen(self) -> float:
        return max(d["seen_at"] for d in self.finished.values())

    def count(self, status: str) -> int:
        return sum(1 for d in self.finished.values() if d["status"] == status)


def run_end_to_end(api: Api, docs: list[tuple[str, bytes]], clients: int) -> EndToEnd:
    """Upload through the API, then wait for every accepted document to finish."""
    uploads = upload_all(api, docs, clients)
    ids = {u.document_id for u in uploads if u.document_id}
    finished = wait_until_finished(api, ids, timeout=max(600.0, 10.0 * len(ids)))
    return EndToEnd(uploads, finished)


# --- Worker only: the task body without the queue ----------------------------------------


@contextmanager
def dispatch_disabled() -> Iterator[None]:
    """Uploads mark their outbox message sent instead of sending it (no worker, no relay)."""
    from sqlalchemy import update

    from webapp.documents import services
    from webapp.extensions import db
    from webapp.models import OutboxMessage, utcnow

    def mark_sent(message: OutboxMessage) -> bool:
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id)
            .values(dispatched_at=utcnow(), attempts=OutboxMessage.attempts + 1)
        )
        db.session.commit()
        return True

    original = services.dispatch
    services.dispatch = mark_sent
    try:
        yield
    finally:
        services.dispatch = original


def upload_in_process(
    app: Any, org_id: uuid.UUID, user_id: uuid.UUID, docs: list[tuple[str, bytes]]
) -> tuple[list[str], float]:
    """Store documents through the upload service without dispatching; (ids, seconds)."""
    from webapp.documents import services
    from webapp.extensions import db
    from webapp.tenancy import tenant_context

    ids = []
    started = time.perf_counter()
    with dispatch_disabled():
        for filename, content in docs:
            with app.app_context(), tenant_context(org_id):
                document = services.upload_document(io.BytesIO(content), filename, user_id)
                ids.append(str(document.id))
    seconds = time.perf_counter() - started
    with app.app_context():
        db.session.remove()
    return ids, seconds


def _direct_worker(
    config: dict[str, Any],
    org_id: str,
    warmup_ids: list[str],
    work: Any,
    barrier: Any,
    results: Any,
    finished: Any,
) -> None:
    """A spawned process: its own app; warm up, wait for the others, then drain the queue."""
    from webapp.extensions import db
    from webapp.tenancy import tenant_context
    from workers import pipeline

    app = make_app(config)

    def process(document_id: str) -> str:
        # As TenantTask runs the body: a fresh app context and tenant context per task.
        with app.app_context(), tenant_context(org_id):
            return pipeline.process(document_id)

    for document_id in warmup_ids:
        process(document_id)
    barrier.wait()
    started, cpu = time.monotonic(), _cpu_with_children()
    statuses = []
    while (document_id := work.get()) is not None:
        statuses.append(process(document_id))
    results.put((started, time.monotonic(), _cpu_with_children() - cpu, statuses))
    finished.wait(timeout=600)  # keep the connections until the parent has read their CPU
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()


def _cpu_with_children() -> float:
    """This process's CPU seconds, with the children it waited for (Tesseract)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def run_queue_only(
    app: Any, admin_db_url: str, org_id: uuid.UUID, ids: list[str]
) -> tuple[float, int, int, float]:
    """Publish stored documents through the real dispatch path (worker slots, Celery, the
    running worker) with no uploads competing; (seconds from first publish to last finished,
    finished (done or failed), done, this script's CPU seconds for the dispatch, not the
    polling).
    """
    from sqlalchemy import create_engine, text

    from webapp.config import sqlalchemy_url
    from webapp.documents import services
    from webapp.extensions import db
    from webapp.tenancy import current_organization, tenant_context

    engine = create_engine(sqlalchemy_url(admin_db_url))
    started, cpu = time.time(), time.process_time()
    with app.app_context(), tenant_context(org_id):
        # An upload dispatches with its organization loaded; hold it here too, or each
        # send_task would read it again (the session keeps only referenced objects).
        organization = current_organization()
        for document_id in ids:
            services.send_task(services.PROCESS_TASK, organization.id, document_id)
        db.session.remove()
    dispatching = time.process_time() - cpu
    deadline = time.monotonic() + max(600.0, 10.0 * len(ids))
    while True:
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE status IN ('done', 'failed')), "
                    "count(*) FILTER (WHERE status = 'done'), "
                    "extract(epoch FROM max(coalesce(processed_at, updated_at))) "
                    "FROM documents WHERE id = ANY(CAST(:ids AS uuid[]))"
                ),
                {"ids": ids},
            ).one()
        if row[0] == len(ids) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    engine.dispose()
    return float(row[2]) - started, int(row[0]), int(row[1]), dispatching


NOOP_TASK = "celery.accumulate"  # Celery's built-in task that returns its arguments


def run_noop_tasks(app: Any, stack: Stack, redis_url: str, count: int) -> tuple[float, CpuMeter]:
    """Celery's own cost per message: ``count`` no-op tasks through the running worker.

    Published (JSON, late ack, no result, like a document) to the free plan's document
    queue, so the same consumer takes them; done when the queue and kombu's ``unacked`` hash
    (messages delivered but not yet acknowledged) hold none of them. Returns (seconds, CPU).
    This script's CPU counts for the publishing only, not for its polling.
    """
    import redis

    from workers.fairness import queue_for

    client = redis.Redis.from_url(redis_url)
    celery = app.extensions["celery"]
    with app.app_context():
        queue = queue_for("free")
    marker = NOOP_TASK.encode()
    meter = CpuMeter(stack)
    meter.start()
    started, cpu = time.monotonic(), time.process_time()
    for n in range(count):
        celery.send_task(NOOP_TASK, args=[n], queue=queue, ignore_result=True, retry=False)
    publishing = time.process_time() - cpu
    deadline = started + max(120.0, count / 10)
    # Other messages may wait in ``unacked`` (a retry's countdown): only the no-ops count.
    while client.llen(queue) or any(marker in value for value in client.hvals("unacked")):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not finish {count} no-op tasks")
        time.sleep(0.01)
    seconds = time.monotonic() - started
    meter.stop()
    meter.seconds[OWN_GROUP] = publishing
    client.close()
    return seconds, meter


@dataclass
class WorkerOnly:
    """What the in-process run measured."""

    seconds: float
    statuses: list[str]
    per_process: list[int]
    process_cpu: float  # CPU seconds of the processing processes, as they measured it
    meter: CpuMeter  # the database and Redis meanwhile


def run_worker_only(
    config: dict[str, Any],
    org_id: uuid.UUID,
    ids: list[str],
    warmup_ids: list[str],
    processes: int,
    stack: Stack | None = None,
) -> WorkerOnly:
    """Process ``ids`` with ``processes`` spawned processes; timed from the common start."""
    context = multiprocessing.get_context("spawn")
    work, results = context.Queue(), context.Queue()
    for document_id in ids:
        work.put(document_id)
    for _ in range(processes):
        work.put(None)
    barrier, finished = context.Barrier(processes + 1), context.Event()
    children = [
        context.Process(
            target=_direct_worker,
            args=(config, str(org_id), warmup_ids[i::processes], work, barrier, results, finished),
            daemon=True,
        )
        for i in range(processes)
    ]
    try:
        for child in children:
            child.start()
        # The running Celery worker counts too: the pipeline asks it to mail each document's
        # notifications (workers.tasks.deliver_notifications), here as when it runs there.
        meter = CpuMeter(stack)
        barrier.wait(timeout=300)
        meter.start()
        started = time.monotonic()
        outcomes = [results.get(timeout=max(600.0, 10.0 * len(ids))) for _ in children]
        meter.stop()
        finished.set()
        for child in children:
            child.join(timeout=60)
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
                child.join(timeout=10)
    return WorkerOnly(
        seconds=max(end for _, end, _, _ in outcomes) - started,
        statuses=[s for *_, statuses in outcomes for s in statuses],
        per_process=[len(statuses) for *_, statuses in outcomes],
        process_cpu=sum(cpu for _, _, cpu, _ in outcomes),
        meter=meter,
    )


# --- CPU accounting ----------------------------------------------------------------------


OWN_GROUP = "this script (clients)"
# --private-redis: the pid of the Redis server this script started (only its CPU counts).
REDIS_PID: int | None = None
# Not part of the queue: the web server idles while documents are dispatched in-process.
NOT_QUEUE = ("gunicorn",)


def queue_cpu_ms(meter: CpuMeter, count: int) -> float:
    """CPU milliseconds per document or message of every group but the idle web server."""
    return 1000 * sum(v for k, v in meter.seconds.items() if k not in NOT_QUEUE) / count


def start_private_redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    """A Redis server of this script's own (no persistence), so only the bench's work counts
    in its CPU; returns the process and its URL (db 0)."""
    import redis

    port = free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            *("--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
            *("--dir", str(workdir)),
        ],
        stdout=(workdir / "redis.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url).ping()
            return process, url
        except redis.RedisError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise
            time.sleep(0.05)


class CpuMeter:
    """CPU seconds (user + system) spent by groups of processes between ``start`` and ``stop``.

    Groups: the web server and the Celery worker this script started (whole trees), the
    PostgreSQL backends connected to the bench database (their titles name it), Redis (the
    whole server: other users' work on it counts too) and this process (client threads and
    polling, not the meter's own sampling). Processes that start in between count whole; ones
    that end in between are missed.
    """

    def __init__(self, stack: Stack | None) -> None:
        self.stack = stack
        self.before: dict[str, dict[int, float]] = {}
        self.seconds: dict[str, float] = {}
        self.own_before = 0.0

    def _groups(self) -> dict[str, list[Any]]:
        import psutil

        groups: dict[str, list[Any]] = {"postgres (bench database)": [], "redis-server": []}
        for proc in psutil.process_iter(["name", "cmdline"]):
            cmdline = " ".join(proc.info["cmdline"] or [])
            if cmdline.startswith("postgres: ") and f" {DATABASE} " in cmdline:
                groups["postgres (bench database)"].append(proc)
            elif (proc.info["name"] or "").startswith("redis-server"):
                if REDIS_PID is None or proc.pid == REDIS_PID:
                    groups["redis-server"].append(proc)
        if self.stack is not None:
            for log_path, process in zip(self.stack.logs, self.stack.processes, strict=True):
                try:
                    leader = psutil.Process(process.pid)
                    groups[log_path.stem] = [leader, *leader.children(recursive=True)]
                except psutil.NoSuchProcess:
                    groups[log_path.stem] = []
        return groups

    def _sample(self) -> dict[str, dict[int, float]]:
        import psutil

        sample: dict[str, dict[int, float]] = {}
        for name, procs in self._groups().items():
            sample[name] = {}
            for proc in procs:
                try:
                    times = proc.cpu_times()
                    # Children it waited for count too: Tesseract runs as a subprocess.
                    sample[name][proc.pid] = (
                        times.user + times.system + times.children_user + times.children_system
                    )
                except psutil.Error:
                    continue
        return sample

    def start(self) -> None:
        """Remember every group's CPU time now."""
        self.before = self._sample()
        self.own_before = time.process_time()  # after sampling: its cost is not counted

    def stop(self) -> None:
        """CPU seconds each group spent since ``start``."""
        own = time.process_time() - self.own_before  # before sampling, likewise
        after = self._sample()
        self.seconds = {
            name: sum(cpu - self.before.get(name, {}).get(pid, 0.0) for pid, cpu in pids.items())
            for name, pids in after.items()
        }
        self.seconds[OWN_GROUP] = own

    def report(self, documents: int, wall: float) -> None:
        """Print CPU seconds, ms per document and the share of the machine, per group."""
        cores = os.cpu_count() or 1
        total = sum(self.seconds.values())
        print(f"  CPU by process group (wall {wall:.2f} s x {cores} cores = {wall * cores:.2f} s)")
        for name, seconds in sorted(self.seconds.items(), key=lambda item: -item[1]):
            print(
                f"    {name:<28} {seconds:7.2f} s  {1000 * seconds / documents:6.1f} ms/doc  "
                f"{100 * seconds / (wall * cores):5.1f} % of the machine"
            )
        print(
            f"    {'all of the above':<28} {total:7.2f} s  {1000 * total / documents:6.1f} ms/doc  "
            f"{100 * total / (wall * cores):5.1f} % of the machine"
        )


# --- Main --------------------------------------------------------------------------------


def percentile(values: list[float], p: int) -> float:
    """The p-th percentile (inclusive method; the value itself for a single sample)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


@dataclass
class Cycle:
    """One cycle's figures: documents/s (wall) and CPU ms per document (all processes)."""

    load: float  # the 1-minute load average when the cycle began
    worker: float = float("nan")
    worker_ms: float = float("nan")
    queued: float = float("nan")
    queued_ms: float = float("nan")
    message_ms: float = float("nan")
    e2e: float = float("nan")
    e2e_ms: float = float("nan")

    @property
    def queued_wall(self) -> float:
        """Stored first through the queue / worker only, documents per second."""
        return self.queued / self.worker

    @property
    def queued_cpu(self) -> float:
        """The same as a CPU-bound machine would give it: worker CPU / queued CPU per doc."""
        return self.worker_ms / self.queued_ms

    @property
    def floor(self) -> float:
        """The best queued / worker only with one Celery message per document."""
        return self.worker_ms / (self.worker_ms + self.message_ms)

    @property
    def of_floor(self) -> float:
        """queued / worker only (CPU) as a share of Celery's floor."""
        return self.queued_cpu / self.floor

    def print_summary(self, index: int) -> None:
        print(
            f"\n  cycle {index} summary (load {self.load:.2f}): worker only {self.worker:.2f} "
            f"docs/s {self.worker_ms:.1f} ms CPU/doc; queued {self.queued:.2f} docs/s "
            f"{self.queued_ms:.1f} ms CPU/doc; queued/worker wall {self.queued_wall:.3f} CPU "
            f"{self.queued_cpu:.3f}; Celery floor {self.floor:.3f} ({self.message_ms:.2f} ms "
            f"CPU/message), queued/worker CPU / floor {self.of_floor:.3f}; end to end "
            f"{self.e2e:.2f} docs/s, e2e/worker wall {self.e2e / self.worker:.3f}"
        )


def report_cycles(rows: list[Cycle]) -> None:
    """Each cycle's throughputs and ratios, and their medians (ratios taken within a cycle)."""
    print("\nCycles (documents/s wall; CPU ms per document, all processes; ratios per cycle)")
    header = (
        f"  {'cycle':>5} {'load':>5} {'worker/s':>8} {'ms/doc':>7} {'queued/s':>8} {'ms/doc':>7} "
        f"{'q/w wall':>8} {'q/w CPU':>8} {'msg ms':>7} {'floor':>6} {'CPU/floor':>9} "
        f"{'e2e/s':>6} {'e2e/w':>6}"
    )
    print(header)
    for index, r in enumerate(rows, 1):
        print(
            f"  {index:>5} {r.load:5.2f} {r.worker:8.2f} {r.worker_ms:7.1f} {r.queued:8.2f} "
            f"{r.queued_ms:7.1f} {r.queued_wall:8.3f} {r.queued_cpu:8.3f} {r.message_ms:7.2f} "
            f"{r.floor:6.3f} {r.of_floor:9.3f} {r.e2e:6.2f} {r.e2e / r.worker:6.3f}"
        )

    def median(values: list[float]) -> float:
        values = [v for v in values if v == v]  # not NaN
        return statistics.median(values) if values else float("nan")

    def mean(values: list[float]) -> float:
        values = [v for v in values if v == v]
        return statistics.fmean(values) if values else float("nan")

    # Pooled: the cycles' CPU per document averaged first (every cycle has as many
    # documents), then the ratios; steadier than any one cycle on a machine that drifts.
    worker_ms, queued_ms = mean([r.worker_ms for r in rows]), mean([r.queued_ms for r in rows])
    message_ms = mean([r.message_ms for r in rows])
    floor = worker_ms / (worker_ms + message_ms)
    print(
        f"  pooled  worker only {worker_ms:.1f} ms CPU/doc, queued {queued_ms:.1f}, message "
        f"{message_ms:.2f}: queued/worker CPU {worker_ms / queued_ms:.3f}, Celery floor "
        f"{floor:.3f}, queued/worker CPU / floor {worker_ms / queued_ms / floor:.3f}; "
        f"wall docs/s worker only {mean([r.worker for r in rows]):.2f}, queued "
        f"{mean([r.queued for r in rows]):.2f}, end to end {mean([r.e2e for r in rows]):.2f}"
    )
    print(
        f"  median  queued/worker wall {median([r.queued_wall for r in rows]):.3f}  CPU "
        f"{median([r.queued_cpu for r in rows]):.3f}  Celery floor "
        f"{median([r.floor for r in rows]):.3f}  queued/worker CPU / floor "
        f"{median([r.of_floor for r in rows]):.3f}  end to end / worker wall "
        f"{median([r.e2e / r.worker for r in rows]):.3f}"
    )


def report_end_to_end(e2e: EndToEnd, clients: int) -> float:
    """Print the API figures; returns end-to-end documents/second."""
    latencies = [u.seconds * 1000 for u in e2e.uploads if u.document_id]
    refused = [u for u in e2e.uploads if not u.document_id]
    total = e2e.last_done - e2e.first_start
    upload_span = e2e.last_upload_end - e2e.first_start
    rate = len(e2e.finished) / total
    print(f"\nEnd to end (API upload -> Celery worker -> done), {clients} client threads")
    print(f"  uploads accepted             {len(latencies):6d} of {len(e2e.uploads)}")
    for upload in refused[:5]:
        print(f"    refused: {upload.filename} HTTP {upload.status} {upload.error}")
    print(f"  finished done / failed       {e2e.count('done'):6d} / {e2e.count('failed')}")
    for doc in [d for d in e2e.finished.values() if d["status"] == "failed"][:5]:
        print(f"    failed: {doc['filename']}: {doc['error']}")
    print(
        f"  upload latency ms            p50 {percentile(latencies, 50):7.1f}   "
        f"p95 {percentile(latencies, 95):7.1f}   max {max(latencies):7.1f}   "
        f"mean {statistics.fmean(latencies):7.1f}"
    )
    print(
        f"  all uploads answered after   {upload_span:7.2f} s  "
        f"({len(e2e.uploads) / upload_span:6.1f} uploads/s)"
    )
    print(
        f"  last document done after     {total:7.2f} s  (processed_at; the poll saw it "
        f"{e2e.last_seen - e2e.first_start:.2f} s in)"
    )
    print(f"  END TO END                   {rate:7.2f} documents/s  (first upload -> last done)")
    return rate


def main(argv: list[str] | None = None) -> int:
    """Set up, measure end to end, measure the task body alone, print, clean up."""
    global DATABASE, APP_ROLE, REDIS_PID
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--docs", type=int, help="documents per run (200; with --corpus, its number of files)"
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        help="upload the files of this directory (cycling, each made unique) instead of "
        "one-page reports: tests/fixtures/corpus/docs is the realistic mix of #6",
    )
    parser.add_argument(
        "--db-name", default=DATABASE, help="the bench database (runtime role <name>_app)"
    )
    parser.add_argument(
        "--private-redis",
        action="store_true",
        help="start a Redis server of this script's own (instead of --redis-url), so the "
        "Redis CPU counted is the bench's alone",
    )
    parser.add_argument(
        "--no-e2e", action="store_true", help="skip the API runs (worker only, queued, no-op)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="write a cProfile of each Celery pool child to this directory (slows the worker)",
    )
    parser.add_argument("--clients", type=int, default=4, help="concurrent upload threads")
    parser.add_argument(
        "--direct-docs", type=int, default=None, help="documents for the worker-only run (--docs)"
    )
    parser.add_argument(
        "--processes", type=int, default=2, help="worker-only processes (the worker concurrency)"
    )
    parser.add_argument("--warmup", type=int, default=2, help="warm-up documents per run")
    parser.add_argument(
        "--worker-slots",
        type=int,
        default=2,
        help="the organization's worker_slots override (2: it may use the whole worker)",
    )
    parser.add_argument(
        "--prefetch-multiplier",
        type=int,
        help="run the worker with this prefetch multiplier instead of the app's (1)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL") or DEFAULT_ADMIN_URL,
        help="an admin URL that may create databases and roles",
    )
    parser.add_argument(
        "--redis-url", default=DEFAULT_REDIS_URL, help="a Redis database this script may flush"
    )
    parser.add_argument(
        "--cycles",
        type=int,
        default=1,
        help="repeat the three runs this many times and print the medians (the machine drifts)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--url", help="use this running server (and its worker) instead")
    parser.add_argument("--token", help="with --url: an API token of the organization to use")
    parser.add_argument(
        "--app-database-url",
        help="with --url: the runtime-role URL of its database, for the worker-only run "
        "(which signs up one more organization there); skipped without it",
    )
    args = parser.parse_args(argv)
    if bool(args.url) != bool(args.token):
        parser.error("--url and --token go together")
    DATABASE, APP_ROLE = args.db_name, f"{args.db_name}_app"
    if args.corpus:
        CORPUS[:] = load_corpus(args.corpus)
    if args.docs is None:
        args.docs = len(CORPUS) or 200
    direct_docs = args.docs if args.direct_docs is None else args.direct_docs

    import redis

    own_stack = not args.url
    print("bench/pipeline.py — documents/second through API + queue + worker vs the task alone")
    print(f"  command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    print(
        f"  parameters: docs={args.docs} clients={args.clients} direct-docs={direct_docs} "
        f"processes={args.processes} warmup={args.warmup} worker-slots={args.worker_slots} "
        f"prefetch-multiplier={args.prefetch_multiplier or 'the app default (1)'} "
        + (
            f"database={DATABASE} redis={args.redis_url} (gunicorn --workers 2, "
            "celery --concurrency=2 prefork --beat)"
            if own_stack
            else f"server={args.url} (its own worker)"
        )
    )
    if CORPUS:
        kinds = sorted({name.split(".", 1)[-1] for name, _ in CORPUS})
        print(
            f"  corpus: {len(CORPUS)} files of {args.corpus} ({', '.join(kinds)}), "
            f"{sum(len(c) for _, c in CORPUS) / 1e6:.1f} MB, each upload made unique"
        )
    print(f"  load average at start: {load_average()}")

    signal.signal(signal.SIGTERM, _interrupt)  # ends the run like Ctrl-C, through finally
    workdir = Path(tempfile.mkdtemp(prefix="pmdi-bench-pipeline-"))
    private_redis: subprocess.Popen | None = None
    if args.private_redis:
        private_redis, args.redis_url = start_private_redis(workdir)
        REDIS_PID = private_redis.pid
        print(f"  private Redis server: {args.redis_url} (pid {REDIS_PID})")
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        os.environ["PMDI_BENCH_PROFILE_DIR"] = str(args.profile.resolve())
    stack: Stack | None = None
    app: Any = None
    admin_db_url = None
    completed = False
    try:
        if own_stack:
            redis.Redis.from_url(args.redis_url).flushdb()
            admin_db_url, app_url = prepare_database(args.database_url)
            config = app_config(app_url, args.redis_url)
            app = make_app(config)
            stack = start_stack(app, app_url, args.redis_url, workdir, args.prefetch_multiplier)
            email = sign_up_through_pages(stack.url, "api")
            org_a, user_a = user_of(admin_db_url, email)
            token = issue_token(app, org_a, user_a)
            url = stack.url
        else:
            url, token = args.url, args.token
            config = (
                app_config(args.app_database_url, args.redis_url) if args.app_database_url else None
            )
            app = make_app(config) if config else None
        api = Api(url, token)

        org_b = None
        if app is not None and direct_docs:
            org_b, user_b = sign_up_in_process(app, "direct")
            # The queued run's own organization: the worker-only run's documents took worker
            # slots of B (the lease renewer holds one while it works) that nothing frees but
            # their expiry, so B's next documents would be parked until then.
            org_c, user_c = sign_up_in_process(app, "queued")
        if admin_db_url:
            orgs = [org_a] + ([org_b, org_c] if org_b else [])
            raise_quotas(admin_db_url, orgs, args.worker_slots)
            print(
                "  quota overrides raised for every organization (as the admin role): "
                f"worker_slots={args.worker_slots}, no quota or rate limit within reach"
            )

        if args.warmup:
            warm = run_end_to_end(api, documents(args.warmup, "warm-up", start=10_000), 2)
            print(
                f"  warm-up: {len(warm.finished)} documents through the API and the worker "
                f"({', '.join(sorted({d['status'] for d in warm.finished.values()}))})"
            )
        rows: list[Cycle] = []
        for cycle in range(1, args.cycles + 1):
            print(f"\n=== Cycle {cycle} of {args.cycles}  (load average {load_average()})")
            row = Cycle(load=os.getloadavg()[0])
            if org_b is None:
                print("\nWorker only: skipped (give --app-database-url to measure it)")
            else:
                warm_ids, _ = upload_in_process(
                    app, org_b, user_b, documents(args.warmup * args.processes, "warm-up", 20_000)
                )
                ids, upload_seconds = upload_in_process(
                    app, org_b, user_b, documents(direct_docs, "direct")
                )
                direct = run_worker_only(config, org_b, ids, warm_ids, args.processes, stack)
                row.worker = len(ids) / direct.seconds
                print(
                    f"\nWorker only (workers.pipeline.process called directly, {args.processes} "
                    f"spawned processes, same texts but the unique line)"
                )
                print(
                    f"  stored in-process first      {len(ids):6d} documents in "
                    f"{upload_seconds:.2f} s ({1000 * upload_seconds / len(ids):.1f} ms each: "
                    "the upload service alone)"
                )
                print(
                    f"  done / failed                {direct.statuses.count('done'):6d} / "
                    f"{direct.statuses.count('failed')}  (per process: "
                    f"{', '.join(map(str, direct.per_process))})"
                )
                print(f"  processing took              {direct.seconds:7.2f} s")
                print(f"  WORKER ONLY                  {row.worker:7.2f} documents/s")
                direct.meter.seconds["pipeline processes"] = direct.process_cpu
                direct.meter.seconds.pop(OWN_GROUP, None)
                direct.meter.report(len(ids), direct.seconds)
                row.worker_ms = queue_cpu_ms(direct.meter, len(ids))
            if stack is not None and org_b is not None:
                # The same documents through dispatch + Celery + the running worker, stored
                # first, so uploads do not compete for the cores: the queue's own cost.
                queued_ids, _ = upload_in_process(
                    app, org_c, user_c, documents(direct_docs, "queued")
                )
                queue_meter = CpuMeter(stack)
                queue_meter.start()
                seconds, finished, done, dispatching = run_queue_only(
                    app, admin_db_url, org_c, queued_ids
                )
                queue_meter.stop()
                queue_meter.seconds[OWN_GROUP] = dispatching
                row.queued = finished / seconds
                row.queued_ms = queue_cpu_ms(queue_meter, finished)
                print(
                    f"\nThrough the queue, stored first: {finished} finished ({done} done) in "
                    f"{seconds:.2f} s = {row.queued:.2f} documents/s (celery --concurrency=2, "
                    f"worker_slots={args.worker_slots})"
                )
                queue_meter.report(finished, seconds)
                print(
                    f"  queued / worker only: wall {row.queued / row.worker:.3f}, CPU "
                    f"{row.worker_ms / row.queued_ms:.3f} ({row.worker_ms:.1f} against "
                    f"{row.queued_ms:.1f} ms per document, the idle web server left out)"
                )
                noop_seconds, noop_meter = run_noop_tasks(app, stack, args.redis_url, direct_docs)
                # CPU-bound on both runs, throughput goes as 1 / (CPU per document, all
                # processes): the worker-only run's, plus at least one message's.
                row.message_ms = queue_cpu_ms(noop_meter, direct_docs)
                print(
                    f"\nCelery's own cost per message: {direct_docs} no-op tasks "
                    f"({NOOP_TASK}, JSON, late ack, no result) published from this script "
                    f"to the same worker: {noop_seconds:.2f} s = "
                    f"{direct_docs / noop_seconds:.0f} tasks/s"
                )
                noop_meter.report(direct_docs, noop_seconds)
                print(
                    f"  CPU per message {row.message_ms:6.2f} ms (publish, deliver, run, "
                    f"acknowledge; the idle web server left out), against {row.worker_ms:.2f} ms "
                    "per document in the worker-only run\n"
                    "  Celery's floor: best queued / worker only with one such message per "
                    f"document (worker / (worker + message), CPU-bound)  {row.floor:.3f}\n"
                    f"  queued / worker only (CPU) against the floor  {row.of_floor:.3f}"
                )
            if not args.no_e2e:
                meter = CpuMeter(stack)
                meter.start()
                e2e = run_end_to_end(api, documents(args.docs, "api"), args.clients)
                meter.stop()
                row.e2e = report_end_to_end(e2e, args.clients)
                if own_stack:
                    meter.report(len(e2e.finished), e2e.last_seen - e2e.first_start)
                    row.e2e_ms = 1000 * sum(meter.seconds.values()) / len(e2e.finished)
            rows.append(row)
            row.print_summary(cycle)
        report_cycles(rows)
        completed = True
    finally:
        print(f"\n  load average at end: {load_average()}")
        if stack is not None:
            stack.stop()
        if app is not None:
            from webapp.extensions import db

            with app.app_context():
                for engine in db.engines.values():
                    engine.dispose()
        if own_stack:
            redis.Redis.from_url(args.redis_url).flushdb()
            if args.keep:
                print(f"  kept database {DATABASE}")
            else:
                from webapp import embedded

                embedded.drop_database(args.database_url, DATABASE)
        if private_redis is not None:
            _signal_group(private_redis, signal.SIGTERM)
            private_redis.wait(timeout=30)
        if completed and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"  server and worker logs kept in {workdir}")
    return 0


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM handler: raise KeyboardInterrupt so the clean-up runs."""
    raise KeyboardInterrupt()


if __name__ == "__main__":
    sys.exit(main())
