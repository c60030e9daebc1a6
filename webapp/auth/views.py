"""Auth pages: thin views over webapp.auth.services."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user

from webapp import tenancy
from webapp.auth import bp, services
from webapp.auth.forms import LoginForm, LogoutForm, PasswordForm, SignupForm


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after log-in (a backslash is refused too:
    browsers read ``/\\host`` as ``//host``)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        if not urlsplit(target).netloc:
            return target
    return url_for("dashboard.index")


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> ResponseReturnValue:
    """Create an organization and its owner, then log the owner in."""
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = SignupForm()
    if form.validate_on_submit():
        try:
            user = services.register_organization(
                form.organization.data, form.name.data, form.email.data, form.password.data
            )
        except services.AuthError as exc:
            form.email.errors.append(exc.message)
        else:
            tenancy.set_current_org(user.organization_id)
            login_user(user)
            flash(f"Welcome! {user.organization.name} is ready.", "success")
            return redirect(url_for("dashboard.index"))
    status = 400 if form.errors else 200
    return render_template("auth/signup.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Log in with e-mail and password (throttled per account and per IP)."""
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data, request.remote_addr)
        except services.TooManyAttempts as exc:
            form.form_errors.append(exc.message)
            response = render_template("auth/login.html", form=form), 429
            return (*response, {"Retry-After": str(exc.retry_after)})
        except services.OrganizationSuspended as exc:
            form.form_errors.append(exc.message)
            status = 403
        except services.AuthError as exc:
            form.form_errors.append(exc.message)
            status = 401
        else:
            tenancy.set_current_org(user.organization_id)
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    elif form.errors:
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    """End the session (POST with a CSRF token)."""
    form = LogoutForm()
    if form.validate_on_submit():
        services.record_logout(current_user)
        logout_user()
        flash("You have been logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> ResponseReturnValue:
    """Change one's own password; every other session of the account ends."""
    form = PasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.change_password(
                current_user, form.current.data, form.password.data, request.remote_addr
            )
        except services.AuthError as exc:
            form.form_errors.append(exc.message)
            status = 400
        else:
            # The change ended every session, this one too: issue it again at the new generation.
            login_user(current_user._get_current_object())
            flash("Your password has been changed. Other sessions have been logged out.", "success")
            return redirect(url_for("dashboard.index"))
    elif form.errors:
        status = 400
    return render_template("auth/password.html", form=form), status
