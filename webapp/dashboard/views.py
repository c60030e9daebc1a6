"""Dashboard pages."""

from pathlib import Path

from flask import Response, current_app, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from webapp import quotas
from webapp.dashboard import bp
from webapp.documents.services import DocumentFilter, list_documents
from webapp.org.services import list_members
from webapp.workspace import items
from webapp.workspace.views import today


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
    """The manager's start page: my open actions, what is overdue, recent documents, usage."""
    now = today()
    mine, mine_total, _, _ = items.list_actions(
        items.ActionFilter(view="open", member_id=current_user.id), now, per_page=8
    )
    overdue, overdue_total, _, _ = items.list_actions(
        items.ActionFilter(view="overdue"), now, per_page=5
    )
    recent = list_documents(DocumentFilter(), page=1, per_page=8)
    return render_template(
        "dashboard/index.html",
        organization=current_user.organization,
        mine=mine,
        mine_total=mine_total,
        counts=items.open_counts(current_user.id, now),
        overdue=overdue,
        overdue_total=overdue_total,
        recent=recent.items,
        summary=quotas.usage_summary(),
        members=list_members(),
        open_by_member=items.open_by_member(now),
        today=now,
    )
