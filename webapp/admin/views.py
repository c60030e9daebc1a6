"""Admin pages: thin views over webapp.admin.services.

The admin's identity lives under its own session key (never Flask-Login's), checked before
anything else: without it every route but the log-in is a 404, POSTs included (the global
CSRF hook is bypassed for this blueprint so that the 404 comes first; CSRF is then checked
here for every write).
"""

from __future__ import annotations

import time
import uuid

from flask import abort, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from wtforms.fields.choices import SelectChoice

from webapp import load, tenancy
from webapp.admin import bp, services
from webapp.admin.forms import LoginForm, OrganizationForm, PlanForm
from webapp.auth import sessions
from webapp.extensions import csrf
from webapp.models import PlatformAdmin
from webapp.plans import LIMIT_NAMES

SESSION_KEY = "platform_admin_id"
SESSION_AT = "platform_admin_at"
# The admin's session generation (webapp/auth/sessions.py): an admin's log-out ends every
# session of that admin, copies of the cookie included.
SESSION_VERSION = "platform_admin_version"
PUBLIC_ENDPOINTS = {"admin.login"}


def _signed_in() -> PlatformAdmin | None:
    """The platform admin this session names, if it is signed in and not ended since."""
    admin = services.signed_in_admin(session.get(SESSION_KEY), session.get(SESSION_AT))
    if admin is None or not sessions.admin_session_current(admin, session.get(SESSION_VERSION)):
        return None
    return admin


@bp.before_request
def _require_platform_admin() -> None:
    """404 unless a platform admin is signed in; then CSRF on writes; no tenant context."""
    if request.endpoint not in PUBLIC_ENDPOINTS:
        admin = _signed_in()
        if admin is None:
            abort(404)
        g.platform_admin = admin
        # Admin pages act on organizations only through the door, never as one of them.
        tenancy.set_current_org(None)
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


@bp.context_processor
def _admin_template_values() -> dict:
    return {"platform_admin": g.get("platform_admin"), "limit_names": LIMIT_NAMES}


@bp.app_template_filter("load_chart")
def _load_chart(values: list[int], label: str) -> object:
    """``{{ values | load_chart(label) }}``: a small server-rendered SVG bar chart."""
    return load.svg_chart(values, label)


@bp.app_template_filter("admin_limit")
def _admin_limit(value: object, name: str) -> str:
    """``{{ value | admin_limit(name) }}``: 10 MB, 600, unlimited."""
    return services.show_limit(name, value)


def _actor() -> services.Actor:
    return services.Actor.of_admin(g.platform_admin)


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Platform admin log-in (throttled per account and per IP, audited)."""
    if _signed_in():
        return redirect(url_for("admin.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            admin = services.authenticate_admin(
                form.email.data, form.password.data, request.remote_addr
            )
        except services.TooManyAttempts as exc:
            form.form_errors.append(exc.message)
            page = render_template("admin/login.html", form=form)
            return page, 429, {"Retry-After": str(exc.retry_after)}
        except services.AdminError as exc:
            form.form_errors.append(exc.message)
            status = 401
        else:
            # A fresh session: nothing of an earlier one (an organization log-in) carries over.
            session.clear()
            session[SESSION_KEY] = str(admin.id)
            session[SESSION_AT] = int(time.time())
            session[SESSION_VERSION] = admin.session_version or 0
            return redirect(url_for("admin.index"))
    elif form.errors:
        status = 400
    return render_template("admin/login.html", form=form), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """End the admin's sessions (POST with a CSRF token): this one and any copy of it."""
    sessions.end_admin_sessions(g.platform_admin)  # committed with the audit record below
    services.record_admin_logout(g.platform_admin)
    session.pop(SESSION_KEY, None)
    session.pop(SESSION_AT, None)
    session.pop(SESSION_VERSION, None)
    flash("You have been logged out of the admin area.", "info")
    return redirect(url_for("admin.login"))


@bp.get("/", strict_slashes=False)
def index() -> ResponseReturnValue:
    """Organizations, searchable by name, with plan, status, member and document counts."""
    page = services.list_organizations(request.args.get("q"), request.args.get("after"))
    return render_template("admin/organizations.html", page=page)


def _organization_form(detail: services.OrganizationDetail) -> OrganizationForm:
    overrides = detail.record.quota_overrides or {}
    data = {
        "plan_id": detail.record.plan_id,
        "status": detail.record.status,
        **{name: services.as_form_text(value) for name, value in overrides.items()},
    }
    form = OrganizationForm(data=data)
    form.plan_id.choices = [SelectChoice(p.id, p.name) for p in services.list_plans()]
    return form


def _detail_or_404(org_id: str) -> services.OrganizationDetail:
    try:
        return services.organization_detail(uuid.UUID(org_id))
    except (ValueError, services.NotFound):
        abort(404)


@bp.route("/organizations/<org_id>", methods=["GET", "POST"])
def organization(org_id: str) -> ResponseReturnValue:
    """One organization: change its plan, status and quota overrides; see effective limits."""
    detail = _detail_or_404(org_id)
    form = _organization_form(detail)
    status = 200
    if request.method == "POST":
        if form.validate():
            try:
                changes = services.update_organization(
                    _actor(),
                    detail.record.id,
                    plan_id=form.plan_id.data,
                    status=form.status.data,
                    overrides=form.limit_values(),
                    note=form.note.data or None,
                )
            except services.AdminError as exc:
                form.form_errors.append(exc.message)
                status = 400
            else:
                if changes:
                    flash(f"Saved {detail.record.name}: {_describe(changes)}.", "success")
                else:
                    flash("Nothing changed.", "info")
                return redirect(url_for("admin.organization", org_id=detail.record.id))
        else:
            status = 400
    return render_template(
        "admin/organization.html",
        detail=detail,
        form=form,
        load=services.organization_load(detail.record.id),
        figures=load.FIGURES.values(),
    ), status


def _describe(changes: list[str]) -> str:
    words = {
        "organization.plan_changed": "plan changed",
        "organization.suspended": "suspended",
        "organization.reactivated": "reactivated",
        "organization.overrides_changed": "quota overrides changed",
    }
    return ", ".join(words.get(c, c) for c in changes)


def _plan_forms() -> dict[str, PlanForm]:
    return {
        plan.id: PlanForm(
            prefix=plan.id,
            formdata=None,
            data={name: services.as_form_text(getattr(plan, name)) for name in LIMIT_NAMES},
        )
        for plan in services.list_plans()
    }


@bp.get("/plans")
def plans() -> ResponseReturnValue:
    """Every plan's limits, each editable."""
    return render_template("admin/plans.html", plans=services.list_plans(), forms=_plan_forms())


@bp.post("/plans/<plan_id>")
def update_plan(plan_id: str) -> ResponseReturnValue:
    """Save one plan's limits; organizations on it get them on their next request."""
    forms = _plan_forms()
    if plan_id not in forms:
        abort(404)
    form = PlanForm(prefix=plan_id)
    forms[plan_id] = form
    if form.validate():
        try:
            changed = services.update_plan(_actor(), plan_id, form.limit_values())
        except services.AdminError as exc:
            form.form_errors.append(exc.message)
        else:
            if changed:
                names = ", ".join(services.LIMIT_LABELS[name].lower() for name in changed)
                flash(f"Saved the {plan_id} plan: {names}.", "success")
            else:
                flash("Nothing changed.", "info")
            return redirect(url_for("admin.plans"))
    page = render_template("admin/plans.html", plans=services.list_plans(), forms=forms)
    return page, 400


@bp.get("/load")
def load_view() -> ResponseReturnValue:
    """Who loads the platform now: the top organizations of the last hour by each figure."""
    return render_template(
        "admin/load.html", table=services.load_top(60), figures=load.FIGURES.values()
    )


@bp.get("/audit")
def audit_log() -> ResponseReturnValue:
    """The newest platform audit events: who changed what, from what, to what."""
    return render_template("admin/audit.html", events=services.recent_events())
