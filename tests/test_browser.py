"""The product in a real browser: headless Chromium (Debian's) driven by Playwright.

A live server (gunicorn, on a free localhost port) and a real Celery worker run on the test
database and Redis. One organization signs up, uploads minutes, watches them being processed
without reloading, reads the digest and searches; a second organization, in its own browser
context, sees none of it.

The browser is ``/usr/bin/chromium`` (``apt-get install chromium``; ``.ci/run`` installs it).
Playwright's own browser download is never used. When the browser is missing the test fails
with instructions; it skips only when ``PMDI_SKIP_BROWSER=1`` is set explicitly.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import FIXTURES, ROOT, TEST_QUEUE, Services

FREE_QUEUE = f"{TEST_QUEUE}-docs-free"  # where the free plan's documents wait

pytestmark = pytest.mark.slow

CHROMIUM = Path(os.environ.get("PMDI_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium keeps calling home, which on a closed network only costs time.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "instance" / "browser"
MINUTES = FIXTURES / "meeting_minutes.txt"
SEARCH_WORD = "rehearsal"  # appears in the minutes, nowhere in another organization
PROCESSING_TIMEOUT_MS = 90_000


def _browser_unavailable(reason: str) -> None:
    """Skip only when asked to; otherwise fail loudly so CI never passes without a browser."""
    if os.environ.get("PMDI_SKIP_BROWSER") == "1":
        pytest.skip(f"PMDI_SKIP_BROWSER=1: {reason}")
    pytest.fail(
        f"{reason}. Install it with `apt-get install -y chromium` (.ci/run does) and "
        "`pip install -r requirements-dev.txt`, or set PMDI_SKIP_BROWSER=1 to skip this test.",
        pytrace=False,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class LiveServer:
    """A running web server and where it writes its log."""

    url: str
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


@pytest.fixture(scope="module")
def live_server(services: Services) -> Iterator[LiveServer]:
    """gunicorn serving ``wsgi:app`` as the runtime role, on the test database and Redis."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": services.app_url,
        "REDIS_URL": services.redis_url,
        "SECRET_KEY": "test-secret",
        "PYTHONPATH": str(ROOT),
        # Documents go to this run's queues, which only this run's worker consumes.
        "DOCUMENT_QUEUE_PREFIX": f"{TEST_QUEUE}-docs",
    }
    for name in ("CELERY_BROKER_URL", "MIGRATION_DATABASE_URL"):
        env.pop(name, None)
    log_path = ROOT / "instance" / "test-browser-server.log"
    log_path.parent.mkdir(exist_ok=True)
    log_file = log_path.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--access-logfile",
            "-",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    server = LiveServer(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(server.url + "/login", timeout=2) as response:
                if response.status == 200:
                    break
        except (OSError, urllib.error.URLError):
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log_file.close()
            raise RuntimeError("web server did not start:\n" + server.log_tail())
        time.sleep(0.2)
    yield server
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log_file.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium, launched by Playwright (never Playwright's own download)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _browser_unavailable("Playwright for Python is not installed")
    if not CHROMIUM.exists():
        _browser_unavailable(f"Chromium is not installed at {CHROMIUM}")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """Factory: a page in a fresh browser context (its own cookies: its own user)."""
    contexts: list[Any] = []

    def factory() -> Any:
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(20_000)
        contexts.append(context)
        return context.new_page()

    yield factory
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str) -> None:
    """Save a full-page screenshot under instance/browser/ to look at by hand."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_up(page: Any, organization: str) -> str:
    """Create an organization through the sign-up page; returns the owner's e-mail."""
    tag = uuid.uuid4().hex[:8]
    email = f"owner-{tag}@example.com"
    page.goto("/signup")
    page.fill("#organization", organization)
    page.fill("#name", f"Owner {tag}")
    page.fill("#email", email)
    page.fill("#password", f"pw-{tag}-long-enough")
    page.fill("#confirm", f"pw-{tag}-long-enough")
    page.click("button:has-text('Create organization')")
    page.wait_for_url("**/dashboard")
    assert organization in page.inner_text("header .who")
    return email


def search_from_header(page: Any, words: str) -> None:
    """Type into the search box in the page header and submit it with Enter."""
    box = page.locator("header form.searchbox input[name=q]")
    box.fill(words)
    with page.expect_navigation():
        box.press("Enter")
    assert "/search" in page.url


class PausedWorker:
    """Stop the test worker taking tasks, so a page can be opened before processing starts."""

    def __init__(self, app: Flask, worker: subprocess.Popen) -> None:
        self.control = app.extensions["celery"].control
        self.destination = [self._node_of(worker.pid)]

    def _node_of(self, pid: int) -> str:
        for _ in range(20):
            stats = self.control.inspect(timeout=1).stats() or {}
            for node, info in stats.items():
                if info.get("pid") == pid:
                    return node
        raise RuntimeError(f"no Celery node reports pid {pid}")

    def __enter__(self) -> PausedWorker:
        replies = self.control.cancel_consumer(FREE_QUEUE, reply=True, destination=self.destination)
        assert replies, "the worker did not confirm it stopped consuming"
        return self

    def resume(self) -> None:
        replies = self.control.add_consumer(FREE_QUEUE, reply=True, destination=self.destination)
        assert replies, "the worker did not confirm it consumes again"

    def __exit__(self, *exc: object) -> None:
        self.resume()  # idempotent: adding a queue already consumed is a no-op


def test_upload_process_search_and_isolation_in_a_browser(
    app: Flask, worker: subprocess.Popen, live_server: LiveServer, new_page
) -> None:
    """Can a person do the whole round in a real browser, and does another tenant see none of it?"""
    page = new_page()
    sign_up(page, "Browser Org A")

    # Upload through the form while the worker is paused, so the document page is opened
    # before processing starts and its live progress is really exercised.
    with PausedWorker(app, worker) as paused:
        page.goto("/documents/upload")
        page.set_input_files("#files", str(MINUTES))
        with page.expect_navigation():
            page.click("#upload-form button[type=submit]")
        result = page.locator("ul.results li.ok")
        assert "Uploaded; processing has started." in result.inner_text()
        screenshot(page, "01-uploaded")
        document_id = result.locator("a", has_text="Open").get_attribute("href").rsplit("/", 1)[-1]
        # The list shows the live progress: the badge and bar change without a reload.
        page.goto("/documents")
        badge = page.locator(f'[data-status-for="{document_id}"]')
        bar = page.locator(f'progress[data-document-id="{document_id}"]')
        assert badge.inner_text() == "queued"
        assert bar.is_visible()
        page.evaluate("window.__notReloaded = true")
        paused.resume()
        badge.filter(has_text="done").wait_for(timeout=PROCESSING_TIMEOUT_MS)

    assert page.evaluate("window.__notReloaded === true"), "the page reloaded"
    assert bar.count() == 0, "the finished document's progress bar is gone"
    screenshot(page, "02-done-live")

    with page.expect_navigation():
        page.click(f'a[href$="/documents/{document_id}"]')
    assert page.url.endswith(f"/documents/{document_id}")
    title = page.inner_text("main h1")
    assert page.locator(f'[data-status-for="{document_id}"]').inner_text() == "done"
    rows = page.locator("table.action-items tbody tr")
    cells = [[c.strip() for c in row.locator("td").all_inner_texts()] for row in rows.all()]
    assert ["Maria", "2027-03-12"] in [[owner, due] for _, owner, due, _ in cells], cells
    (maria,) = [row for row in cells if row[1] == "Maria"]
    assert "revised budget" in maria[0]
    screenshot(page, "03-digest")

    search_from_header(page, SEARCH_WORD)
    hits = page.locator("ol.hits li")
    assert hits.count() == 1
    link = hits.first.locator("a").first
    assert link.get_attribute("href").endswith(f"/documents/{document_id}")
    marks = hits.first.locator("p.snippet mark").all_inner_texts()
    assert marks and all(m.lower().startswith("rehears") for m in marks), marks
    screenshot(page, "04-search")

    # Organization B, in its own browser context, sees nothing of A's.
    other = new_page()
    sign_up(other, "Browser Org B")
    other.goto("/documents")
    assert other.locator("table.documents").count() == 0
    assert "No documents yet" in other.inner_text("p.empty")
    search_from_header(other, SEARCH_WORD)
    assert other.locator("ol.hits li").count() == 0
    assert "No documents match" in other.inner_text("p.empty")
    for path in (f"/documents/{document_id}", f"/documents/{document_id}/download"):
        response = other.goto(path)
        assert response.status == 404, path
        assert other.inner_text("main h1") == "404"
        assert title not in other.content() and SEARCH_WORD not in other.content()
    screenshot(other, "05-other-org-404")
    progress = other.request.get(f"/documents/progress?id={document_id}")
    assert progress.ok and progress.json() == {"documents": []}
