"""Behind a reverse proxy: take the client's address and scheme from exactly that proxy.

``remote_addr`` feeds the per-address rate limits, the log-in throttle and the audit log. Behind
nginx (docker-compose.yml) the socket's address is the proxy's, so every client would share
one budget; trusting ``X-Forwarded-For`` blindly would let any client claim any address. With
``PROXY_FIX_X_FOR=1`` (and ``PROXY_FIX_X_PROTO=1``) the app trusts the last hop only — the
value the one proxy in front appended — and ignores whatever a client put before it. Off by
default: the one-command run has no proxy in front.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def init_app(app: Flask) -> None:
    """Wrap the WSGI app in ProxyFix when proxies are configured (call it last)."""
    x_for = int(app.config.get("PROXY_FIX_X_FOR") or 0)
    x_proto = int(app.config.get("PROXY_FIX_X_PROTO") or 0)
    if x_for or x_proto:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=x_for, x_proto=x_proto, x_host=0, x_port=0, x_prefix=0
        )
