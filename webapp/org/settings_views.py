"""Settings, branding, export and deletion pages: thin views over branding and lifecycle."""

from __future__ import annotations

import uuid
from typing import Any

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, Optional

from webapp.org import bp, branding, lifecycle
from webapp.permissions import allows


class SettingsForm(FlaskForm):
    """Display name for every plan; colour and logo where the plan allows branding."""

    display_name = StringField("Display name", validators=[DataRequired(), Length(1, 120)])
    primary = StringField("Primary colour", validators=[Optional()])
    logo = FileField("Logo (PNG, at most 200 KB)")
    remove_logo = BooleanField("Remove the logo")
    ocr_language = StringField("OCR language", validators=[Optional(), Length(3, 70)])


class ConfirmForm(FlaskForm):
    """A POST button (CSRF token only)."""


class DeleteForm(FlaskForm):
    """The owner types the organization's name to confirm."""

    confirm_name = StringField("Organization name", validators=[DataRequired()])


class RestoreForm(FlaskForm):
    """The owner of an organization awaiting deletion proves who they are."""

    email = EmailField("E-mail", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


def _error_page(error: lifecycle.LifecycleError) -> ResponseReturnValue:
    return (
        render_template("errors/error.html", code=error.status, message=error.message),
        error.status,
    )


@bp.app_context_processor
def _branding_context() -> dict[str, Any]:
    """``brand`` in every template: the signed-in organization's own branding, or None."""
    if not current_user.is_authenticated:
        return {"brand": None}
    return {"brand": branding.branding_of(current_user.organization)}


@bp.before_app_request
def _pending_deletion_notice() -> ResponseReturnValue | None:
    """A signed-out member of an organization awaiting deletion sees when, and how to restore."""
    if request.blueprint == "api":
        return None  # a page's notice; the API refuses such an organization's tokens itself
    identity = session.get("_user_id")
    if not identity or current_user.is_authenticated or request.endpoint in ("static", None):
        return None
    try:
        org_id = uuid.UUID(str(identity).partition(":")[0])
    except ValueError:
        return None
    pending = lifecycle.pending_deletion_of(org_id)
    if pending is None:
        return None
    logout_user()
    return render_template("org/deleted.html", pending=pending, form=RestoreForm()), 403


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings() -> ResponseReturnValue:
    """The organization's display name and, on plans that allow it, its colour and logo."""
    try:
        branding.require_settings_role(current_user)
    except lifecycle.LifecycleError as error:
        return _error_page(error)
    org = current_user.organization
    form = SettingsForm(
        data={
            "display_name": org.name,
            "ocr_language": (org.settings or {}).get("ocr_language", "eng"),
            **_branding_defaults(org),
        }
    )
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            upload = form.logo.data
            logo = upload.read(branding.MAX_LOGO_BYTES + 1) if upload else None
            try:
                branding.update_settings(
                    current_user,
                    display_name=form.display_name.data,
                    primary=form.primary.data or None,
                    logo=logo or None,
                    remove_logo=bool(form.remove_logo.data),
                    ocr_language=form.ocr_language.data or None,
                )
            except lifecycle.LifecycleError as error:
                flash(error.message, "error")
                status = 400
            else:
                flash("Settings saved.", "success")
                return redirect(url_for("org.settings"))
        else:
            status = 400
    return (
        render_template(
            "org/settings.html",
            form=form,
            org=org,
            allowed=branding.branding_allowed(org),
            current=branding.branding_of(org),
        ),
        status,
    )


def _branding_defaults(org: Any) -> dict[str, str]:
    colour = branding.branding_of(org).primary
    return {"primary": colour} if colour else {}


@bp.get("/branding/logo/<logo_version>")
@login_required
def logo(logo_version: str) -> ResponseReturnValue:
    """The organization's logo (PNG, nosniff); 404 for any other version or organization."""
    data = branding.logo_bytes(logo_version)
    if data is None:
        abort(404)
    response = Response(data, mimetype="image/png")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, max-age=86400"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response


@bp.route("/settings/export", methods=["GET", "POST"])
@login_required
def export() -> ResponseReturnValue:
    """Start an export (owner) and watch its progress; finished ones offer a download."""
    if not allows(current_user.role, "organization.export"):
        return _error_page(lifecycle.NotAllowed("Only the organization's owner can export it."))
    form = ConfirmForm()
    if request.method == "POST":
        if form.validate_on_submit():
            lifecycle.request_export(current_user)
            flash("Export started. This page updates as it progresses.", "success")
            return redirect(url_for("org.export"))
        abort(400)
    exports = lifecycle.list_exports()
    from webapp.models import utcnow

    return render_template(
        "org/export.html",
        form=form,
        exports=exports,
        now=utcnow(),
        active=any(e.status in ("queued", "running") for e in exports),
    )


@bp.get("/settings/export/<export_id>/download")
@login_required
def download_export(export_id: str) -> ResponseReturnValue:
    """Download a finished export while its link is valid (owner only)."""
    try:
        export = lifecycle.downloadable_export(current_user, export_id)
    except lifecycle.LifecycleError as error:
        return _error_page(error)
    name = f"export-{export.organization_id}-{export.created_at:%Y%m%d}.zip"
    return Response(
        stream_with_context(lifecycle.iter_export(export)),
        mimetype="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Content-Length": str(export.size_bytes or 0),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@bp.route("/settings/delete", methods=["GET", "POST"])
@login_required
def delete_organization() -> ResponseReturnValue:
    """Delete the organization (owner types its name); restorable during the grace period."""
    if not allows(current_user.role, "organization.delete"):
        return _error_page(lifecycle.NotAllowed("Only the organization's owner can delete it."))
    form = DeleteForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                when = lifecycle.request_deletion(current_user, form.confirm_name.data)
            except lifecycle.LifecycleError as error:
                flash(error.message, "error")
                status = error.status
            else:
                logout_user()
                flash(
                    f"The organization will be deleted on {when:%Y-%m-%d %H:%M} UTC. Until then "
                    "its owner can restore it on this page.",
                    "info",
                )
                return redirect(url_for("org.restore"))
        else:
            status = 400
    return (
        render_template(
            "org/delete.html",
            form=form,
            grace_days=lifecycle.grace_period().days,
        ),
        status,
    )


@bp.route("/organization/restore", methods=["GET", "POST"])
def restore() -> ResponseReturnValue:
    """Restore an organization awaiting deletion: its owner signs in with e-mail and password."""
    from webapp.auth.services import AuthError

    form = RestoreForm()
    status = 200
    pending = None
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                pending = lifecycle.restore_with_credentials(form.email.data, form.password.data)
            except AuthError as error:
                flash(error.message, "error")
                status = 401
            else:
                if pending.is_owner:
                    flash(
                        f"{pending.organization_name} is restored. Log in to continue.", "success"
                    )
                    return redirect(url_for("auth.login"))
                status = 403
        else:
            status = 400
    return render_template("org/deleted.html", pending=pending, form=form), status
