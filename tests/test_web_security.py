"""The web edge (issue 11 §7): a Content-Security-Policy on HTML pages that the templates
honour, and ProxyFix trusting exactly the one proxy in front when configured."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import text
from werkzeug.middleware.proxy_fix import ProxyFix

from tests.conftest import ROOT, login, make_app
from tests.test_browser import browser, live_server, new_page, sign_up  # noqa: F401 - fixtures
from webapp import config as app_config

TEMPLATES = ROOT / "webapp" / "templates"
NONCE_RE = re.compile(r"'nonce-([^']+)'")


def _policy(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    header = response.headers["Content-Security-Policy"]
    return {
        part.split()[0]: " ".join(part.split()[1:]) for part in header.split(";") if part.strip()
    }


def test_html_pages_carry_a_policy_without_unsafe_inline(client, make_org, login_as):
    page = client.get("/login")
    policy = _policy(page)
    assert policy["script-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in page.headers["Content-Security-Policy"]
    assert client.get("/no-such-page").headers["Content-Security-Policy"]
    member = login_as(make_org())
    assert "Content-Security-Policy" in member.get("/documents").headers
    # JSON is not a page: the API answers without one.
    assert "Content-Security-Policy" not in client.get("/api/v1/documents").headers


def test_an_inline_style_carries_the_nonce_of_its_response(make_org, login_as):
    member = login_as(make_org())
    page = member.get("/settings/usage")
    (nonce,) = NONCE_RE.findall(_policy(page)["style-src"])
    body = page.get_data(as_text=True)
    assert f'<style nonce="{nonce}">' in body
    again = member.get("/settings/usage")
    assert NONCE_RE.findall(_policy(again)["style-src"]) != [nonce]  # a new one each time


def test_the_templates_have_no_inline_script_handler_or_style_attribute():
    for path in TEMPLATES.rglob("*.html"):
        source = path.read_text()
        name = path.relative_to(TEMPLATES)
        for tag in re.findall(r"<script\b[^>]*>", source):
            assert "src=" in tag, f"{name}: inline script {tag}"
        assert not re.search(r"\son[a-z]+\s*=", source), f"{name}: an inline event handler"
        assert not re.search(r"\sstyle\s*=", source), f"{name}: a style attribute"
        for tag in re.findall(r"<style\b[^>]*>", source):
            assert "nonce=" in tag, f"{name}: a <style> without the nonce"
    scripts = (ROOT / "webapp" / "static").rglob("*.js")
    for path in scripts:
        source = path.read_text()
        assert "innerHTML" not in source and "eval(" not in source, path.name


def _login_ip(owner_engine, org_id: uuid.UUID) -> str:
    with owner_engine.connect() as conn:
        return conn.scalar(
            text(
                "SELECT ip FROM audit_events WHERE organization_id = :o AND action = 'auth.login' "
                "ORDER BY created_at DESC LIMIT 1"
            ),
            {"o": org_id},
        )


def test_without_a_proxy_configured_forwarded_headers_are_ignored(app, make_org, owner_engine):
    org = make_org()
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.9"
    assert login(client, org.email, org.password).status_code == 302
    assert _login_ip(owner_engine, org.org_id) == "198.51.100.7"


def test_behind_one_proxy_only_the_address_it_appended_is_trusted(services, make_org, owner_engine):
    proxied = make_app(services, PROXY_FIX_X_FOR=1, PROXY_FIX_X_PROTO=1)
    assert isinstance(proxied.wsgi_app, ProxyFix)
    assert (proxied.wsgi_app.x_for, proxied.wsgi_app.x_proto, proxied.wsgi_app.x_host) == (1, 1, 0)
    org = make_org()
    client = proxied.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.0.0.2"  # nginx
    # A client's own claim first, then the address nginx saw.
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "6.6.6.6, 203.0.113.9"
    assert login(client, org.email, org.password).status_code == 302
    assert _login_ip(owner_engine, org.org_id) == "203.0.113.9"


def test_proxy_settings_come_from_the_environment():
    found = app_config.from_environment({"PROXY_FIX_X_FOR": "1", "PROXY_FIX_X_PROTO": "1"})
    assert found == {"PROXY_FIX_X_FOR": 1, "PROXY_FIX_X_PROTO": 1}
    assert app_config.DEFAULTS["PROXY_FIX_X_FOR"] == 0


@pytest.mark.slow
def test_a_real_browser_applies_the_nonced_style_and_reports_no_violation(browser, new_page):  # noqa: F811
    """Chromium enforces the policy: the usage page's inline style (nonced) applies, and
    nothing of the site's own is refused on the pages walked."""
    page = new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    sign_up(page, "CSP Org")
    for path in ("/dashboard", "/documents", "/documents/upload", "/settings/members"):
        page.goto(path)
    page.goto("/settings/usage")
    width = page.eval_on_selector(".meters meter", "m => getComputedStyle(m).width")
    assert width == "192px"  # 12rem, set by the page's inline <style>
    assert violations == []
