"""Each request measured and logged once: ``RequestObserver``, a WSGI middleware.

It wraps the whole app, the rate limiter's early door included, so a flood refused before
Flask (webapp/remembered.py) is counted as well as a request Flask answered. Flask's own hook
(``teardown_request``, which runs even after an unhandled error) leaves what only Flask knows
in the WSGI environ: the route template, the plan, the organization and user ids, the
rate-limit decision. A request refused before Flask has none of it; the route is matched then,
and the token's plan and ids come from what this process saw on that token's last request
(``_TokenMemo``: a SHA-256 of the token, as the limiter keys it, never the token).

The request id is settled here first (the client's ``X-Request-ID`` when sane, else a new
one) and written back into the environ, so Flask, the early door, the audit log, the logs and
the task messages published meanwhile (workers/metrics.py) all use the same one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, g, request
from werkzeug.exceptions import HTTPException

from webapp import logs, metrics
from webapp.headers import request_id

access_log = logging.getLogger(logs.ACCESS_LOGGER)

# What the Flask hook leaves in the environ for the middleware.
OBSERVED = "pmdi.observed"
RATE_LIMIT = "pmdi.rate_limit"  # a Decision, from the early door's refusal (webapp/ratelimit.py)
TOKEN_KEY = "pmdi.token_key"  # the limiter's key of the presented API token
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
ANONYMOUS = "anonymous"


class _TokenMemo:
    """Plan, organization and user of recently used API tokens, for requests refused early.

    A plain dict: its single assignments and reads are atomic, so no lock is taken on every
    request; past ``size`` tokens it starts afresh (a refusal before Flask then counts as
    ``anonymous`` until that token's next request through Flask).
    """

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._entries: dict[str, tuple[str, str, str]] = {}

    def remember(self, key: str, labels: tuple[str, str, str]) -> None:
        if self._entries.get(key) == labels:
            return
        if len(self._entries) >= self.size:
            self._entries = {}
        self._entries[key] = labels

    def recall(self, key: str | None) -> tuple[str, str, str] | None:
        return None if key is None else self._entries.get(key)


def current_user_labels() -> tuple[str, str | None, str | None]:
    """(plan, organization id, user id) of the request's member or API token, if any."""
    return _user_labels(g.get("api_user") or g.get("_login_user"))


def _user_labels(user: Any) -> tuple[str, str | None, str | None]:
    organization_id = getattr(user, "organization_id", None)
    if organization_id is None:
        return ANONYMOUS, None, None
    plan = getattr(getattr(user, "organization", None), "plan_id", None) or ANONYMOUS
    return plan, str(organization_id), str(user.id)


class RequestObserver:
    """Time every request; count it (metrics) and write its access line (JSON logs)."""

    def __init__(
        self, wsgi_app: Callable[..., Any], app: Flask, measure: bool, log_lines: bool
    ) -> None:
        self.wsgi_app = wsgi_app
        self.url_map = app.url_map
        self.measure = measure
        self.log_lines = log_lines
        self.tokens = _TokenMemo()
        # Label children by their values (``labels()`` takes a lock and builds a key each
        # time), kept as the callables that update them (``metrics.observer``, ``counter``).
        self._children: dict[tuple[str, str, str, str], Callable[[float], None]] = {}
        self._checks: dict[tuple[str, str, str], Callable[[], None]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started = time.perf_counter()
        rid = environ["HTTP_X_REQUEST_ID"] = request_id(environ.get("HTTP_X_REQUEST_ID"))
        token = logs.request_id_var.set(rid)
        status = ["500"]

        def observed_start_response(status_line: str, headers: list, *args: Any) -> Any:
            status[0] = status_line[:3]
            return start_response(status_line, headers, *args)

        try:
            return self.wsgi_app(environ, observed_start_response)
        finally:
            self._record(environ, status[0], time.perf_counter() - started, rid)
            logs.request_id_var.reset(token)

    def _record(self, environ: dict[str, Any], status: str, elapsed: float, rid: str) -> None:
        method = environ.get("REQUEST_METHOD", "")
        method = method if method in METHODS else "other"
        seen = environ.get(OBSERVED)
        if seen is None:  # answered before Flask: the early door's refusal
            route = self._route(environ)
            plan, org_id, user_id = self.tokens.recall(environ.get(TOKEN_KEY)) or (
                ANONYMOUS,
                None,
                None,
            )
            decision = environ.get(RATE_LIMIT)
        else:
            route, plan, org_id, user_id, decision = seen
        if self.measure:
            key = (route, method, status, plan)
            observe = self._children.get(key)
            if observe is None:
                observe = self._children[key] = metrics.observer(metrics.REQUESTS.labels(*key))
            observe(elapsed)
            if decision is not None:
                outcome = "admitted" if decision.admitted else "refused"
                checked = (plan, decision.reported.rule.name, outcome)
                count = self._checks.get(checked)
                if count is None:
                    count = metrics.counter(metrics.RATE_LIMIT_CHECKS.labels(*checked))
                    self._checks[checked] = count
                count()
        if self.log_lines and access_log.isEnabledFor(logging.INFO):
            fields = {
                "request_id": rid,
                "organization_id": org_id,
                "user_id": user_id,
                "method": method,
                "route": route,
                "status": int(status),
                "duration_ms": round(elapsed * 1000, 3),
                "plan": plan,
            }
            logs.write_access_line(access_log, fields, (method, route, status))

    def _route(self, environ: dict[str, Any]) -> str:
        try:
            rule, _ = self.url_map.bind_to_environ(environ).match(return_rule=True)
        except HTTPException:
            return "unmatched"
        return rule.rule

    def flask_teardown(self, exc: BaseException | None = None) -> None:
        """Leave the route, plan, ids and rate-limit decision for the middleware."""
        # The request and g looked up once each (every proxied attribute is a lookup).
        current = request._get_current_object()  # type: ignore[attr-defined]
        found = vars(g._get_current_object())  # type: ignore[attr-defined]
        api_user = found.get("api_user")
        plan, org_id, user_id = _user_labels(api_user or found.get("_login_user"))
        rule = current.url_rule
        environ = current.environ
        environ[OBSERVED] = (
            rule.rule if rule is not None else "unmatched",
            plan,
            org_id,
            user_id,
            found.get("rate_limit"),
        )
        key = environ.get(TOKEN_KEY)
        if key is not None and org_id is not None and api_user is not None:
            self.tokens.remember(key, (plan, org_id, user_id))  # type: ignore[arg-type]


def count_upload(error: Exception | None) -> None:
    """One uploaded file, accepted (``error`` None) or refused (its code is the reason)."""
    from webapp.quotas import QuotaExceeded

    plan = current_user_labels()[0]
    if error is None:
        # What the limiter keeps of the organization's hourly allowance (webapp/ratelimit.py).
        g.uploads_accepted = g.get("uploads_accepted", 0) + 1
        metrics.UPLOADS.labels(plan, "accepted", "").inc()
        return
    metrics.UPLOADS.labels(plan, "refused", getattr(error, "code", "error")).inc()
    if isinstance(error, QuotaExceeded):
        metrics.QUOTA_REFUSALS.labels(plan, error.quota).inc()


def count_fail_open() -> None:
    """A rate-limit check admitted because Redis did not answer."""
    metrics.FAIL_OPEN.inc()


def init_app(app: Flask) -> None:
    """Measure and log requests as configured (call it after the rate limiter's init_app)."""
    measure = bool(app.config.get("METRICS_ENABLED", True))
    log_lines = app.config.get("LOG_FORMAT") == "json"
    metrics.init_app(app)
    limiter = app.extensions.get("ratelimits")
    if limiter is not None and measure:
        limiter.on_fail_open.append(count_fail_open)
    if not (measure or log_lines):
        return
    observer = RequestObserver(app.wsgi_app, app, measure, log_lines)
    app.teardown_request(observer.flask_teardown)
    app.wsgi_app = observer  # type: ignore[method-assign]
