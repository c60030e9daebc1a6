"""Error pages: clear words, the right status, nothing about other organizations."""

from flask import Flask, Response, render_template
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, TooManyRequests

from webapp import audit


def init_app(app: Flask) -> None:
    """Register the handlers."""

    @app.after_request
    def audit_not_found(response: Response) -> Response:
        # Pages and API alike: a signed-in 404 may be a probe at another organization's id.
        if response.status_code == 404:
            audit.record_not_found()
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> ResponseReturnValue:
        message = "This form expired or did not come from this site. Reload the page and retry."
        return render_template("errors/error.html", code=400, message=message), 400

    @app.errorhandler(TooManyRequests)
    def too_many_requests(exc: TooManyRequests) -> ResponseReturnValue:
        message = "Too many requests. Wait a moment and try again."
        headers = {k: v for k, v in exc.get_headers() if k == "Retry-After"}
        return render_template("errors/429.html", message=message), 429, headers

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        messages = {
            404: "There is nothing here. It may have been deleted, or the link is wrong.",
            405: "That action is not allowed here.",
            413: "That upload is too large.",
        }
        message = messages.get(exc.code or 500, exc.description)
        return render_template("errors/error.html", code=exc.code, message=message), exc.code
