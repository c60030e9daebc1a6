"""Refusing input that no view should ever see, in one place, before any view runs.

* **NUL** (U+0000) anywhere: the path, query string, form field names and values, and every
  string of a JSON body. PostgreSQL cannot store it in text (the query fails), and nothing a
  person types contains it.
* **CR and LF** in the path, the query string (``next`` included, which becomes a
  ``Location`` header after log-in) and in form fields. Every form field of the application is
  a single-line ``<input>``, from which browsers never send a line break; names, titles and
  e-mail subjects built from them must stay on one line. A future multi-line field (a
  ``<textarea>``) is named in ``MULTILINE_FORM_FIELDS`` and keeps its line breaks (not NUL).
  JSON bodies may carry line breaks (a JSON string is not a header); NUL is refused there too.

Uploaded files' contents are never looked at here, nor their names (sanitised on upload:
``webapp/documents/filenames.py``). A multipart body under the API is not parsed here either:
the API reads nothing but its file parts, and its token is checked after this guard, so parsing
would let anyone without a token make the server unpack large bodies. The answer is 400 with
a message (JSON under the API).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import BadRequest

NUL = "\x00"
LINE_BREAKS = ("\r", "\n")
# Form fields that may hold line breaks (none today). NUL is refused in them all the same.
MULTILINE_FORM_FIELDS: frozenset[str] = frozenset()


class RefusedInput(BadRequest):
    """A request carrying a NUL, or a line break where none belongs."""

    def __init__(self, where: str) -> None:
        super().__init__(
            f"The request was refused: {where} contains a character that is not allowed "
            "(a NUL byte, or a line break in a single-line value)."
        )
        self.where = where


def _has(value: str, characters: Iterable[str]) -> bool:
    return any(c in value for c in characters)


def _bad_single_line(value: str) -> bool:
    return NUL in value or _has(value, LINE_BREAKS)


def _json_has_nul(value: Any) -> bool:
    """Whether any string (key or value) of a decoded JSON document holds a NUL."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def refused_part() -> str | None:
    """Which part of the current request holds a forbidden character, or None."""
    if _bad_single_line(request.path):
        return "the address"
    environ = request.environ
    if environ.get("QUERY_STRING"):
        for name, value in request.args.items(multi=True):
            if _bad_single_line(name) or _bad_single_line(value):
                return f"the query parameter {name!r}"
    if not environ.get("CONTENT_TYPE"):
        return None  # no body of a kind read below (most GETs: nothing parsed at all)
    form = request.mimetype == "application/x-www-form-urlencoded" or (
        request.mimetype == "multipart/form-data" and request.blueprint != "api"
    )
    if form:
        for name, value in request.form.items(multi=True):
            if _bad_single_line(name):
                return "a form field name"
            if NUL in value or (name not in MULTILINE_FORM_FIELDS and _has(value, LINE_BREAKS)):
                return f"the form field {name!r}"
    if request.is_json and _json_has_nul(request.get_json(silent=True)):
        return "the JSON body"
    return None


def init_app(app: Flask) -> None:
    """Check every request first (register before any other ``before_request``)."""

    @app.before_request
    def _refuse_forbidden_characters() -> None:
        where = refused_part()
        if where is not None:
            raise RefusedInput(where)
