"""Peak memory of the web process for a large upload and its download.

    python bench/memory.py [--size-mb 50] [--server gunicorn|werkzeug]
                           [--database-url URL] [--redis-url URL]

DESIGN.md §4 stores originals in chunks "so neither upload nor download holds a whole large
file in memory". This script checks that from the outside:

1. creates and migrates its own database (``pmdi_bench_memory``, runtime role
   ``pmdi_bench_app``) and starts the app — gunicorn with one sync worker (default) or the
   Werkzeug server — on it and on a Redis database of its own (flushed before and after; no
   Celery worker runs, so uploads stay queued);
2. signs up through the form (CSRF token included; sign-up logs the owner in) with ``urllib``,
   and raises the new organization's file limit to 100 MB as the owner database role
   (``quota_overrides = '{"max_file_bytes": 104857600}'``);
3. uploads a warm-up file (1 MB), then a ``--size-mb`` UTF-8 ``.txt`` streamed from disk, then
   downloads it streaming (and checks its SHA-256);
4. reports, for each phase, the growth of the serving process's peak resident memory: peak
   (``VmHWM`` of ``/proc/<pid>/status``, reset through ``/proc/<pid>/clear_refs`` before the
   phase when the kernel allows it, and sampled every 5 ms as a cross-check) minus the
   resident memory just before — set against the chunk size (``services.CHUNK_SIZE``) and the
   file size.

Figures only; nothing here asserts a timing or a size.
"""

from __future__ import annotations

import argparse
import hashlib
import http.cookiejar
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
DATABASE = "pmdi_bench_memory"
APP_ROLE = "pmdi_bench_app"
APP_PASSWORD = "bench-app-password"
MAX_FILE_BYTES = 100 * 1024 * 1024
MIB = 1024 * 1024
CSRF_RE = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')
DOCUMENT_RE = re.compile(r'/documents/([0-9a-f-]{36})"')
# A paragraph of minutes with some non-ASCII characters, so the file is UTF-8, not ASCII.
PARAGRAPH = (
    "Steering committee — week {n}: the migration rehearsal reconciled 98.7 % of records; "
    "Zoë and José will confirm the £25,000 contingency before the cutover weekend. "
    "Risk: the billing vendor may deliver the API late. Action: Maria to send the revised "
    "budget by Friday.\n"
)


# --- Set-up ------------------------------------------------------------------------------


def prepare_database(admin_url: str) -> tuple[str, str]:
    """A fresh, migrated database; returns the owner and runtime-role URLs."""
    from flask_migrate import upgrade

    from webapp import create_app, embedded
    from webapp.extensions import db

    owner_url = embedded.ensure_database(admin_url, DATABASE, recreate=True)
    app_url = embedded.with_role(owner_url, APP_ROLE, APP_PASSWORD)
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
    return owner_url, app_url


def drop_database(admin_url: str) -> None:
    """Drop the bench database."""
    from sqlalchemy import create_engine, text

    from webapp.config import sqlalchemy_url

    engine = create_engine(sqlalchemy_url(admin_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
    engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """The web server process tree and the pid that serves requests."""

    process: subprocess.Popen
    serving_pid: int
    url: str
    log_path: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_server(kind: str, app_url: str, redis_url: str, workdir: Path) -> Server:
    """Start gunicorn (one sync worker) or the Werkzeug server; wait until it answers."""
    import psutil

    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": app_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "bench-secret",
        "PYTHONPATH": str(ROOT),
    }
    for name in ("MIGRATION_DATABASE_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    if kind == "gunicorn":
        command = [sys.executable, "-m", "gunicorn", "--workers", "1", "--timeout", "300"]
        command += ["--bind", f"127.0.0.1:{port}", "wsgi:app"]
    else:
        command = [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--no-reload"]
        command += ["--no-debugger", "--host", "127.0.0.1", "--port", str(port)]
    log_path = workdir / f"{kind}.log"
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/login", timeout=2):
                break
        except (OSError, urllib.error.URLError):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(
                    f"{kind} did not start:\n{log_path.read_text()[-3000:]}"
                ) from None
            time.sleep(0.2)
    serving = process.pid
    if kind == "gunicorn":  # the master forks the worker that serves
        (child,) = psutil.Process(process.pid).children()
        serving = child.pid
    return Server(process, serving, url, log_path)


# --- Memory ------------------------------------------------------------------------------


def status_kib(pid: int, field: str) -> int:
    """A ``kB`` field of /proc/<pid>/status (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux: write 5 to clear_refs); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class Sampler:
    """Samples a process's RSS every few milliseconds in a thread; keeps the maximum."""

    def __init__(self, pid: int, interval: float = 0.005) -> None:
        self.pid, self.interval = pid, interval
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, status_kib(self.pid, "VmRSS"))
            time.sleep(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Phase:
    """Memory of the serving process around one request."""

    name: str
    rss_before_kib: int
    hwm_after_kib: int
    sampled_peak_kib: int
    rss_after_kib: int
    seconds: float
    peak_was_reset: bool

    @property
    def growth_kib(self) -> int:
        """Peak minus the resident memory before the request."""
        return self.hwm_after_kib - self.rss_before_kib

    @property
    def sampled_growth_kib(self) -> int:
        return self.sampled_peak_kib - self.rss_before_kib


def measured(name: str, pid: int, action) -> tuple[Phase, object]:  # type: ignore[no-untyped-def]
    """Run ``action()`` and record the serving process's memory around it."""
    was_reset = reset_peak(pid)
    before = status_kib(pid, "VmRSS")
    started = time.perf_counter()
    with Sampler(pid) as sampler:
        result = action()
    seconds = time.perf_counter() - started
    phase = Phase(
        name,
        rss_before_kib=before,
        hwm_after_kib=status_kib(pid, "VmHWM"),
        sampled_peak_kib=sampler.peak_kib,
        rss_after_kib=status_kib(pid, "VmRSS"),
        seconds=seconds,
        peak_was_reset=was_reset,
    )
    return phase, result


# --- The client --------------------------------------------------------------------------


class Client:
    """A cookie-keeping urllib client for the HTML pages."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> str:
        with self.opener.open(self.base_url + path, timeout=300) as response:
            return response.read().decode()

    def csrf(self, path: str) -> str:
        match = CSRF_RE.search(self.get(path))
        if not match:
            raise RuntimeError(f"no CSRF token on {path}")
        return match.group(1)

    def post_form(self, path: str, fields: dict[str, str]) -> str:
        body = urllib.parse.urlencode(fields).encode()
        with self.opener.open(self.base_url + path, data=body, timeout=300) as response:
            return response.read().decode()

    def upload(self, path: Path) -> str:
        """POST one file through the upload form, streamed from disk; returns its id."""
        boundary = "----pmdi" + uuid.uuid4().hex
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
            f"{self.csrf('/documents/upload')}\r\n"
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="{path.name}"\r\nContent-Type: text/plain\r\n\r\n'
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        length = len(head) + path.stat().st_size + len(tail)
        with path.open("rb") as content:
            request = urllib.request.Request(
                self.base_url + "/documents/upload",
                data=ChainedReader([io.BytesIO(head), content, io.BytesIO(tail)]),
                headers={
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                    "Content-Length": str(length),
                },
                method="POST",
            )
            with self.opener.open(request, timeout=300) as response:
                page = response.read().decode()
        ids = set(DOCUMENT_RE.findall(page))
        if len(ids) != 1:
            raise RuntimeError("upload did not succeed:\n" + page[-2000:])
        return ids.pop()

    def download(self, document_id: str) -> tuple[int, str]:
        """Stream a download to nowhere; returns its size and SHA-256."""
        digest, size = hashlib.sha256(), 0
        url = f"{self.base_url}/documents/{document_id}/download"
        with self.opener.open(url, timeout=300) as response:
            while block := response.read(256 * 1024):
                digest.update(block)
                size += len(block)
        return size, digest.hexdigest()


class ChainedReader(io.RawIOBase):
    """Reads several binary streams one after the other (a multipart body, never whole)."""

    def __init__(self, parts: list[IO[bytes]]) -> None:
        self.parts = parts

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while self.parts:
            block = self.parts[0].read(size if size and size > 0 else 1024 * 1024)
            if block:
                return block
            self.parts.pop(0)
        return b""


def write_text_file(path: Path, size: int) -> str:
    """Write exactly ``size`` bytes of valid UTF-8 minutes; returns the SHA-256."""
    digest = hashlib.sha256()
    written, n = 0, 0
    with path.open("wb") as out:
        while written < size:
            block = "".join(PARAGRAPH.format(n=n + i) for i in range(200)).encode()
            n += 200
            if len(block) > size - written:  # an ASCII tail never splits a character
                block = b"." * (size - written - 1) + b"\n"
            out.write(block)
            digest.update(block)
            written += len(block)
    return digest.hexdigest()


def raise_file_limit(owner_url: str, email: str) -> None:
    """Let the new organization upload files of up to 100 MB (as the owner role)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(owner_url)
    with engine.begin() as conn:
        updated = conn.execute(
            text(
                "UPDATE organizations SET quota_overrides = quota_overrides || "
                "jsonb_build_object('max_file_bytes', CAST(:limit AS bigint)) "
                "WHERE id = (SELECT organization_id FROM users WHERE email = :email)"
            ),
            {"limit": MAX_FILE_BYTES, "email": email},
        ).rowcount
    engine.dispose()
    if updated != 1:
        raise RuntimeError(f"organization of {email} not found")


# --- Main --------------------------------------------------------------------------------


def mib(kib: int) -> str:
    return f"{kib / 1024:8.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    """Set up, upload, download, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=50, help="size of the upload in MiB")
    parser.add_argument("--server", choices=["gunicorn", "werkzeug"], default="gunicorn")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL") or DEFAULT_ADMIN_URL,
        help="an admin URL that may create databases and roles",
    )
    parser.add_argument(
        "--redis-url", default=DEFAULT_REDIS_URL, help="a Redis database this script may flush"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)

    import logging

    import redis

    from webapp.documents.services import CHUNK_SIZE

    logging.getLogger().setLevel(logging.WARNING)
    size = args.size_mb * MIB
    print("bench/memory.py — peak memory of the web process for one large upload and download")
    print(f"  command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    print(
        f"  parameters: size={args.size_mb} MiB server={args.server} "
        f"chunk size (services.CHUNK_SIZE)={CHUNK_SIZE / MIB:g} MiB database={DATABASE} "
        f"redis={args.redis_url}"
    )
    redis.Redis.from_url(args.redis_url).flushdb()
    owner_url, app_url = prepare_database(args.database_url)
    workdir = Path(tempfile.mkdtemp(prefix="pmdi-bench-memory-"))
    server = start_server(args.server, app_url, args.redis_url, workdir)
    try:
        client = Client(server.url)
        tag = uuid.uuid4().hex[:8]
        email = f"bench-{tag}@example.com"
        page = client.post_form(
            "/signup",
            {
                "csrf_token": client.csrf("/signup"),
                "organization": f"Memory bench {tag}",
                "name": "Bench Owner",
                "email": email,
                "password": f"pw-{tag}-long-enough",
                "confirm": f"pw-{tag}-long-enough",
            },
        )
        if "Log out" not in page:
            raise RuntimeError("sign-up failed:\n" + page[-2000:])
        raise_file_limit(owner_url, email)

        warmup, big = workdir / "warm-up.txt", workdir / f"minutes-{args.size_mb}mb.txt"
        write_text_file(warmup, MIB)
        expected_sha = write_text_file(big, size)
        pid = server.serving_pid
        print(f"  serving process: pid {pid}, resident {mib(status_kib(pid, 'VmRSS'))} at start")

        phases = []
        warm_phase, warm_id = measured("warm-up upload (1 MiB)", pid, lambda: client.upload(warmup))
        phases.append(warm_phase)
        phases.append(measured("warm-up download", pid, lambda: client.download(warm_id))[0])
        upload_phase, document_id = measured(
            f"upload ({args.size_mb} MiB)", pid, lambda: client.upload(big)
        )
        phases.append(upload_phase)
        download_phase, (got_size, got_sha) = measured(
            f"download ({args.size_mb} MiB)", pid, lambda: client.download(document_id)
        )
        phases.append(download_phase)
        if (got_size, got_sha) != (size, expected_sha):
            raise RuntimeError(f"download differs: {got_size} bytes, sha256 {got_sha}")

        print(
            f"\n  {'phase':<26} {'RSS before':>13} {'peak (HWM)':>13} {'growth':>13} "
            f"{'sampled':>13} {'RSS after':>13} {'seconds':>8}"
        )
        for p in phases:
            print(
                f"  {p.name:<26} {mib(p.rss_before_kib):>13} {mib(p.hwm_after_kib):>13} "
                f"{mib(p.growth_kib):>13} {mib(p.sampled_growth_kib):>13} "
                f"{mib(p.rss_after_kib):>13} {p.seconds:8.2f}"
            )
        print(
            "  growth = peak (VmHWM, reset before each phase) - RSS before; sampled = the "
            "largest VmRSS seen every 5 ms - RSS before\n  (the kernel updates RSS counters "
            "in batches, so the two can differ by a few hundred KiB)"
        )
        if not all(p.peak_was_reset for p in phases):
            print("  (peak could not be reset between phases: HWM is the peak since start)")
        print(f"\n  download verified: {got_size:,} bytes, sha256 matches the upload")
        chunk_kib = CHUNK_SIZE / 1024
        for p in (upload_phase, download_phase):
            print(
                f"  {p.name:<18} peak growth {p.growth_kib / 1024:6.1f} MiB = "
                f"{p.growth_kib / chunk_kib:5.1f} x chunk size, "
                f"{100 * p.growth_kib * 1024 / size:5.1f} % of the file; "
                f"{args.size_mb / p.seconds:6.1f} MiB/s"
            )
    finally:
        server.stop()
        redis.Redis.from_url(args.redis_url).flushdb()
        if not args.keep:
            drop_database(args.database_url)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
