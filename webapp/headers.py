"""Headers every response carries, whether Flask answered it or a WSGI middleware did."""

from __future__ import annotations

import secrets
import uuid

from flask import g

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def request_id(given: str | None) -> str:
    """The client's X-Request-ID when sane (printable, at most 64 characters), else a new one."""
    given = given or ""
    return given if 0 < len(given) <= 64 and given.isprintable() else uuid.uuid4().hex


# HTML pages run only the site's own scripts and styles. The two inline <style> blocks (the
# organization's colour in base.html, the usage meters) carry the request's nonce; there is
# no inline script, event handler or style attribute (tests/test_web_security.py reads the
# templates). Forms post only to the site; nothing may frame it.
CSP_TEMPLATE = (
    "default-src 'self'; script-src 'self'; style-src 'self'{style_nonce}; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def csp_nonce() -> str:
    """This request's nonce for inline ``<style>`` (``{{ csp_nonce() }}`` in templates)."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(16)
    return nonce


def content_security_policy() -> str:
    """The policy of an HTML page, with the nonce if the page used one."""
    nonce = g.get("csp_nonce")
    return CSP_TEMPLATE.format(style_nonce=f" 'nonce-{nonce}'" if nonce else "")
