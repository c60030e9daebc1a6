"""Bearer authentication for the API.

Only the ``Authorization: Bearer`` header authenticates an API call. A session cookie never
does: the browser sends it on its own, so honouring it would let any site drive the API with a
signed-in member's rights (the API is exempt from CSRF tokens for that reason). The tenant
context set from a cookie by the identity hook is therefore cleared first, and the acting user
lives in ``g.api_user``, never in Flask-Login's ``current_user``.
"""

from __future__ import annotations

from flask import g, request
from flask.typing import ResponseReturnValue

from webapp import tenancy
from webapp.api import bp, tokens
from webapp.api.errors import api_error

SUSPENDED_MESSAGE = (
    "This organization is suspended by the platform administrators; its API tokens are refused "
    "until it is reactivated."
)


def current_api_user() -> tokens.ApiUser:
    """The user the presented token acts as (set by ``authenticate_request``)."""
    return g.api_user


@bp.before_request
def authenticate_request() -> ResponseReturnValue | None:
    """Forget any cookie identity, then act as the bearer token's user or answer 401."""
    tenancy.set_current_org(None)
    g.api_user = None
    presented = tokens.bearer_token(request.headers.get("Authorization"))
    try:
        user = tokens.authenticate(presented) if presented else None
    except tokens.OrganizationSuspended:
        # A valid token, refused: 403 with a code a client can act on (an invalid one is 401).
        return api_error(403, "organization_suspended", SUSPENDED_MESSAGE)
    if user is None:
        return api_error(401, "unauthorized" if presented is None else "invalid_token")
    g.api_user = user
    return None
