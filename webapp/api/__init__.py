"""JSON API under /api/v1, authenticated by API tokens (``Authorization: Bearer …``)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from webapp.api import auth, errors, views  # noqa: E402,F401 - hooks, handlers, routes
