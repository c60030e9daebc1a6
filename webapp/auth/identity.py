"""Flask-Login wiring: the authenticated identity is what sets the tenant context."""

from __future__ import annotations

from flask import Flask, g, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, logout_user
from sqlalchemy import select

from webapp import tenancy
from webapp.auth.sessions import parse_identity
from webapp.extensions import db, login_manager
from webapp.models import User
from webapp.workspace.notify import unread_count_of


@login_manager.user_loader
def load_user(identity: str) -> User | None:
    """Load ``org:user:generation`` from the signed session; sets the organization for the
    request. A session of an earlier generation (ended by log-out, a password or role change)
    is refused, checked on the row loaded here anyway (webapp/auth/sessions.py)."""
    parsed = parse_identity(identity)
    if parsed is None:
        return None
    tenancy.set_current_org(parsed.org_id)
    # The bell's unread count rides on the same statement (no round trip of its own per page).
    row = db.session.execute(
        select(User, unread_count_of(User.id)).where(
            User.organization_id == parsed.org_id, User.id == parsed.user_id
        )
    ).first()
    user, g.unread_notifications = row if row is not None else (None, 0)
    if user is not None and user.session_version != parsed.version:
        tenancy.set_current_org(None)
        return None
    if user is not None and user.is_active and user.organization.status == "suspended":
        g.suspended_org = user.organization.name  # the page says why, not just "log in"
    if user is None or not user.is_active or user.organization.status != "active":
        tenancy.set_current_org(None)
        return None
    return user


def init_app(app: Flask) -> None:
    """Resolve the identity at the start of each request, before any view queries."""
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see this page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @app.before_request
    def _resolve_identity() -> ResponseReturnValue | None:
        if request.blueprint == "api":
            # A cookie never authenticates the API (webapp/api/auth.py): nobody is loaded
            # from it, so the request reads no session, cookie or user row for nothing.
            login_manager._update_request_context_with_user()  # anonymous, as for no cookie
            return None
        # Touching current_user runs load_user, which sets the tenant context.
        _ = current_user.is_authenticated
        suspended = g.pop("suspended_org", None)
        if suspended is not None and request.blueprint != "api" and request.endpoint != "static":
            # Signed out now; this request (and only this one) explains why.
            logout_user()
            return render_template("errors/suspended.html", organization=suspended), 403
        return None
