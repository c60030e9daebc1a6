"""Links that leave the site (invitation e-mails): built from configuration, never from the
request.

A request's ``Host`` header is whatever the client sent; a link built from it and mailed with
a valid secret would hand the secret to whoever chose the host. The base is ``PUBLIC_URL``
(e.g. ``https://pmdi.example.com``), else ``SERVER_NAME`` with ``PREFERRED_URL_SCHEME`` (and
``APPLICATION_ROOT``), else ``http://localhost`` with a warning in the log: wrong for the
people invited, but never chosen by a client. ``./scripts/run`` sets ``PUBLIC_URL`` to the
address it prints; docker-compose requires it.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import current_app

log = logging.getLogger(__name__)
FALLBACK = "http://localhost"


def public_base() -> str:
    """The configured external base URL of the site (scheme, host, optional path)."""
    config = current_app.config
    if config.get("PUBLIC_URL"):
        return str(config["PUBLIC_URL"]).rstrip("/")
    if config.get("SERVER_NAME"):
        scheme = config.get("PREFERRED_URL_SCHEME") or "http"
        root = (config.get("APPLICATION_ROOT") or "/").rstrip("/")
        return f"{scheme}://{config['SERVER_NAME']}{root}"
    if not current_app.extensions.get("pmdi_public_url_warned"):
        current_app.extensions["pmdi_public_url_warned"] = True
        log.warning("PUBLIC_URL is not set: e-mailed links point at %s", FALLBACK)
    return FALLBACK


def external_url(endpoint: str, **values: object) -> str:
    """An absolute URL of ``endpoint`` on the configured base, whatever the request said."""
    base = urlsplit(public_base())
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme
    )
    return adapter.build(endpoint, values, force_external=True)


def check_public_url(value: object) -> None:
    """Refuse a ``PUBLIC_URL`` that is not an http(s) URL with a host (at start-up)."""
    if value in (None, ""):
        return
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise RuntimeError(f"PUBLIC_URL must look like https://host[/path], not {value!r}")
