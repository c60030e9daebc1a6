"""The workspace in a real browser (issue 12): an action found in an uploaded document
appears on the Actions page under its member, is edited, shows in that member's notifications
and calendar feed, is marked done, and survives a reprocess. Screenshots at 1280 and 390 px
of the Actions page, a digest being edited and the dashboard go to instance/browser/.

Same set-up as tests/test_browser.py (Debian's Chromium through Playwright, gunicorn and a
real Celery worker on the test database and Redis).
"""

from __future__ import annotations

import subprocess
import urllib.request
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from tests.test_browser import (  # noqa: F401 - the fixtures are used by name
    MINUTES,
    PROCESSING_TIMEOUT_MS,
    LiveServer,
    browser,
    live_server,
    new_page,
    screenshot,
    sign_up,
)
from tests.test_roles import PASSWORD, add_member

pytestmark = pytest.mark.slow

BUDGET = "Maria to send the revised budget by 12 March 2027."
EDITED = "Maria to send the revised budget (version 2)"


def shots(page: Any, name: str) -> None:
    """The page at 1280 px, then at 390 px (a phone), then back."""
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot(page, f"workspace-{name}-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, f"workspace-{name}-390")
    page.set_viewport_size({"width": 1280, "height": 900})


def log_in(page: Any, email: str, password: str) -> None:
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    page.wait_for_url("**/dashboard")


def wait_done(page: Any, document_id: str) -> None:
    page.goto(f"/documents/{document_id}")
    page.locator(f'[data-status-for="{document_id}"]').filter(has_text="done").wait_for(
        timeout=PROCESSING_TIMEOUT_MS
    )


def action_row(page: Any, text_contains: str) -> Any:
    return page.locator("table.action-list tbody tr", has_text=text_contains)


def test_an_action_from_upload_to_done_in_a_browser(  # noqa: F811 - fixtures by name
    app: Flask,
    worker: subprocess.Popen,
    live_server: LiveServer,  # noqa: F811
    new_page,  # noqa: F811
    owner_engine,
) -> None:
    """Does an action go from an uploaded document to its member's page, bell and calendar,
    and do a person's edits outlive a reprocess?"""
    owner = new_page()
    email = sign_up(owner, "Browser Workspace Org")
    with owner_engine.connect() as conn:
        org_id = conn.execute(
            text("SELECT organization_id FROM users WHERE email = :e"), {"e": email}
        ).scalar_one()
    maria = add_member(app, org_id, "member", name="Maria Lopez")

    owner.goto("/documents/upload")
    owner.set_input_files("#files", str(MINUTES))
    with owner.expect_navigation():
        owner.click("#upload-form button[type=submit]")
    link = owner.locator("ul.results li.ok a", has_text="Open").get_attribute("href")
    document_id = link.rsplit("/", 1)[-1]
    wait_done(owner, document_id)

    # The Actions page: the budget action under Maria Lopez, linked to its line.
    owner.click("header nav a:has-text('Actions')")
    owner.wait_for_url("**/actions")
    row = action_row(owner, BUDGET)
    assert row.count() == 1
    assert row.locator("td").nth(1).inner_text().strip() == "Maria Lopez"
    source = row.locator("td").nth(3).locator("a").first.get_attribute("href")
    assert f"/documents/{document_id}/text?line=" in source and "#L" in source
    assert "not a member yet" in action_row(owner, "cutover weekend").inner_text()
    shots(owner, "actions")
    # At 390 px the table scrolls in its wrapper: the page's content keeps to the width (the
    # header's own wrapping is the base layout's, another change).
    owner.set_viewport_size({"width": 390, "height": 844})
    assert owner.evaluate("document.querySelector('main').scrollWidth <= 390")
    assert owner.evaluate(
        "[...document.querySelectorAll('main .card')].every(c => c.scrollWidth <= c.clientWidth)"
    )
    owner.set_viewport_size({"width": 1280, "height": 900})

    # Edit it in the digest editor.
    owner.goto(f"/documents/{document_id}")
    owner.click("a:has-text('Edit digest')")
    owner.wait_for_url("**/digest/edit")
    item = owner.locator(".edit-item", has=owner.locator(f'input[value="{BUDGET}"]'))
    item.locator("input[name=text]").fill(EDITED)
    item.locator("input[name=due]").fill("2027-03-20")
    shots(owner, "digest-editing")
    with owner.expect_navigation():
        item.locator("button:has-text('Save')").click()
    assert "Saved." in owner.inner_text("main")
    edited = owner.locator(".edit-item", has=owner.locator(f'input[value="{EDITED}"]'))
    assert "edited" in edited.inner_text()

    # Maria sees the assignment in her notifications, her dashboard and her calendar feed.
    member = new_page()
    log_in(member, maria.email, PASSWORD)
    bell = member.locator("header a.bell")
    assert "unread" in bell.get_attribute("aria-label")
    assert int(bell.locator(".count").inner_text()) >= 1
    member.goto("/dashboard")
    assert EDITED in member.inner_text("#my-actions")
    shots(member, "dashboard")
    bell.click()
    member.wait_for_url("**/notifications")
    assert "You were assigned an action" in member.inner_text("ul.notifications")
    assert "revised budget" in member.inner_text("ul.notifications")
    member.goto("/calendar")
    with member.expect_navigation():
        member.click("button:has-text('Make my feed')")
    feed_url = member.input_value("#feed-link")
    path = feed_url.split("://", 1)[1].split("/", 1)[1]
    with urllib.request.urlopen(f"{live_server.url}/{path}", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/calendar")
        ics = response.read().decode()
    unfolded = ics.replace("\r\n ", "")
    assert f"SUMMARY:{EDITED}" in unfolded and "DTSTART;VALUE=DATE:20270320" in unfolded

    # Mark it done, reprocess the document: the edit and the done mark stay.
    owner.goto("/actions")
    with owner.expect_navigation():
        action_row(owner, EDITED).locator("button:has-text('Mark done')").click()
    assert action_row(owner, EDITED).count() == 0  # the open view no longer lists it
    owner.goto(f"/documents/{document_id}")
    with owner.expect_navigation():
        owner.click("button:has-text('Reprocess')")
    wait_done(owner, document_id)
    owner.goto("/actions?view=done")
    done = action_row(owner, EDITED)
    assert done.count() == 1 and "edited" in done.inner_text()
    assert done.locator("td").nth(2).inner_text().startswith("2027-03-20")
    owner.goto("/actions?view=all")
    assert action_row(owner, "revised budget by 12 March").count() == 0  # not re-added
    assert action_row(owner, "licence purchase order").count() == 1
