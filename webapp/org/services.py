"""Reading the current organization (the admin pages of a later issue build on this)."""

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import User


def list_members() -> list[User]:
    """Members of the current organization, oldest first."""
    return list(db.session.scalars(select(User).order_by(User.created_at, User.email)))
