"""Headers every response carries, whether Flask answered it or a WSGI middleware did."""

from __future__ import annotations

import uuid

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def request_id(given: str | None) -> str:
    """The client's X-Request-ID when sane (printable, at most 64 characters), else a new one."""
    given = given or ""
    return given if 0 < len(given) <= 64 and given.isprintable() else uuid.uuid4().hex
