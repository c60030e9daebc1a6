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

from tests.conftest import FIXTURES, ROOT, TEST_QUEUE, Services, running_worker

FREE_QUEUE = f"{TEST_QUEUE}-docs-free"  # where the free plan's documents wait
# Where the live server's other tasks (a password reset's mail, notifications) wait: its own
# worker, with the server's MAIL_DIR and PUBLIC_URL, consumes it.
LIVE_QUEUE = f"{TEST_QUEUE}-live"

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
# The live server writes its mail here (webapp/mail.py: MAIL_DIR), so a test can open a link.
MAIL_DIR = ROOT / "instance" / f"test-browser-mail-{os.getpid()}"
# axe-core, vendored unchanged from npm (MPL-2.0; tests/vendor/axe-core/README.md).
AXE_VERSION = "4.14.1"
AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
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
def live_server(services: Services, app: Flask) -> Iterator[LiveServer]:
    """gunicorn serving ``wsgi:app`` as the runtime role, on the test database and Redis, and
    a worker for its mail (documents go to the session's ``worker``, which tests ask for)."""
    port = _free_port()
    mail_settings = {"MAIL_DIR": str(MAIL_DIR), "PUBLIC_URL": f"http://127.0.0.1:{port}"}
    env = {
        **os.environ,
        "DATABASE_URL": services.app_url,
        "REDIS_URL": services.redis_url,
        "SECRET_KEY": "test-secret",
        "PYTHONPATH": str(ROOT),
        # Documents go to this run's queues, which only this run's worker consumes.
        "DOCUMENT_QUEUE_PREFIX": f"{TEST_QUEUE}-docs",
        "CELERY_DEFAULT_QUEUE": LIVE_QUEUE,
        **mail_settings,
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
    mail_log = ROOT / "instance" / f"test-browser-mail-worker-{os.getpid()}.log"
    with running_worker(
        services, app, LIVE_QUEUE, f"{LIVE_QUEUE}@localhost", mail_log, mail_settings
    ):
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


# --- Accounts, phone width and accessibility (issue 12) --------------------------------------


def mails_to(address: str) -> list[str]:
    """Bodies of the messages the live server wrote for ``address``, oldest first."""
    from email import message_from_bytes, policy

    bodies = []
    for path in sorted(MAIL_DIR.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if message["To"] == address:
            bodies.append(message.get_content())
    return bodies


def test_forgot_password_end_to_end_in_a_browser(live_server: LiveServer, new_page) -> None:
    """Forgot password → mail → link → new password; the old session ends; the link is spent."""
    import re

    first = new_page()
    email = sign_up(first, "Browser Reset Org")
    first.goto("/documents")
    assert first.url.endswith("/documents")

    page = new_page()
    page.goto("/login")
    page.click("text=Forgot your password?")
    page.wait_for_url("**/forgot-password")
    page.fill("#email", email)
    page.click("button:has-text('Send me a link')")
    assert email in page.inner_text("#reset-sent")
    deadline = time.monotonic() + 20
    while not mails_to(email):
        assert time.monotonic() < deadline, "no reset mail was written"
        time.sleep(0.2)
    (body,) = mails_to(email)
    link = re.search(r"(http://\S+/reset-password/\S+)", body).group(1)
    assert link.startswith(live_server.url)

    page.goto(link)
    assert email in page.inner_text("main")
    new_password = "browser-new-password-1"
    page.fill("#password", new_password)
    page.fill("#confirm", new_password)
    page.click("button:has-text('Set the new password')")
    page.wait_for_url("**/login")
    assert "Log in with the new one" in page.inner_text("main")
    page.fill("#email", email)
    page.fill("#password", new_password)
    page.click("main button:has-text('Log in')")
    page.wait_for_url("**/dashboard")

    first.goto("/documents")  # the session from before the reset has ended
    assert "/login" in first.url

    spent = new_page()
    response = spent.goto(link)
    assert response.status == 410
    assert "already been used" in spent.inner_text("main")
    screenshot(spent, "10-reset-link-spent")


NOT_PAGES = {
    # Redirects, files, JSON, CSV and POST-only routes: nothing to lay out.
    "dashboard.home",
    "dashboard.favicon",
    "documents.progress",
    "documents.download",
    "org.audit_csv",
    "org.logo",
    "org.download_export",
    "auth.confirm_email",
    "workspace.digest_markdown",
    "workspace.actions_csv",
    "workspace.feed",
    "static",
}


def _fits_and_passes(page: Any, path: str, width: int, problems: list[str]) -> None:
    """Load ``path``; record a horizontal scroll or a serious/critical axe violation."""
    response = page.goto(path)
    assert response is not None and response.status < 500, (path, response and response.status)
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        wide = page.evaluate(
            "w => [...document.querySelectorAll('body *')].filter(e => "
            "e.getBoundingClientRect().right > w + 1).slice(0, 4).map(e => "
            "e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''))",
            width,
        )
        problems.append(f"{path} at {width}px: scrollWidth {scroll}, wide: {wide}")
    if page.evaluate("typeof window.axe") == "undefined":
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
    )
    for violation in result["violations"]:
        if violation["impact"] in ("serious", "critical"):
            targets = [node["target"] for node in violation["nodes"]][:5]
            problems.append(f"{path} at {width}px: axe {violation['id']} {targets}")


def test_every_page_fits_a_phone_and_passes_an_accessibility_check(
    app: Flask, worker: subprocess.Popen, live_server: LiveServer, browser: Any
) -> None:
    """Every page at 390 px has no horizontal scroll and no serious or critical axe-core
    violation; at 1280 px the navigation stays on one line."""
    import re

    from webapp.admin import services as admin_services
    from webapp.extensions import db

    assert AXE.read_text()[:40].startswith(f"/*! axe v{AXE_VERSION}")
    contexts = []

    def context(viewport: dict[str, int]) -> Any:
        # The test injects axe-core as a script of its own: let it past the page's CSP.
        made = browser.new_context(base_url=live_server.url, viewport=viewport, bypass_csp=True)
        made.set_default_timeout(20_000)
        contexts.append(made)
        return made.new_page()

    try:
        page = context(DESKTOP)
        email = sign_up(page, "Browser Phone Org — a long organization name for a small screen")
        page.goto("/documents/upload")
        page.set_input_files("#files", str(MINUTES))
        with page.expect_navigation():
            page.click("#upload-form button[type=submit]")
        document_path = page.locator("ul.results a", has_text="Open").get_attribute("href")
        # The result follows the processing on the page itself: no "processing has started"
        # beside a done badge.
        result = page.locator("ul.results li.ok")
        result.filter(has_text="the digest is ready").wait_for(timeout=PROCESSING_TIMEOUT_MS)
        assert "has started" not in result.inner_text()
        assert result.locator(".badge-done").count() == 1
        assert page.locator("ul.results[aria-live=polite]").count() == 1
        page.goto("/settings/members")
        page.fill("#email", f"daniel-{uuid.uuid4().hex[:6]}@acme.test")
        page.click("button:has-text('Send invitation')")
        invitation = page.locator("#invitation-link").input_value()
        page.goto("/forgot-password")  # a reset link for the reset page
        page.fill("#email", email)
        page.click("button:has-text('Send me a link')")
        # The owner may also be mailed that the document is processed: wait for the reset's.
        deadline = time.monotonic() + 20
        while not (resets := [m for m in mails_to(email) if "/reset-password/" in m]):
            assert time.monotonic() < deadline, "no reset mail was written"
            time.sleep(0.2)
        reset = re.search(r"(/reset-password/\S+)", resets[-1]).group(1)

        # At 1280 px the navigation is one line, and nothing scrolls sideways.
        page.goto("/dashboard")
        tops = page.eval_on_selector_all(
            "nav.mainnav a", "links => [...new Set(links.map(a => a.getBoundingClientRect().top))]"
        )
        assert len(tops) == 1, f"the navigation wraps at 1280 px: {tops}"
        assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
        screenshot(page, "11-dashboard-1280")

        member_pages = [
            "/dashboard",
            "/documents",
            "/documents/upload",
            document_path,
            "/documents/trash",
            f"/search?q={SEARCH_WORD}",
            "/settings",
            "/settings/api-tokens",
            "/settings/audit",
            "/settings/delete",
            "/settings/export",
            "/settings/members",
            "/settings/usage",
            "/account",
            "/account/password",
            "/actions",
            f"{document_path}/digest/edit",
            f"{document_path}/text",
            "/calendar",
            "/notifications",
            f"/documents/{uuid.uuid4()}",  # the 404 page
        ]
        anonymous_pages = [
            "/login",
            "/signup",
            "/forgot-password",
            reset,
            invitation.replace(live_server.url, ""),
            "/organization/restore",
            "/admin/login",
        ]
        admin_email = f"ops-{uuid.uuid4().hex[:6]}@example.com"
        with app.app_context():
            admin_services.create_admin(
                admin_email, "Ops", "ops-password-long", admin_services.Actor.cli()
            )
            db.session.remove()
        with app.app_context():
            from webapp.tenancy import login_lookup

            org_id = login_lookup(email).organization_id
            db.session.remove()
        admin_pages = [
            "/admin/",
            "/admin/plans",
            "/admin/audit",
            "/admin/load",
            f"/admin/organizations/{org_id}",
        ]

        # Every page route the app has is in one of the lists (a new page joins this test).
        listed = {re.sub(r"[0-9a-f-]{36}|[?].*", "", p) for p in member_pages + admin_pages}
        for rule in app.url_map.iter_rules():
            if "GET" not in (rule.methods or ()) or rule.endpoint in NOT_PAGES:
                continue
            if rule.endpoint.startswith("api.") or rule.arguments:
                continue
            assert rule.rule in listed | set(anonymous_pages), f"{rule.rule}: add it to this test"

        problems: list[str] = []
        phone = context(PHONE)
        for path in anonymous_pages:
            _fits_and_passes(phone, path, PHONE["width"], problems)
        phone.goto("/login")
        phone.fill("#email", email)
        tag = email.removeprefix("owner-").split("@")[0]  # sign_up's password is made of it
        phone.fill("#password", f"pw-{tag}-long-enough")
        phone.click("main button:has-text('Log in')")
        phone.wait_for_url("**/dashboard")
        # The menu button opens the navigation on a phone.
        menu = phone.locator("header .menu-button")
        assert menu.is_visible() and not phone.locator("nav.mainnav").is_visible()
        menu.click()
        assert phone.locator("nav.mainnav").is_visible()
        assert menu.get_attribute("aria-expanded") == "true"
        screenshot(phone, "12-menu-open-390")
        for path in member_pages:
            _fits_and_passes(phone, path, PHONE["width"], problems)
        screenshot(phone, "13-last-page-390")
        phone.goto("/documents")
        screenshot(phone, "14-documents-390")

        admin = context(PHONE)
        admin.goto("/admin/login")
        admin.fill("#email", admin_email)
        admin.fill("#password", "ops-password-long")
        admin.click("main button[type=submit]")
        admin.wait_for_url("**/admin/")
        for path in admin_pages:
            _fits_and_passes(admin, path, PHONE["width"], problems)
        desktop_problems: list[str] = []
        for path in member_pages:
            _fits_and_passes(page, path, DESKTOP["width"], desktop_problems)
        assert not problems + desktop_problems, "\n".join(problems + desktop_problems)
    finally:
        for made in contexts:
            made.close()
