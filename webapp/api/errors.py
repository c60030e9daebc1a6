"""JSON errors for the API: ``{"error": {"code": "...", "message": "..."}}``, always."""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from webapp.api import bp
from webapp.documents.services import DocumentError, DuplicateDocument

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "file_too_large",
    415: "unsupported_type",
    429: "rate_limited",
    500: "internal_error",
}
MESSAGES = {
    401: "Send a valid API token as “Authorization: Bearer <token>”.",
    404: "There is no such resource.",
    405: "That method is not allowed here.",
    413: "That upload is too large.",
    429: "Too many requests. Wait a moment and try again.",
    500: "Something went wrong on our side. Try again later.",
}
# Headers of an HTTPException worth keeping on its JSON form (Allow on 405, Retry-After on 429).
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


class ApiError(Exception):
    """A refusal raised by an API view: HTTP status, stable code, readable message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def api_error(
    status: int,
    code: str | None = None,
    message: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: object,
) -> ResponseReturnValue:
    """``{"error": {"code", "message", ...extra}}`` with ``status``."""
    response = jsonify(error=error_body(status, code, message, **extra))
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    response.headers.update(headers or {})
    return response


def error_body(
    status: int, code: str | None = None, message: str | None = None, **extra: object
) -> dict[str, object]:
    """The ``error`` object: the status's stable code and message unless given."""
    return {
        "code": code or CODES.get(status, "error"),
        "message": message or MESSAGES.get(status, "The request could not be handled."),
        **extra,
    }


def document_error_body(exc: DocumentError) -> dict[str, object]:
    """The ``error`` object for a refused document operation (a duplicate names the original)."""
    body: dict[str, object] = {"code": exc.code, "message": exc.message}
    if isinstance(exc, DuplicateDocument):
        body["document_id"] = str(exc.existing.id)
    return body


@bp.errorhandler(ApiError)
def handle_api_error(exc: ApiError) -> ResponseReturnValue:
    """A view's own refusal."""
    return api_error(exc.status, exc.code, exc.message)


@bp.errorhandler(DocumentError)
def handle_document_error(exc: DocumentError) -> ResponseReturnValue:
    """A refusal from the document services, with its own status and code."""
    return jsonify(error=document_error_body(exc)), exc.status


@bp.errorhandler(HTTPException)
def handle_http_error(exc: HTTPException) -> ResponseReturnValue:
    """Every HTTP error inside the API (an unhandled exception arrives here as a 500)."""
    status = exc.code or 500
    message = MESSAGES.get(status) or exc.description
    return api_error(status, message=message, headers=_kept_headers(exc))


@bp.before_app_request
def unrouted_api_request() -> ResponseReturnValue | None:
    """404/405 from routing under the API's prefix, as JSON too.

    Routing failures belong to no blueprint (``request.blueprint`` is None), so the handlers
    above never see them; they are answered here, by path, before the view would raise them.
    """
    exc = request.routing_exception
    prefix = bp.url_prefix or ""
    if not isinstance(exc, HTTPException) or exc.code not in (404, 405):
        return None  # redirects (a missing trailing slash) keep their normal behaviour
    if request.path != prefix and not request.path.startswith(prefix + "/"):
        return None
    return handle_http_error(exc)


def _kept_headers(exc: HTTPException) -> dict[str, str]:
    return {name: value for name, value in exc.get_headers() if name in _KEPT_HEADERS}
