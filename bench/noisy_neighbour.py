"""Noisy neighbour: does one organization's flood slow down another's requests?

    python bench/noisy_neighbour.py [--seconds 40] [--limit 600] [--b-rate 5]
                                    [--database-url URL] [--redis-url URL]

1. creates and migrates its own database (``pmdi_bench_noisy``) with ``bench/memory.py``'s
   helpers and starts gunicorn (2 sync workers, as deployed) on it with rate limits on, a
   ``Server-Timing`` header (``RATELIMIT_SERVER_TIMING``) and a Redis database of its own
   (flushed before and after; no Celery worker runs);
2. creates organizations A (free plan, its API and page budgets overridden to ``--limit``) and
   B (pro plan), each with an API token and a few queued documents;
3. quiet phase: B lists its documents (``GET /api/v1/documents``) ``--b-rate`` times a second
   for ``--seconds``; flood phase: the same while A sends ten times its limit at the same
   endpoint from 10 threads (in a process of its own); same-organization phase (half as
   long): A's API script floods again while A's own member opens ``/documents`` ``--b-rate``
   times a second (pages and the API have budgets of their own: no page may be refused);
4. prints B's latency (p50/p99, client-side and server-side) in both phases, B's 429 count,
   A's admitted requests against its limit, and what a refused request costs: its server time
   (``Server-Timing``) and, in-process, the limiter check alone on the same Redis.

Figures only; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import memory  # noqa: E402 - after the path is set

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
DATABASE = "pmdi_bench_noisy"


# --- Set-up ------------------------------------------------------------------------------


def prepare_database(admin_url: str, name: str) -> tuple[str, str]:
    """A fresh, migrated database ``name`` (bench/memory.py's helper); owner and app URLs."""
    memory.DATABASE = name  # its helpers read the module's database name
    return memory.prepare_database(admin_url)


def drop_database(admin_url: str, name: str) -> None:
    memory.DATABASE = name
    memory.drop_database(admin_url)


@dataclass
class Server:
    """A gunicorn process tree serving ``wsgi:app``."""

    process: subprocess.Popen
    url: str
    log_path: Path

    @property
    def address(self) -> tuple[str, int]:
        parsed = urllib.parse.urlsplit(self.url)
        return parsed.hostname or "127.0.0.1", parsed.port or 80

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_gunicorn(
    app_url: str, redis_url: str, workdir: Path, name: str, **settings: str
) -> Server:
    """gunicorn with 2 sync workers; ``settings`` are extra environment variables."""
    port = memory.free_port()
    env = {
        **os.environ,
        "DATABASE_URL": app_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "bench-secret",
        "PYTHONPATH": str(ROOT),
        "RATELIMIT_SERVER_TIMING": "1",
        **settings,
    }
    for variable in ("MIGRATION_DATABASE_URL", "CELERY_BROKER_URL"):
        env.pop(variable, None)
    log_path = workdir / f"{name}.log"
    command = [sys.executable, "-m", "gunicorn", "--workers", "2", "--timeout", "120"]
    command += ["--bind", f"127.0.0.1:{port}", "wsgi:app"]
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + 60
    while True:
        try:
            if request(server, "GET", "/static/app.css").status == 200:
                return server
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"gunicorn did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)


@dataclass(frozen=True)
class Tenant:
    """An organization made for the bench, and a token acting as its owner."""

    org_id: uuid.UUID
    token: str
    email: str = ""
    password: str = ""


def make_tenants(app_url: str, redis_url: str, count: int) -> list[Tenant]:
    """Sign ``count`` organizations up through the service and give each an API token."""
    from webapp import create_app
    from webapp.api import tokens
    from webapp.auth import services as auth_services
    from webapp.extensions import db
    from webapp.tenancy import tenant_context

    app = create_app(
        {"SECRET_KEY": "bench-secret", "SQLALCHEMY_DATABASE_URI": app_url, "REDIS_URL": redis_url}
    )
    made = []
    with app.app_context():
        for _ in range(count):
            tag = uuid.uuid4().hex[:8]
            email, password = f"bench-{tag}@example.com", f"pw-{tag}-long-enough"
            user = auth_services.register_organization(
                f"Bench {tag}", "Bench Owner", email, password
            )
            org_id, user_id = user.organization_id, user.id
            db.session.remove()
            with tenant_context(org_id):
                from webapp.models import User

                owner = db.session.get(User, (org_id, user_id))
                plaintext = tokens.create_token(owner, "bench").plaintext
                made.append(Tenant(org_id, plaintext, email, password))
                db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    return made


def set_limits(owner_url: str, tenant: Tenant, plan: str, **overrides: int) -> None:
    """Put the organization on ``plan`` with ``overrides`` (as the owner role, like an admin)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(owner_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE organizations SET plan_id = :plan, quota_overrides = CAST(:o AS jsonb) "
                "WHERE id = :id"
            ),
            {"plan": plan, "o": json.dumps(overrides), "id": tenant.org_id},
        )
    engine.dispose()


def seed_documents(server: Server, tenant: Tenant, count: int) -> None:
    """Upload ``count`` small text documents through the API (they stay queued)."""
    for n in range(count):
        boundary = "----pmdi" + uuid.uuid4().hex
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="minutes-{n}.txt"\r\nContent-Type: text/plain\r\n\r\n'
            f"{memory.PARAGRAPH.format(n=n) * 20}{uuid.uuid4()}\r\n--{boundary}--\r\n"
        ).encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        reply = request(server, "POST", "/api/v1/documents", tenant.token, body, headers)
        if reply.status != 202:
            raise RuntimeError(f"seeding failed: HTTP {reply.status}")


def forget_window(redis_url: str, tenant: Tenant) -> None:
    """Empty the organization's request windows (the set-up's requests are not the bench's)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    for suffix in ("api", "api:burst", "pages", "pages:burst"):
        client.delete(f"LIMITS:pmdi:{{{tenant.org_id}}}:{suffix}")
    for key in client.scan_iter(f"LIMITS:pmdi:{{{tenant.org_id}}}:api:*"):
        client.delete(key)  # its tokens' windows


# --- Requests ----------------------------------------------------------------------------


def log_in(server: Server, tenant: Tenant) -> str:
    """Sign in through the log-in form; the session cookie (``name=value``) to send."""
    import re

    connection = http.client.HTTPConnection(*server.address, timeout=30)
    connection.request("GET", "/login")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie", "").split(";", 1)[0]
    connection.close()
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    if csrf is None:
        raise RuntimeError("no CSRF token on /login")
    body = urllib.parse.urlencode(
        {"csrf_token": csrf.group(1), "email": tenant.email, "password": tenant.password}
    )
    connection = http.client.HTTPConnection(*server.address, timeout=30)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
    connection.request("POST", "/login", body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    if response.status != 302:
        raise RuntimeError(f"log-in failed: HTTP {response.status}")
    return response.getheader("Set-Cookie", "").split(";", 1)[0]


@dataclass(frozen=True)
class Reply:
    """What one request took: status, wall time, server time, the limiter's part (all in ms)."""

    status: int
    wall_ms: float
    server_ms: float
    limiter_ms: float
    limit: str = ""  # X-RateLimit-Limit: which window answered


def request(
    server: Server,
    method: str,
    path: str,
    token: str | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One request on a new connection (sync gunicorn workers close it after each response)."""
    all_headers = dict(headers or {})
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    host, port = server.address
    started = time.perf_counter()
    connection = http.client.HTTPConnection(host, port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    wall = (time.perf_counter() - started) * 1000
    timings = dict(
        part.strip().split(";dur=")
        for part in response.getheader("Server-Timing", "").split(",")
        if ";dur=" in part
    )
    return Reply(
        response.status,
        wall,
        float(timings.get("app", "nan")),
        float(timings.get("ratelimit", "nan")),
        response.getheader("X-RateLimit-Limit", ""),
    )


@dataclass
class Recorder:
    """Replies of one client, collected from its threads."""

    replies: list[Reply] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, reply: Reply) -> None:
        with self.lock:
            self.replies.append(reply)

    def with_status(self, status: int) -> list[Reply]:
        return [r for r in self.replies if r.status == status]


def paced(rate: float, seconds: float, action: Callable[[], None], threads: int = 1) -> None:
    """Call ``action`` ``rate`` times a second for ``seconds``, spread over ``threads``.

    Each thread keeps its own schedule (open loop: a slow reply does not delay the next
    request beyond the time it took).
    """
    interval = threads / rate
    end = time.perf_counter() + seconds

    def run(offset: float) -> None:
        due = time.perf_counter() + offset
        while due < end:
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            action()
            due += interval

    workers = [threading.Thread(target=run, args=(i * interval / threads,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


class Flooder:
    """A's flood, from a process of its own.

    In B's process its ten threads would hold B's client up on the GIL, and B's client-side
    latency would measure the bench rather than the server.
    """

    def __init__(self, server: Server, token: str, rate: float, seconds: float, threads: int):
        context = multiprocessing.get_context("fork")
        self.receiver, sender = context.Pipe(duplex=False)
        self.process = context.Process(
            target=self._run, args=(sender, server, token, rate, seconds, threads)
        )
        self.process.start()
        sender.close()

    @staticmethod
    def _run(sender: Any, server: Server, token: str, rate: float, seconds: float, threads: int):
        recorder = Recorder()
        paced(
            rate,
            seconds,
            lambda: recorder.add(request(server, "GET", "/api/v1/documents", token)),
            threads,
        )
        sender.send(recorder.replies)
        sender.close()

    def join(self) -> Recorder:
        recorder = Recorder(replies=self.receiver.recv())
        self.process.join()
        return recorder


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def check_cost_us(redis_url: str, repeat: int = 2000) -> tuple[float, float]:
    """The limiter check alone, in-process on the same Redis: (admitted, refused) in µs."""
    import redis

    from webapp.ratelimit import MovingWindows, Rule

    windows = MovingWindows(redis.Redis.from_url(redis_url))
    key = f"pmdi/bench/{uuid.uuid4().hex}"
    roomy, full = Rule("requests_per_minute", key + "a", 10**6, 60), Rule("r", key + "b", 1, 60)
    windows.acquire([full])  # now full for a minute
    timings = []
    for rule in (roomy, full):
        windows.acquire([rule])
        started = time.perf_counter()
        for _ in range(repeat):
            windows.acquire([rule])
        timings.append((time.perf_counter() - started) / repeat * 1e6)
    return timings[0], timings[1]


# --- Main --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Set up, run the quiet and the flood phase, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="length of each phase")
    parser.add_argument("--limit", type=int, default=600, help="A's requests per minute")
    parser.add_argument("--b-rate", type=float, default=5.0, help="B's requests per second")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL") or memory.DEFAULT_ADMIN_URL,
        help="an admin URL that may create databases and roles",
    )
    parser.add_argument(
        "--redis-url", default=DEFAULT_REDIS_URL, help="a Redis database this script may flush"
    )
    args = parser.parse_args(argv)

    import logging

    import redis

    logging.getLogger().setLevel(logging.WARNING)
    flood_rate = 10 * args.limit / 60
    print("bench/noisy_neighbour.py — one organization floods, another works")
    print(f"  command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    print(
        f"  server: gunicorn, 2 sync workers, rate limits on; {os.cpu_count()} CPUs; "
        f"database={DATABASE} redis={args.redis_url}"
    )
    redis.Redis.from_url(args.redis_url).flushdb()
    owner_url, app_url = prepare_database(args.database_url, DATABASE)
    workdir = Path(tempfile.mkdtemp(prefix="pmdi-bench-noisy-"))
    server = start_gunicorn(app_url, args.redis_url, workdir, "gunicorn")
    try:
        a, b = make_tenants(app_url, args.redis_url, 2)
        set_limits(owner_url, a, "pro")
        set_limits(owner_url, b, "pro")
        for tenant in (a, b):
            seed_documents(server, tenant, 10)
        # The same figure for A's API (organization and token) and its pages (organization
        # and member): the flood meets the API's, the member's pages their own.
        budgets = ("requests_per_minute", "token_requests_per_minute")
        budgets += ("page_requests_per_minute", "user_requests_per_minute")
        set_limits(owner_url, a, "free", **dict.fromkeys(budgets, args.limit))
        forget_window(args.redis_url, a)
        print(
            f"  A: free plan, requests_per_minute overridden to {args.limit}; floods at "
            f"{flood_rate:g}/s (10x) from 10 threads"
        )
        print(
            f"  B: pro plan (600/min); {args.b_rate:g} requests/s; each phase {args.seconds:g} s; "
            "endpoint GET /api/v1/documents (10 documents each)"
        )
        for _ in range(20):  # warm both workers' pools and caches
            request(server, "GET", "/api/v1/documents", b.token)
            time.sleep(0.05)
        forget_window(args.redis_url, b)

        quiet_b = Recorder()
        paced(
            args.b_rate,
            args.seconds,
            lambda: quiet_b.add(request(server, "GET", "/api/v1/documents", b.token)),
        )

        flood_b = Recorder()
        flooder = Flooder(server, a.token, flood_rate, args.seconds, threads=10)
        paced(
            args.b_rate,
            args.seconds,
            lambda: flood_b.add(request(server, "GET", "/api/v1/documents", b.token)),
        )
        flood_a = flooder.join()

        # Issue 12: A's own API script floods while A's member uses the pages. Pages and the
        # API have budgets of their own, so the member is never refused.
        cookie = log_in(server, a)
        pages_a = Recorder()
        page_headers = {"Cookie": cookie, "Accept": "text/html"}
        flooder = Flooder(server, a.token, flood_rate, args.seconds / 2, threads=10)
        paced(
            args.b_rate,
            args.seconds / 2,
            lambda: pages_a.add(request(server, "GET", "/documents", None, None, page_headers)),
        )
        own_flood = flooder.join()
        admitted_us, refused_us = check_cost_us(args.redis_url)
    finally:
        server.stop()
        redis.Redis.from_url(args.redis_url).flushdb()
        drop_database(args.database_url, DATABASE)
        shutil.rmtree(workdir, ignore_errors=True)

    def latency_line(name: str, recorder: Recorder) -> tuple[float, float]:
        wall = [r.wall_ms for r in recorder.replies]
        server_side = [r.server_ms for r in recorder.replies]
        p50, p99 = percentile(wall, 50), percentile(wall, 99)
        print(
            f"  B {name:<12} n={len(wall):4d}  client p50 {p50:6.2f} ms  p99 {p99:6.2f} ms   "
            f"server p50 {percentile(server_side, 50):6.2f} ms  "
            f"p99 {percentile(server_side, 99):6.2f} ms"
        )
        return p50, p99

    print()
    _, quiet_p99 = latency_line("quiet", quiet_b)
    _, flood_p99 = latency_line("under flood", flood_b)
    b_429 = len(quiet_b.with_status(429)) + len(flood_b.with_status(429))
    others = [r.status for r in quiet_b.replies + flood_b.replies if r.status not in (200, 429)]
    print(f"  B p99 under flood / quiet p99: {flood_p99 / quiet_p99:.2f}x (target <= 1.5x)")
    print(f"  B 429 responses: {b_429} (target 0); other non-200: {len(others)}")
    for r in quiet_b.with_status(429) + flood_b.with_status(429):
        print(f"    B refused: X-RateLimit-Limit {r.limit}, {r.wall_ms:.1f} ms")
    sent, admitted = len(flood_a.replies), len(flood_a.with_status(200))
    refused = flood_a.with_status(429)
    print(
        f"  A sent {sent} in {args.seconds:g} s ({sent / args.seconds:.1f}/s), admitted "
        f"{admitted}, refused {len(refused)}; limit {args.limit}/min -> at most "
        f"{args.limit} in any 60 s"
    )
    refused_server = [r.server_ms for r in refused]
    refused_check = [r.limiter_ms for r in refused]
    refused_wall = [r.wall_ms for r in refused]
    if refused:
        print(
            f"  one refused request (429): server time p50 {statistics.median(refused_server):.3f}"
            f" ms, p99 {percentile(refused_server, 99):.3f} ms (whole request; a token refused a "
            f"moment ago is answered before Flask, without the database); client-side p50 "
            f"{statistics.median(refused_wall):.2f} ms"
        )
        print(
            f"  of which the limiter check (Server-Timing ratelimit): p50 "
            f"{statistics.median(refused_check):.3f} ms, p99 {percentile(refused_check, 99):.3f} ms"
        )
    page_wall = [r.wall_ms for r in pages_a.replies]
    print(
        f"  same organization: A's API flood ({len(own_flood.replies)} sent, "
        f"{len(own_flood.with_status(429))} refused) while A's member opens /documents "
        f"{len(pages_a.replies)} times: {len(pages_a.with_status(429))} page 429s (target 0), "
        f"other non-200: {len([r for r in pages_a.replies if r.status not in (200, 429)])}; "
        f"page p50 {percentile(page_wall, 50):.2f} ms, p99 {percentile(page_wall, 99):.2f} ms"
    )
    print(
        f"  limiter check alone (in-process, one EVALSHA): {admitted_us:.0f} µs admitted, "
        f"{refused_us:.0f} µs refused"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
