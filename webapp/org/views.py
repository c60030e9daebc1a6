"""Organization settings pages: thin views over the services."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from webapp import quotas
from webapp.api import tokens
from webapp.documents import trash
from webapp.org import bp
from webapp.org.forms import CreateTokenForm, RevokeTokenForm
from webapp.org.services import list_members


def _token_page(
    form: CreateTokenForm, issued: tokens.IssuedToken | None = None, status: int = 200
) -> ResponseReturnValue:
    manages_all = tokens.manages_all_tokens(current_user)
    response = render_template(
        "org/api_tokens.html",
        form=form,
        tokens=tokens.tokens_visible_to(current_user),
        issued=issued,
        shown_as=tokens.shown_as,
        owners={m.id: m.name for m in list_members()} if manages_all else {},
    )
    # The page may carry a token's only plaintext: keep it out of every cache.
    return response, status, {"Cache-Control": "no-store"}


@bp.get("/settings/api-tokens")
@login_required
def api_tokens() -> ResponseReturnValue:
    """The API tokens (name, how it starts and ends, created, last used, revoked); a new one."""
    return _token_page(CreateTokenForm())


@bp.post("/settings/api-tokens")
@login_required
def create_api_token() -> ResponseReturnValue:
    """Issue a token acting as the current user; its plaintext is shown this once."""
    form = CreateTokenForm()
    if not form.validate_on_submit():
        return _token_page(form, status=400)
    issued = tokens.create_token(current_user, form.name.data)
    return _token_page(CreateTokenForm(formdata=None), issued=issued)


@bp.post("/settings/api-tokens/<token_id>/revoke")
@login_required
def revoke_api_token(token_id: str) -> ResponseReturnValue:
    """Revoke a token; calls made with it fail from now on."""
    if RevokeTokenForm().validate_on_submit():
        try:
            token = tokens.revoke_visible_token(current_user, token_id)
        except tokens.TokenNotFound:
            abort(404)
        flash(f"Revoked “{token.name}”; it no longer works.", "success")
    return redirect(url_for("org.api_tokens"))


@bp.get("/settings/usage")
@login_required
def usage() -> ResponseReturnValue:
    """The organization's usage: a meter per hard quota, the rate limits, the plan."""
    return render_template(
        "org/usage.html",
        summary=quotas.usage_summary(),
        windows=quotas.rate_windows(),
        trash=trash.summary(),
    )
