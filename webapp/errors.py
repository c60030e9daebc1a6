"""Error pages: clear words, the right status, nothing about other organizations."""

import logging

import kombu.exceptions
import redis.exceptions
from flask import Flask, Response, current_app, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException, TooManyRequests

from webapp import audit

log = logging.getLogger(__name__)

# A backing service that is down or unreachable: the request may succeed in a moment, so the
# answer is 503 with Retry-After, never a bare 500. Pooled connections that died are replaced
# on their next use (SQLAlchemy invalidates the pool on a disconnect), so the app recovers by
# itself when the service returns.
UNAVAILABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.PendingRollbackError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,
)
UNAVAILABLE_MESSAGE = "The service is temporarily unavailable. Try again in a few seconds."
RETRY_AFTER_SECONDS = "5"


def init_app(app: Flask) -> None:
    """Register the handlers."""

    @app.after_request
    def audit_not_found(response: Response) -> Response:
        # Pages and API alike: a signed-in 404 may be a probe at another organization's id.
        if response.status_code == 404:
            audit.record_not_found()
        return response

    for error in UNAVAILABLE:
        app.register_error_handler(error, service_unavailable)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> ResponseReturnValue:
        message = "This form expired or did not come from this site. Reload the page and retry."
        return render_template("errors/error.html", code=400, message=message), 400

    @app.errorhandler(TooManyRequests)
    def too_many_requests(exc: TooManyRequests) -> ResponseReturnValue:
        message = "Too many requests. Wait a moment and try again."
        headers = {k: v for k, v in exc.get_headers() if k == "Retry-After"}
        return refused_page(message, headers.get("Retry-After")), 429, headers

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        messages = {
            404: "There is nothing here. It may have been deleted, or the link is wrong.",
            405: "That action is not allowed here.",
            413: "That upload is too large.",
        }
        message = messages.get(exc.code or 500, exc.description)
        return render_template("errors/error.html", code=exc.code, message=message), exc.code


def service_unavailable(exc: Exception) -> ResponseReturnValue:
    """503 while PostgreSQL or Redis is down: JSON under the API, a page (with no database
    lookup of its own: no signed-in user, no branding) elsewhere."""
    log.warning("service unavailable: %s", exc.__class__.__name__, exc_info=True)
    _drop_session()
    headers = {"Retry-After": RETRY_AFTER_SECONDS}
    if request.path.startswith("/api/"):
        from webapp.api.errors import error_body

        body = error_body(503, code="service_unavailable", message=UNAVAILABLE_MESSAGE)
        return jsonify(error=body), 503, headers
    # Rendered without the context processors: they look up the signed-in user and branding.
    template = current_app.jinja_env.get_template("errors/unavailable.html")
    page = template.render(message=UNAVAILABLE_MESSAGE, url_for=url_for, request=request)
    return page, 503, headers


def _drop_session() -> None:
    """End the request's failed transaction so teardown does not trip over it."""
    from webapp.extensions import db

    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - a dead connection cannot roll back
        log.debug("rollback after an unavailable service failed", exc_info=True)


def refused_page(message: str, retry_after: int | str | None) -> str:
    """The 429 page. A page asked for with GET loads itself again once the wait is over (a
    refresh of ``Retry-After`` seconds): a refused navigation, or a document page reloading
    itself when its processing ends (webapp/static/documents.js), is never left stuck on this
    page. A refused POST is not sent again by itself."""
    refresh = None
    if request.method in ("GET", "HEAD") and retry_after is not None:
        try:
            refresh = max(1, int(retry_after))
        except ValueError:
            refresh = None
    return render_template("errors/429.html", message=message, refresh=refresh)
