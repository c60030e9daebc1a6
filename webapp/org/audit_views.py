"""The audit log page and its CSV export: thin views over webapp.org.audit_services."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Response, abort, render_template, request, stream_with_context
from flask.typing import ResponseReturnValue
from flask_login import login_required

from webapp import permissions
from webapp.org import audit_sentences, audit_services, bp
from webapp.org.services import list_members


def _require_audit_viewer() -> None:
    permissions.require("audit.view")  # owners and admins (README, permission table)


@bp.get("/settings/audit")
@login_required
def audit_log() -> ResponseReturnValue:
    """The organization's audit events, newest first, filtered by action, actor and dates."""
    _require_audit_viewer()
    filters, errors = audit_services.parse_filter(request.args)
    page = audit_services.list_events(filters, page=request.args.get("page", 1, type=int))
    members = list_members()
    names = audit_sentences.names_for(page.items)
    return render_template(
        "org/audit.html",
        page=page,
        sentences={e.id: audit_sentences.describe(e, names) for e in page.items},
        actors={e.id: audit_sentences.actor_label(e, names) for e in page.items},
        filters=filters,
        errors=errors,
        actions=audit_services.known_actions(),
        members=members,
        names={m.id: m.email for m in members},
        system_actor=audit_services.SYSTEM_ACTOR,
    ), (400 if errors else 200)


@bp.get("/settings/audit.csv")
@login_required
def audit_csv() -> ResponseReturnValue:
    """The filtered events as a CSV file, streamed."""
    _require_audit_viewer()
    filters, errors = audit_services.parse_filter(request.args)
    if errors:
        abort(400, " ".join(errors))
    emails = {m.id: m.email for m in list_members()}
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    response = Response(
        stream_with_context(audit_services.iter_csv(filters, emails)),
        content_type="text/csv; charset=utf-8",
    )
    response.headers.set("Content-Disposition", "attachment", filename=f"audit-{stamp}.csv")
    response.headers["Cache-Control"] = "private, no-store"
    return response
