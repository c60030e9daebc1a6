"""The workspace across documents: the Actions page, editable digests, exports, notifications."""

from flask import Blueprint

bp = Blueprint("workspace", __name__)

from webapp.workspace import views  # noqa: E402,F401 - registers the routes on bp
