"""Members page and invitation acceptance: thin views over webapp.org.members."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from webapp import quotas
from webapp.emails import MAX_EMAIL_LENGTH, EmailAddress
from webapp.models import ROLES
from webapp.org import bp, members
from webapp.permissions import rank


class InviteForm(FlaskForm):
    """An invitation: the e-mail to send it to and the role it grants."""

    email = EmailField(
        "E-mail",
        validators=[
            DataRequired(message="Enter an e-mail address."),
            Length(max=MAX_EMAIL_LENGTH),
            EmailAddress(),
        ],
    )
    role = SelectField("Role", choices=list(ROLES), default="member")


class RoleForm(FlaskForm):
    """A member's new role."""

    role = SelectField("Role", choices=list(ROLES))


class ActionForm(FlaskForm):
    """A POST button (remove, revoke, transfer) with its CSRF token."""


class AcceptForm(FlaskForm):
    """Joining by invitation: the invited e-mail (fixed), a name and a password."""

    email = EmailField("E-mail", render_kw={"readonly": True})
    name = StringField("Your name", validators=[DataRequired(), Length(1, 120)])
    password = PasswordField("Password", validators=[DataRequired()])
    confirm = PasswordField(
        "Repeat the password", validators=[EqualTo("password", message="Passwords differ.")]
    )


def _page(
    form: InviteForm | None = None,
    issued: members.IssuedInvitation | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    form = form or InviteForm(formdata=None)
    mine = rank(current_user.role)
    form.role.choices = [r for r in ROLES if rank(r) <= mine]
    response = render_template(
        "org/members.html",
        members=members.list_members(),
        invitations=members.list_pending_invitations(),
        form=form,
        role_form=RoleForm(formdata=None),
        action_form=ActionForm(formdata=None),
        grantable=[r for r in ROLES if rank(r) <= mine],
        issued=issued,
    )
    # The page may carry an invitation link (a secret): keep it out of every cache.
    return response, status, {"Cache-Control": "no-store"}


@bp.get("/settings/members")
@login_required
def members_page() -> ResponseReturnValue:
    """The organization's members and pending invitations; forms for those who manage them."""
    return _page()


@bp.post("/settings/members/invite")
@login_required
def invite_member() -> ResponseReturnValue:
    """Invite someone by e-mail with a role; the link is shown here once (and mailed)."""
    form = InviteForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    try:
        issued = members.invite(form.email.data or "", form.role.data or "", current_user.id)
    except (members.MemberError, quotas.QuotaExceeded) as exc:
        form.email.errors = [exc.message]
        return _page(form, status=exc.status)
    flash(f"Invited {issued.invitation.email} as {issued.invitation.role}.", "success")
    return _page(issued=issued)


def _act(action, *args) -> ResponseReturnValue:  # type: ignore[no-untyped-def]
    """Run a member service for a posted form; 404 for unknown ids, flash other refusals."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        message = action(*args)
    except (members.MemberNotFound, members.InvitationNotFound):
        abort(404)
    except members.MemberError as exc:
        flash(exc.message, "error")
        return _page(status=exc.status)
    flash(message, "success")
    return redirect(url_for("org.members_page"))


@bp.post("/settings/members/<user_id>/role")
@login_required
def change_member_role(user_id: str) -> ResponseReturnValue:
    """Give a member another role."""
    role = RoleForm().role.data or ""

    def change() -> str:
        member = members.change_role(user_id, role, current_user.id)
        return f"{member.name} is now {member.role}."

    return _act(change)


@bp.post("/settings/members/<user_id>/remove")
@login_required
def remove_member(user_id: str) -> ResponseReturnValue:
    """Remove a member from the organization."""

    def remove() -> str:
        return f"Removed {members.remove_member(user_id, current_user.id).name}."

    return _act(remove)


@bp.post("/settings/members/<user_id>/transfer")
@login_required
def transfer_ownership(user_id: str) -> ResponseReturnValue:
    """Make another member the owner (you become an admin)."""

    def transfer() -> str:
        member = members.transfer_ownership(user_id, current_user.id)
        login_user(current_user._get_current_object())  # the transfer ended this session too
        return f"{member.name} now owns the organization; you are an admin."

    return _act(transfer)


@bp.post("/settings/invitations/<invitation_id>/revoke")
@login_required
def revoke_invitation(invitation_id: str) -> ResponseReturnValue:
    """Revoke a pending invitation: its link stops working."""

    def revoke() -> str:
        invitation = members.revoke_invitation(invitation_id, current_user.id)
        return f"Revoked the invitation of {invitation.email}."

    return _act(revoke)


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept_invitation(token: str) -> ResponseReturnValue:
    """Join an organization by invitation: choose a name and a password."""
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    try:
        invitation = members.inspect_invitation(token)
    except members.InvitationNotFound:
        abort(404)
    except members.MemberError as exc:
        page = render_template("org/accept_invitation.html", refusal=exc.message)
        return page, exc.status, headers
    if current_user.is_authenticated:
        refusal = "You are logged in. Log out first, then open the invitation link again."
        return render_template("org/accept_invitation.html", refusal=refusal), 409, headers
    form = AcceptForm()
    if not form.is_submitted():
        form.email.data = invitation.email
    status = 200
    if form.validate_on_submit():
        try:
            user = members.accept_invitation(
                token, form.email.data or "", form.name.data or "", form.password.data or ""
            )
        except members.InvitationNotFound:
            abort(404)
        except (members.MemberError, quotas.QuotaExceeded) as exc:
            form.email.errors = [exc.message]
            status = exc.status
        else:
            login_user(user)
            flash(f"Welcome to {invitation.organization}.", "success")
            return redirect(url_for("dashboard.index"))
    elif form.is_submitted():
        status = 400
    page = render_template("org/accept_invitation.html", form=form, invitation=invitation)
    return page, status, headers
