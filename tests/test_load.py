"""The platform admins' load view (issue 13 §4): per-organization counters, page, CLI, charts."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from flask import Flask

from tests.conftest import Services, make_app, upload
from tests.test_admin import admin_login, platform_admin  # noqa: F401 - a fixture
from tests.test_browser import browser, live_server, new_page, screenshot  # noqa: F401
from tests.test_ratelimit import api_token, client_for, set_overrides_and_wait
from webapp import load
from webapp.admin import services
from webapp.extensions import db


@pytest.fixture(scope="module")
def limited_app(services: Services) -> Flask:
    """Rate limits (and so the load counters) on, the burst window off."""
    return make_app(services, RATELIMIT_ENABLED=True, RATELIMIT_BURST_SECONDS=0)


@pytest.fixture
def fresh_index(limited_app: Flask) -> None:
    """Forget which organizations were active before this test (earlier runs on this Redis
    leave theirs for 24 h): only the organizations the test makes can then be on top."""
    limited_app.extensions["ratelimits"].windows.client.delete(load.ACTIVE_KEY)


def flood(app: Flask, owner_engine: Any, org: Any, requests: int, limit: int) -> None:
    """``requests`` API list requests by ``org`` under a limit of ``limit`` per minute."""
    token = api_token(app, org)
    set_overrides_and_wait(app, owner_engine, org, requests_per_minute=limit)
    client = client_for(app)
    auth = {"Authorization": f"Bearer {token}"}
    statuses = [client.get("/api/v1/documents", headers=auth).status_code for _ in range(requests)]
    assert statuses.count(200) == min(requests, limit)


def test_after_a_flood_the_counters_show_the_flooder_on_top(
    limited_app,
    make_org,
    owner_engine,
    platform_admin,  # noqa: F811
    fresh_index,
):
    flooder, quiet = make_org("Flooder"), make_org("Quiet")
    flood(limited_app, owner_engine, flooder, requests=160, limit=20)
    flood(limited_app, owner_engine, quiet, requests=3, limit=20)
    with limited_app.test_request_context():
        table = services.load_top(60, count=1000)
        db.session.remove()
    by_id = {name: {row.org_id: row for row in rows} for name, rows in table.top.items() if rows}
    mine = by_id["requests"][str(flooder.org_id)]
    assert mine.totals["requests"] == 160 and mine.totals["refusals"] == 140
    assert by_id["requests"][str(quiet.org_id)].totals["requests"] == 3
    assert str(quiet.org_id) not in by_id["refusals"]  # no refusal: not ranked by it
    assert table.top["refusals"][0].org_id == str(flooder.org_id)  # the top refuser
    requests = [row.org_id for row in table.top["requests"]]
    assert requests.index(str(flooder.org_id)) < requests.index(str(quiet.org_id))
    assert mine.name == "Flooder" and sum(mine.series["requests"]) == 160

    # One upload of the flooder's, for its usage history and its uploads figure.
    owner = client_for(limited_app, flooder)
    assert upload(owner, (f"minutes {uuid.uuid4()}".encode(), "minutes.txt")).status_code == 200

    # The admin page lists it first under refusals, linked to its limits form, with a chart.
    client = limited_app.test_client()
    assert admin_login(client, platform_admin.email, platform_admin.password).status_code == 302
    page = client.get("/admin/load")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    refusals = body.split('id="top-refusals"', 1)[1].split("</section>", 1)[0]
    first = refusals.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    assert f'/admin/organizations/{flooder.org_id}#limits">Flooder</a>' in first
    assert "<svg" in first
    # The charts need no script: the page carries only the site's own menu script.
    assert re.findall(r"<script[^>]*>", body) == ['<script src="/static/site.js" defer>']

    # Its own page: the last 24 h next to its limits, and its monthly usage history.
    detail = client.get(f"/admin/organizations/{flooder.org_id}").get_data(as_text=True)
    row = detail.split('id="load-refusals"', 1)[1].split("</tr>", 1)[0]
    assert "<td>140</td>" in row and "<svg" in row
    assert 'id="limits"' in detail and "Monthly usage" in detail
    history = detail.split('id="usage-history"', 1)[1].split("</table>", 1)[0]
    this_month = time.strftime("%Y-%m", time.gmtime())
    assert f"<tr><td>{this_month}</td><td>1</td>" in history  # the one upload
    uploads = detail.split('id="load-uploads"', 1)[1].split("</tr>", 1)[0]
    assert "<td>1</td>" in uploads  # and in its load counters


def test_flask_admin_top_prints_the_same_table(limited_app, make_org, owner_engine, fresh_index):
    flooder = make_org("Top Printer")
    quiet = make_org("Top Quiet")
    flood(limited_app, owner_engine, quiet, requests=30, limit=10)
    flood(limited_app, owner_engine, flooder, requests=150, limit=10)
    result = limited_app.test_cli_runner().invoke(args=["admin", "top", "--count", "1000"])
    assert result.exit_code == 0, result.output
    refusals = result.output.split("Refusals (429)", 1)[1].split("\n\n", 1)[0]
    first = refusals.strip().splitlines()[0]
    assert "Top Printer" in first and str(flooder.org_id) in first and " 140 " in first
    assert "Top Quiet" in refusals.strip().splitlines()[1]  # 20 refused: second
    bad = limited_app.test_cli_runner().invoke(args=["admin", "top", "--minutes", "0"])
    assert bad.exit_code != 0 and "--minutes must be 1 to 1440" in bad.output


def test_the_load_view_is_for_platform_admins_only(limited_app, make_org, owner_engine):
    """A member (even the owner) of an organization gets the admin area's 404, like anyone
    signed out; the page names nobody to them."""
    org = make_org()
    client = client_for(limited_app, org)
    for path in ("/admin/load", f"/admin/organizations/{org.org_id}"):
        assert client.get(path).status_code == 404, path
        assert limited_app.test_client().get(path).status_code == 404, path


def test_workers_count_processed_parked_and_seconds(app, make_org):
    """The fairness scripts write the processing figures in the calls they already make."""
    slots = app.extensions["fairness"]
    org_id = str(uuid.uuid4())
    assert slots.admit(org_id, 1, "d1") is True
    assert slots.admit(org_id, 1, "d2") is False  # parked
    assert slots.admit(org_id, 1, "d3") is False  # parked
    assert slots.finish(org_id, "d1", processed_seconds=1.25) == "d2"
    assert slots.finish(org_id, "d2", processed_seconds=0.5) == "d3"
    assert slots.finish(org_id, "d3") is None  # not processed (missing, say): not counted
    (series,) = load.read_series(slots.client, [org_id], 5)
    assert sum(series.values["parked"]) == 2
    assert sum(series.values["processed"]) == 2
    assert series.total("processing_seconds") == pytest.approx(1.75)
    assert org_id in load.active_organizations(slots.client, 5)
    key = load.load_key(org_id, int(time.time() // 3600))
    assert 24 * 3600 < slots.client.ttl(key) <= 25 * 3600  # kept 24 h, then gone


# --- in a browser --------------------------------------------------------------------------


@pytest.mark.slow
def test_load_page_in_a_browser(
    new_page,  # noqa: F811
    live_server,  # noqa: F811
    app,
    make_org,
    platform_admin,  # noqa: F811
):
    """A platform admin opens /admin/load in Chromium after an organization floods the API."""
    org = make_org(f"Browser Flood {uuid.uuid4().hex[:6]}")
    token = api_token(app, org)
    refused = 0
    for _ in range(40):  # the free plan: 60 a minute, at most 10 in a second
        request = urllib.request.Request(
            f"{live_server.url}/api/v1/documents", headers={"Authorization": f"Bearer {token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                json.load(response)
        except urllib.error.HTTPError as exc:
            assert exc.code == 429
            refused += 1
    page = new_page()
    page.goto("/admin/login")
    page.fill("#email", platform_admin.email)
    page.fill("#password", platform_admin.password)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")
    page.click("header nav a:has-text('Load')")
    page.wait_for_url("**/admin/load")
    requests = page.locator("#top-requests")
    assert requests.locator("svg.load-chart").count() >= 1
    link = requests.locator(f"a:has-text('{org.name}')")
    assert link.count() == 1
    if refused:
        assert page.locator(f"#top-refusals a:has-text('{org.name}')").count() == 1
    # Server-rendered charts: no script but the site's own menu one.
    assert page.locator("script:not([src='/static/site.js'])").count() == 0
    screenshot(page, "admin-load")
    link.click()
    page.wait_for_url(f"**/admin/organizations/{org.org_id}#limits")
    assert page.locator("#load-requests svg.load-chart").count() == 1
    assert page.locator("#limits").count() == 1
    screenshot(page, "admin-organization-load")
