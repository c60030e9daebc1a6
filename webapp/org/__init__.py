"""Organization pages: members and invitations, settings and branding, usage, API tokens,
audit log, export and deletion."""

from flask import Blueprint

bp = Blueprint("org", __name__)

# Each module registers its routes on bp.
from webapp.org import (  # noqa: E402,F401
    audit_views,
    member_views,
    settings_views,
    views,
)
