"""The signed-in landing page."""

from flask import Blueprint

bp = Blueprint("dashboard", __name__)

from webapp.dashboard import views  # noqa: E402,F401 - registers the routes on bp
