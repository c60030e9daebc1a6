"""Ending sessions: a generation number per account, named by the signed session cookie.
(And the cookie session itself, cheap for requests without a cookie: ``CookieSessions``.)

Sessions are client-side (Flask's signed cookie), so a copied cookie cannot be deleted; it is
made worthless instead. Each user and each platform admin has a ``session_version``; the
cookie carries the one it was issued under (Flask-Login's identity ``org:user:generation``,
or ``platform_admin_version`` for an admin), and the account row that every request loads
anyway says the current one. Bumping it ends every session issued before, with no extra
query on any request. Bumped at log-out, password change and role change (and ownership
transfer, which changes two roles); removing a member deletes the row, which ends their
sessions as well. An admin's log-out bumps the admin's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin

from webapp.models import PlatformAdmin, User


@dataclass(frozen=True)
class Identity:
    """What a session cookie names: the organization, the user and the generation."""

    org_id: uuid.UUID
    user_id: uuid.UUID
    version: int


def parse_identity(raw: str) -> Identity | None:
    """``org:user:generation`` from the cookie, or None (a cookie without a generation was
    issued before generations existed, and ends like any other stale session)."""
    parts = raw.split(":")
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    try:
        return Identity(uuid.UUID(parts[0]), uuid.UUID(parts[1]), int(parts[2]))
    except ValueError:
        return None


def end_sessions(user: User) -> None:
    """End every session of ``user`` issued so far (the caller commits)."""
    user.session_version = (user.session_version or 0) + 1


def end_admin_sessions(admin: PlatformAdmin) -> None:
    """End every session of a platform admin issued so far (the caller commits)."""
    admin.session_version = (admin.session_version or 0) + 1


def admin_session_current(admin: PlatformAdmin, stored: object) -> bool:
    """Whether an admin session's generation is the admin's current one."""
    return isinstance(stored, int) and stored == (admin.session_version or 0)


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with nothing to do for a request that has no cookie.

    API clients send none: Flask's own interface still builds a signing serializer to open
    the session and reads the cookie settings to save it, on every request.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and "HTTP_COOKIE" not in request.environ:
            return self.session_class()  # what the base class opens when there is no cookie
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not session and not session.modified:  # the base class's early return, sooner
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)
