"""Auth pages: thin views over webapp.auth.services."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user

from webapp import tenancy
from webapp.auth import account_links, bp, services
from webapp.auth.forms import (
    EmailChangeForm,
    ForgotPasswordForm,
    LoginForm,
    LogoutForm,
    NameForm,
    PasswordForm,
    ResetPasswordForm,
    SignupForm,
)


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
            return redirect(url_for("auth.profile"))
    elif form.errors:
        status = 400
    return render_template("auth/password.html", form=form), status


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password() -> ResponseReturnValue:
    """Ask for a reset link; the answer and the work done for it (a worker looks the address up)
    are the same whether or not the address has an account."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        try:
            account_links.request_password_reset(form.email.data, request.remote_addr)
        except services.TooManyAttempts as exc:
            form.form_errors.append(exc.message)
            page = render_template("auth/forgot.html", form=form, sent=None)
            return page, 429, {"Retry-After": str(exc.retry_after)}
        except account_links.ResetUnavailable as exc:
            form.form_errors.append(exc.message)
            return render_template("auth/forgot.html", form=form, sent=None), 503
        return render_template("auth/forgot.html", form=form, sent=form.email.data)
    status = 400 if form.errors else 200
    return render_template("auth/forgot.html", form=form, sent=None), status


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> ResponseReturnValue:
    """Choose a new password from a mailed link (once); every session of the account ends."""
    try:
        email = account_links.check_reset_link(token)
    except services.AuthError as exc:
        page = render_template("auth/link_refused.html", message=exc.message, retry="forgot")
        return page, 410 if not isinstance(exc, account_links.LinkUnknown) else 404
    form = ResetPasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            account_links.reset_password(token, form.password.data)
        except services.AuthError as exc:
            form.form_errors.append(exc.message)
            status = 400
        else:
            if current_user.is_authenticated:
                logout_user()  # the reset ended this browser's session too
            flash("Your password has been changed. Log in with the new one.", "success")
            return redirect(url_for("auth.login"))
    elif form.errors:
        status = 400
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return render_template("auth/reset.html", form=form, email=email), status, headers


def _profile(
    name_form: NameForm | None = None,
    email_form: EmailChangeForm | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    user = current_user._get_current_object()
    return render_template(
        "auth/profile.html",
        name_form=name_form or NameForm(formdata=None, name=user.name),
        email_form=email_form or EmailChangeForm(formdata=None),
        password_form=PasswordForm(formdata=None),
    ), status


@bp.get("/account")
@login_required
def profile() -> ResponseReturnValue:
    """One's own profile: name, e-mail address (changed by a confirmed link), password."""
    return _profile()


@bp.post("/account/name")
@login_required
def change_name() -> ResponseReturnValue:
    """Change one's own display name."""
    form = NameForm()
    if not form.validate_on_submit():
        return _profile(name_form=form, status=400)
    try:
        account_links.rename(current_user._get_current_object(), form.name.data)
    except services.AuthError as exc:
        form.name.errors.append(exc.message)
        return _profile(name_form=form, status=400)
    flash("Your name has been changed.", "success")
    return redirect(url_for("auth.profile"))


@bp.post("/account/email")
@login_required
def change_email() -> ResponseReturnValue:
    """Ask to move the account to a new address: a confirmation link goes there."""
    form = EmailChangeForm()
    if not form.validate_on_submit():
        return _profile(email_form=form, status=400)
    try:
        sent_to = account_links.request_email_change(
            current_user._get_current_object(),
            form.new_email.data,
            form.email_password.data,
            request.remote_addr,
        )
    except services.TooManyAttempts as exc:
        form.new_email.errors.append(exc.message)
        return _profile(email_form=form, status=429)
    except services.AuthError as exc:
        form.new_email.errors.append(exc.message)
        return _profile(email_form=form, status=400)
    flash(
        f"We sent a confirmation link to {sent_to}. Your address changes when you open it.",
        "success",
    )
    return redirect(url_for("auth.profile"))


@bp.route("/account/confirm-email/<token>", methods=["GET", "POST"])
def confirm_email(token: str) -> ResponseReturnValue:
    """Open the link sent to a new address, then confirm: the account moves to it (once).

    Opening the link changes nothing (mail scanners open links); the button does."""
    try:
        new_email = account_links.check_email_link(token)
    except services.AuthError as exc:
        page = render_template("auth/link_refused.html", message=exc.message, retry="profile")
        return page, 404 if isinstance(exc, account_links.LinkUnknown) else 410
    form = LogoutForm()  # a bare form: its CSRF token
    if form.validate_on_submit():
        try:
            user = account_links.confirm_email(token)
        except services.AuthError as exc:
            page = render_template("auth/link_refused.html", message=exc.message, retry="profile")
            return page, 404 if isinstance(exc, account_links.LinkUnknown) else 410
        flash(f"Your e-mail address is now {user.email}.", "success")
        if current_user.is_authenticated:
            return redirect(url_for("auth.profile"))
        return redirect(url_for("auth.login"))
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return render_template("auth/confirm_email.html", form=form, new_email=new_email), 200, headers
