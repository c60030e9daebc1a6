"""Dashboard pages."""

from pathlib import Path

from flask import Response, current_app, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from webapp.dashboard import bp
from webapp.org.services import list_members


@bp.get("/")
def home() -> ResponseReturnValue:
    """Send people to their dashboard, or to log in."""
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    return redirect(url_for("auth.login"))


@bp.get("/favicon.ico")
def favicon() -> ResponseReturnValue:
    """Clients that ask for /favicon.ico without reading the page's icon link get the SVG."""
    icon = Path(current_app.static_folder or "", "favicon.svg").read_bytes()  # 0.4 KB
    return Response(icon, mimetype="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


@bp.get("/dashboard")
@login_required
def index() -> ResponseReturnValue:
    """The organization at a glance."""
    return render_template(
        "dashboard/index.html", organization=current_user.organization, members=list_members()
    )
