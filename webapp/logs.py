"""Structured logs: ``LOG_FORMAT=json`` writes one JSON object per line.

Every record, whoever logs it, carries the request id, the organization id and the user id of
the work it belongs to (``ContextFilter``): in the web process those of the request, in a
worker those of the task, whose request id came from the request that published it (the
``pmdi_request_id`` message header, workers/metrics.py). So an upload's request line and the
log lines of its processing share one id. The web process adds one access line per request
(``pmdi.access``: route template, method, status, duration) from webapp/observe.py.

Text logs (the default) stay as they were: the standard library's format, gunicorn's access log.
"""

from __future__ import annotations

import logging
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson
from flask import Flask, g, has_request_context
from pythonjsonlogger.json import JsonFormatter

from webapp import tenancy

# The request id of the work in progress: set by the web middleware for a request and by the
# worker around a task. Context variables, so threads and tasks never see each other's.
request_id_var: ContextVar[str | None] = ContextVar("pmdi_request_id", default=None)
user_id_var: ContextVar[str | None] = ContextVar("pmdi_user_id", default=None)

ACCESS_LOGGER = "pmdi.access"
ACCESS_FIELDS = "pmdi_fields"  # the access line's fields, ready to serialise
_HANDLER_NAME = "pmdi-json"


class ContextFilter(logging.Filter):
    """Stamp each record with the request, organization and user it was logged for."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        if not hasattr(record, "organization_id"):
            org_id = tenancy.current_org_id()
            record.organization_id = str(org_id) if org_id is not None else None
        if not hasattr(record, "user_id"):
            record.user_id = user_id_var.get() or _request_user_id()
        return True


def _request_user_id() -> str | None:
    """The signed-in member or API token's user, if a request has already resolved one."""
    if not has_request_context():
        return None
    user = g.get("api_user") or g.get("_login_user")
    user_id = getattr(user, "id", None)
    return str(user_id) if user_id is not None else None


class JsonLines(JsonFormatter):
    """python-json-logger's formatter, with a fast path for the per-request access line.

    The library's general path looks through every attribute of every record for extra
    fields; for the access line, written once per request, that was most of the cost of
    logging it (bench/operate_overhead.py). The access line brings its fields ready-made
    (``pmdi_fields``) and is serialised directly, in the same shape as every other line.
    """

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, ACCESS_FIELDS, None)
        if fields is None:
            return super().format(record)
        return _access_json(
            record.levelname, record.name, record.getMessage(), fields, record.created
        )


def _access_json(level: str, logger: str, message: str, fields: dict[str, Any], at: float) -> str:
    entry = {
        "level": level,
        "logger": logger,
        "message": message,
        **fields,
        # orjson writes an aware datetime as isoformat() does ("...+00:00"), and the whole
        # line some twenty times faster than the standard library's encoder.
        "time": datetime.fromtimestamp(at, tz=UTC),
    }
    return orjson.dumps(entry, default=str).decode()


def write_access_line(
    logger: logging.Logger, fields: dict[str, Any], args: tuple[Any, ...]
) -> None:
    """Log the access line (INFO, message ``"<method> <route> <status>"``) on ``logger``.

    When the only handler the line would reach is this process's own JSON handler (the
    ``LOG_FORMAT=json`` set-up, nothing else attached), the line is written to that handler's
    stream directly, byte for byte what the handler would write: the record that logging
    would build, filter and hand from logger to logger on every request is most of the
    line's cost (bench/operate_overhead.py). Any other set-up (a test's capture, a handler or
    filter added by the operator) takes logging's ordinary path.
    """
    handler = _only_json_handler(logger)
    if handler is not None:
        line = (
            _access_json(_INFO, logger.name, " ".join(map(str, args)), fields, time.time())
            + handler.terminator
        )
        handler.acquire()
        try:
            stream = handler.stream
            stream.write(line)
            stream.flush()
            return
        except Exception:  # noqa: BLE001 - logging's own path reports it as it would
            pass
        finally:
            handler.release()
    record = logger.makeRecord(
        logger.name,
        logging.INFO,
        __file__,
        0,
        "%s %s %s",
        args,
        None,
        extra={ACCESS_FIELDS: fields, **fields},
    )
    logger.handle(record)


_INFO = logging.getLevelName(logging.INFO)


def _only_json_handler(logger: logging.Logger) -> logging.StreamHandler | None:
    """The JSON handler ``configure`` installed, if an INFO record of ``logger`` would reach
    it and no other handler, with no filter on the way but its context filter."""
    found: logging.StreamHandler | None = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters or current.disabled:
            return None
        for handler in current.handlers:
            if found is not None or handler.get_name() != _HANDLER_NAME:
                return None
            found = handler  # type: ignore[assignment]
        if not current.propagate:
            break
        current = current.parent
    if (
        found is None
        or found.level > logging.INFO
        or type(found) is not logging.StreamHandler
        or type(found.formatter) is not JsonLines
        or len(found.filters) != 1
        or type(found.filters[0]) is not ContextFilter
    ):
        return None
    return found


def json_formatter() -> logging.Formatter:
    """The one-object-per-line format: level, logger, message, the context, then the time."""
    return JsonLines(
        ["levelname", "name", "message"],
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
    )


def use_json(handler: logging.Handler) -> None:
    """Make one handler write JSON with the context fields (the worker's handlers too)."""
    handler.setFormatter(json_formatter())
    if not any(isinstance(f, ContextFilter) for f in handler.filters):
        handler.addFilter(ContextFilter())


def configure(level: Any, log_format: str) -> None:
    """Set up the root logger once per process; JSON replaces any handler set up before."""
    root = logging.getLogger()
    if log_format != "json":
        logging.basicConfig(level=level)
        return
    if any(h.get_name() == _HANDLER_NAME for h in root.handlers):
        return
    for handler in list(root.handlers):
        if type(handler) is logging.StreamHandler:  # basicConfig's; never a test's capture
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    use_json(handler)
    root.addHandler(handler)
    root.setLevel(level)


def init_app(app: Flask) -> None:
    """Configure logging for the app's process from ``LOG_FORMAT`` and ``LOG_LEVEL``."""
    log_format = str(app.config.get("LOG_FORMAT") or "text").lower()
    if log_format not in {"text", "json"}:
        raise RuntimeError(f"LOG_FORMAT must be text or json, not {log_format!r}")
    app.config["LOG_FORMAT"] = log_format
    configure(app.config.get("LOG_LEVEL", logging.INFO), log_format)
