"""Members and invitations: roles, invitations by e-mail, acceptance, removal, ownership.

Every act is checked against the permission table (webapp/permissions.py) and audited. An
invitation link reads ``/invitations/<org hex>_<invitation hex>_<secret>``: like an API token,
it names its organization, so acceptance (by a person who is not logged in) sets that tenant
context before an ordinary RLS-guarded lookup; only a SHA-256 of the 256-bit secret is stored
and compared in constant time. A link is single-use (the row is locked while it is accepted),
expires (``INVITATION_DAYS``, 7 by default) and can be revoked. A pending invitation holds a
member seat (webapp/quotas.py).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from webapp import audit, links, mail, permissions, quotas, tenancy
from webapp.auth import sessions
from webapp.auth.services import hasher, normalise_email
from webapp.extensions import db
from webapp.models import ROLES, Invitation, User, utcnow
from webapp.names import clean_name
from webapp.permissions import Forbidden, rank


class MemberError(Exception):
    """A refusal about members or invitations, with a message a person understands."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MemberNotFound(MemberError):
    status = 404

    def __init__(self) -> None:
        super().__init__("There is no such member.")


class LastOwner(MemberError):
    status = 409

    def __init__(self) -> None:
        super().__init__("An organization needs at least one owner: make someone else owner first.")


class InvitationNotFound(MemberError):
    """No such invitation, or the link's secret is wrong: 404 either way."""

    status = 404

    def __init__(self) -> None:
        super().__init__("This invitation link is not valid.")


class InvitationUnusable(MemberError):
    """The link was right but can no longer be used (accepted, revoked, expired)."""

    status = 410


class InvitationRefused(MemberError):
    """The invitation cannot be created or accepted as asked."""


@dataclass(frozen=True)
class IssuedInvitation:
    """A new invitation, its link (shown to the inviting admin once) and whether mail went."""

    invitation: Invitation
    link: str
    mailed: bool


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _check_role(role: str, actor: User | None) -> None:
    if role not in ROLES:
        raise InvitationRefused(f"Choose one of the roles: {', '.join(ROLES)}.")
    if actor is not None and rank(role) > rank(actor.role):
        raise Forbidden(f"You cannot grant the role {role}: it is above your own ({actor.role}).")


def list_members() -> list[User]:
    """Members of the current organization, oldest first."""
    return list(db.session.scalars(select(User).order_by(User.created_at, User.email)))


def get_member(user_id: object) -> User:
    """One member of the current organization, or ``MemberNotFound``."""
    key = _uuid(user_id)
    member = db.session.get(User, (tenancy.require_org_id(), key)) if key else None
    if member is None:
        raise MemberNotFound()
    return member


def _owner_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(User.role == "owner"))


def list_pending_invitations() -> list[Invitation]:
    """Invitations not yet accepted, revoked or expired, newest first."""
    return list(
        db.session.scalars(
            select(Invitation)
            .where(
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > func.now(),
            )
            .order_by(Invitation.created_at.desc())
        )
    )


def invite(email: str, role: str, actor_id: uuid.UUID | None) -> IssuedInvitation:
    """Invite ``email`` with ``role`` (not above the inviter's); mails the link; audited."""
    actor = permissions.require("member.invite")
    _check_role(role, actor)
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise InvitationRefused("Enter the e-mail address of the person to invite.")
    if tenancy.email_exists(email):
        raise InvitationRefused(f"{email} already has an account; each e-mail joins one place.")
    quotas.check_members(1)  # takes the usage lock: concurrent invitations queue here
    already = db.session.scalar(
        select(Invitation).where(
            func.lower(Invitation.email) == email,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > func.now(),
        )
    )
    if already is not None:
        db.session.rollback()
        raise InvitationRefused(f"{email} already has a pending invitation; revoke it first.")
    secret = secrets.token_urlsafe(32)
    invitation = Invitation(
        id=uuid.uuid4(),
        email=email,
        role=role,
        token_hash=_hash(secret),
        invited_by=actor_id,
        expires_at=utcnow() + timedelta(days=int(current_app.config["INVITATION_DAYS"])),
    )
    db.session.add(invitation)
    db.session.flush()
    audit.record(
        "member.invited",
        actor_id=actor_id,
        target_type="invitation",
        target_id=invitation.id,
        details={"email": email, "role": role},
    )
    db.session.commit()
    token = f"{invitation.organization_id.hex}_{invitation.id.hex}_{secret}"
    # From configuration, never the request's Host: the mailed secret goes where we say.
    link = links.external_url("org.accept_invitation", token=token)
    org_name = clean_name(invitation_organization_name())  # one line: it is in the subject
    mailed = mail.send(
        email,
        f"You are invited to join {org_name}",
        f"You have been invited to join {org_name} on PM Document Intelligence as {role}.\n\n"
        f"Choose your name and password here (the link works once, until "
        f"{invitation.expires_at:%Y-%m-%d %H:%M} UTC):\n{link}\n",
    )
    return IssuedInvitation(invitation, link, mailed)


def invitation_organization_name() -> str:
    """The name of the organization in context (for the invitation's words)."""
    return tenancy.current_organization().name


def revoke_invitation(invitation_id: object, actor_id: uuid.UUID | None) -> Invitation:
    """Revoke a pending invitation so its link stops working; audited."""
    permissions.require("member.invite")
    key = _uuid(invitation_id)
    invitation = db.session.get(Invitation, (tenancy.require_org_id(), key)) if key else None
    if invitation is None:
        raise InvitationNotFound()
    if invitation.accepted_at is not None:
        raise InvitationRefused("This invitation was already accepted; remove the member.")
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        audit.record(
            "invitation.revoked",
            actor_id=actor_id,
            target_type="invitation",
            target_id=invitation.id,
            details={"email": invitation.email},
        )
        db.session.commit()
    return invitation


def _parse_link(token: str) -> tuple[uuid.UUID, uuid.UUID, str]:
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or not parts[2]:
        raise InvitationNotFound()
    try:
        return uuid.UUID(hex=parts[0]), uuid.UUID(hex=parts[1]), parts[2]
    except ValueError:
        raise InvitationNotFound() from None


def _usable(token: str, *, lock: bool) -> Invitation:
    """The invitation a link names, in its organization's context (set by the caller)."""
    org_id, invitation_id, secret = _parse_link(token)
    query = select(Invitation).where(Invitation.id == invitation_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    invitation = db.session.scalar(query)
    if invitation is None or not hmac.compare_digest(invitation.token_hash, _hash(secret)):
        raise InvitationNotFound()
    state = invitation.state(utcnow())
    if state == "accepted":
        raise InvitationUnusable("This invitation has already been used. Log in instead.")
    if state == "revoked":
        raise InvitationUnusable("This invitation was revoked. Ask your admin for a new one.")
    if state == "expired":
        raise InvitationUnusable("This invitation has expired. Ask your admin for a new one.")
    if invitation.organization_id != org_id:  # RLS makes this impossible; stay loud anyway
        raise InvitationNotFound()
    return invitation


@dataclass(frozen=True)
class InvitationView:
    """What the acceptance page shows about a valid invitation."""

    email: str
    role: str
    organization: str


def inspect_invitation(token: str) -> InvitationView:
    """The invitation behind a link if it can still be accepted (else a ``MemberError``)."""
    org_id = _parse_link(token)[0]
    with tenancy.tenant_context(org_id):
        invitation = _usable(token, lock=False)
        view = InvitationView(invitation.email, invitation.role, invitation_organization_name())
        db.session.rollback()
    return view


def accept_invitation(token: str, email: str, name: str, password: str) -> User:
    """Create the invited person's account in the inviting organization; single use; audited."""
    org_id = _parse_link(token)[0]
    with tenancy.tenant_context(org_id):
        try:
            invitation = _usable(token, lock=True)
            if normalise_email(email) != invitation.email:
                raise InvitationRefused(
                    f"This invitation is for {invitation.email}; it cannot be used for another "
                    "e-mail address."
                )
            if tenancy.email_exists(invitation.email):
                raise InvitationRefused(
                    f"{invitation.email} already has an account. Log in instead."
                )
            if any(c in name for c in "\r\n\x00"):
                raise InvitationRefused("Your name must fit on one line.")
            name = clean_name(name)
            if not name:
                raise InvitationRefused("Tell us your name.")
            shortest = int(current_app.config["MIN_PASSWORD_LENGTH"])
            if len(password) < shortest:
                raise InvitationRefused(f"Choose a password of at least {shortest} characters.")
            # The invitation's own seat is counted while pending; the account takes it over.
            quotas.check_members(0)
            user = User(
                email=invitation.email,
                name=name[:120],
                password_hash=hasher.hash(password),
                role=invitation.role,
            )
            db.session.add(user)
            invitation.accepted_at = utcnow()
            db.session.flush()
            audit.record(
                "member.joined",
                actor_id=user.id,
                target_type="user",
                target_id=user.id,
                details={"email": user.email, "role": user.role, "invitation": str(invitation.id)},
            )
            db.session.commit()
            db.session.refresh(user)  # loaded while the context holds, for the log-in after
        except IntegrityError as exc:  # the same e-mail signed up concurrently
            db.session.rollback()
            raise InvitationRefused("This e-mail already has an account. Log in instead.") from exc
        except Exception:
            db.session.rollback()
            raise
    return user


def change_role(user_id: object, role: str, actor_id: uuid.UUID | None) -> User:
    """Give a member another role (never one's own, never above one's own); audited."""
    actor = permissions.require("member.change_role")
    member = get_member(user_id)
    _check_role(role, actor)
    if actor is not None:
        if member.id == actor.id:
            raise Forbidden("You cannot change your own role; ask another admin or owner.")
        if rank(member.role) > rank(actor.role):
            raise Forbidden(f"You cannot change the role of an {member.role}: it is above yours.")
    old = member.role
    if old == role:
        return member
    if old == "owner" and _owner_count() <= 1:
        raise LastOwner()
    member.role = role
    sessions.end_sessions(member)  # the member logs in again, under the new role
    audit.record(
        "member.role_changed",
        actor_id=actor_id,
        target_type="user",
        target_id=member.id,
        details={"email": member.email, "old": old, "new": role},
    )
    db.session.commit()
    return member


def remove_member(user_id: object, actor_id: uuid.UUID | None) -> User:
    """Remove a member (their API tokens go with them); the last owner stays; audited.

    Deleting the row ends the member's sessions: the identity in their cookie finds no user.
    """
    actor = permissions.require("member.remove")
    member = get_member(user_id)
    if actor is not None:
        if member.id == actor.id:
            raise Forbidden("You cannot remove yourself; ask another admin or owner.")
        if rank(member.role) > rank(actor.role):
            raise Forbidden(f"You cannot remove an {member.role}: the role is above yours.")
    quotas.lock_usage()  # a removal frees a seat: serialise with invitations and joins
    if member.role == "owner" and _owner_count() <= 1:
        raise LastOwner()
    db.session.delete(member)
    audit.record(
        "member.removed",
        actor_id=actor_id,
        target_type="user",
        target_id=member.id,
        details={"email": member.email, "role": member.role},
    )
    db.session.commit()
    return member


def transfer_ownership(user_id: object, actor_id: uuid.UUID | None) -> User:
    """Make another member the owner; the current owner becomes an admin; audited."""
    actor = permissions.require("ownership.transfer")
    member = get_member(user_id)
    previous = actor or (db.session.get(User, (tenancy.require_org_id(), actor_id)))
    if previous is None or member.id == previous.id:
        raise InvitationRefused("Choose another member to transfer the ownership to.")
    if not member.is_active:
        raise InvitationRefused("Ownership can go only to an active member.")
    old = member.role
    member.role = "owner"
    previous.role = "admin"
    # Both roles changed: both people's sessions end (the caller re-issues its own).
    sessions.end_sessions(member)
    sessions.end_sessions(previous)
    audit.record(
        "ownership.transferred",
        actor_id=actor_id,
        target_type="user",
        target_id=member.id,
        details={"email": member.email, "old": old, "from": str(previous.id)},
    )
    db.session.commit()
    return member
