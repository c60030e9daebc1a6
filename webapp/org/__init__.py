"""Organization settings pages (API tokens for now; members and settings arrive later)."""

from flask import Blueprint

bp = Blueprint("org", __name__)

from webapp.org import audit_views, views  # noqa: E402,F401 - registers the routes on bp
from webapp.org import member_views  # noqa: E402,F401 - members, invitations, acceptance
from webapp.org import settings_views  # noqa: E402,F401 - settings, export, deletion
