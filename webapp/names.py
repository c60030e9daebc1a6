"""Names people give (files, organizations, members, tokens): what is kept of them.

Invisible *format* characters (Unicode category Cf: the bidi overrides and isolates such as
U+202E, which make ``evil‮txt.exe`` read as ``evilexe.txt``, zero-width spaces and joiners,
the BOM) and control characters are removed where a name is stored, so no page, header or
export shows a name other than the one it holds. Emoji stay; a sequence joined by U+200D
falls apart into its parts, which is the price of refusing invisible characters.
"""

from __future__ import annotations

import unicodedata


def strip_invisible(value: str) -> str:
    """``value`` in NFC without format (Cf) or control (Cc) characters."""
    value = unicodedata.normalize("NFC", value)
    return "".join(c for c in value if unicodedata.category(c) not in ("Cf", "Cc"))


def clean_name(value: str | None) -> str:
    """A single-line display name: visible characters only, spaces collapsed and trimmed."""
    return " ".join(strip_invisible(value or "").split())
