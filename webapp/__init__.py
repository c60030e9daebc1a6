"""PM Document Intelligence: the Flask application factory."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from inspect import CO_COROUTINE
from types import FunctionType
from typing import Any

from flask import Flask, g, request

from webapp import config as app_config


class App(Flask):
    """Flask, answering ``ensure_sync`` for a plain function without ``inspect`` (issue 15).

    Flask asks ``ensure_sync`` of every hook and view it calls (18 per API request), and
    ``inspect.iscoroutinefunction`` unwraps each one the long way (5 % of an API list's time in
    the web process). A plain ``def`` function or a method of one, with no coroutine flag and
    no coroutine mark, is what Flask would return as it is; anything else goes to Flask.
    """

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        target = getattr(func, "__func__", func)
        if (
            type(target) is FunctionType
            and not target.__code__.co_flags & CO_COROUTINE
            and not hasattr(target, "_is_coroutine_marker")
        ):
            return func
        return super().ensure_sync(func)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then the environment, then ``config``. No I/O happens here."""
    app = App(__name__, instance_relative_config=True)
    app.config.from_mapping(app_config.DEFAULTS)
    app.config.from_mapping(app_config.from_environment(os.environ))
    if config:
        app.config.from_mapping(config)
    app_config.finalise(app.config)
    from webapp import logs

    logs.init_app(app)  # LOG_FORMAT=json: one JSON object per line

    from webapp import inputs
    from webapp.extensions import csrf, db, login_manager, migrate

    inputs.init_app(app)  # first: NUL and stray line breaks are refused before anything reads them
    db.init_app(app)
    from webapp import database

    database.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(app.root_path, os.pardir, "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    from webapp.auth.sessions import CookieSessions

    app.session_interface = CookieSessions()

    from webapp import errors, ratelimit, tenancy
    from webapp.auth import identity

    tenancy.init_app(app)
    identity.init_app(app)
    errors.init_app(app)
    _request_id(app)
    _forbidden(app)

    from webapp.auth import bp as auth_bp
    from webapp.dashboard import bp as dashboard_bp
    from webapp.documents import bp as documents_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(documents_bp)
    from webapp.workspace import bp as workspace_bp

    app.register_blueprint(workspace_bp)
    workspace_bp_bell(app)

    from webapp.api import bp as api_bp
    from webapp.org import bp as org_bp

    app.register_blueprint(org_bp)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # bearer tokens only: a cookie never authenticates the API
    ratelimit.rate_limits.init_app(app)  # after the API blueprint: it hooks in after its auth

    from webapp.admin import bp as admin_bp
    from webapp.admin.cli import admin_cli

    app.register_blueprint(admin_bp)
    csrf.exempt(admin_bp)  # checked in the blueprint, after its 404 for non-admins
    app.cli.add_command(admin_cli)

    from webapp.tenancy_check import tenancy_cli
    from webapp.workspace.cli import workspace_cli

    app.cli.add_command(workspace_cli)

    app.cli.add_command(tenancy_cli)

    from workers import fairness
    from workers.setup import celery_init_app

    celery_init_app(app)
    fairness.init_app(app)

    from webapp import health, observe

    observe.init_app(app)  # request metrics and access lines, around the limiter's door
    health.init_app(app)  # /healthz, /readyz, /metrics: outermost, ahead of everything

    from webapp import proxy

    proxy.init_app(app)  # last: the outermost WSGI layer, so every layer sees the client's address
    return app


def workspace_bp_bell(app: Flask) -> None:
    """The bell's unread count in every page's header (one indexed count per page)."""
    from flask_login import current_user

    from webapp.workspace.notify import unread_count

    @app.context_processor
    def _bell() -> dict:
        def bell() -> int:
            if current_user and current_user.is_authenticated:
                return unread_count(current_user.id)
            return 0

        return {"unread_notifications": bell}


def _forbidden(app: Flask) -> None:
    """A forbidden act inside one's own organization: 403, as JSON under the API."""
    from flask import flash, jsonify, redirect, render_template

    from webapp import permissions

    permissions.init_app(app)

    @app.errorhandler(permissions.Forbidden)
    def forbidden(exc: permissions.Forbidden):  # type: ignore[no-untyped-def]
        accept = request.accept_mimetypes  # empty when not said: a page, as before
        if request.path.startswith("/api/") or (accept and not accept.accept_html):
            return jsonify(error={"code": exc.code, "message": exc.message}), 403
        back = permissions.page_to_return_to()
        if request.method == "POST" and back is not None:
            # A button pressed on a page: say why on that page, where the person is, instead
            # of a page of its own. Nothing was changed.
            flash(exc.message, "error")
            return redirect(back, 303)
        return render_template("errors/error.html", code=403, message=exc.message), 403


def _request_id(app: Flask) -> None:
    """Give every request an id (kept from X-Request-ID when sane) for logs and the audit."""
    from webapp.headers import SECURITY_HEADERS, content_security_policy, csp_nonce, request_id

    app.add_template_global(csp_nonce)

    @app.before_request
    def _assign() -> None:
        g.request_id = request_id(request.headers.get("X-Request-ID"))

    @app.after_request
    def _echo(response):  # type: ignore[no-untyped-def]
        response.headers["X-Request-ID"] = g.get("request_id", "")
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if response.mimetype == "text/html":  # a route may set a stricter one (the logo)
            response.headers.setdefault("Content-Security-Policy", content_security_policy())
        return response
