"""The platform admin area (``/admin``): plans, one organization's plan, overrides, status.

Every route but the log-in answers 404 unless a platform admin is signed in, so an
organization's session learns nothing about the area.
"""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from webapp.admin import views  # noqa: E402,F401 - registers the routes on bp
