"""Making an uploaded file's name safe to store and to send back."""

from __future__ import annotations

import posixpath
import re

from webapp.names import strip_invisible

MAX_FILENAME = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_UNSAFE = re.compile(r'[<>:"/\\|?*]')


def sanitize_filename(raw: str | None, fallback: str = "document") -> str:
    """A display-safe base name: no path parts, control or format characters (NUL, bidi
    overrides such as U+202E, zero-width characters); NFC; bounded.

    The extension is kept when the name must be shortened, so people still recognise it.
    """
    name = strip_invisible(raw or "")
    name = _CONTROL.sub("", name).replace("\\", "/")
    name = posixpath.basename(name)
    name = _UNSAFE.sub("_", name).strip().strip(".").strip()
    name = re.sub(r"\s+", " ", name)
    if not name:
        return fallback
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: MAX_FILENAME - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:MAX_FILENAME]
    return name


def title_from_filename(filename: str) -> str:
    """'Q3_status-report.pdf' -> 'Q3 status report'."""
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    title = re.sub(r"[_\-]+", " ", stem).strip()
    return (title or filename)[:255]
