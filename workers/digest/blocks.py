"""The document model between extraction and analysis: a document is a list of blocks.

Every extractor (PDF, DOCX, HTML, Markdown, TXT, CSV, e-mail, OCR) turns its format into these
blocks; the digest (``workers.digest``) reads only blocks: blocks → sections → extractors →
digest. Plain text without a format (``analyse(text)``) is parsed into blocks by
``workers.digest.parse_text``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

BlockKind = Literal[
    "heading",  # text = heading text without markup; level 1..6
    "paragraph",  # one logical paragraph (PDF / hard line wraps re-joined)
    "list_item",  # level = nesting depth (0 top); checked = True/False for [x]/[ ], else None
    "table",  # header = header cells (may be empty); rows = body rows (lists of cells)
    "speaker",  # a speaker turn: speaker = name/nick as written, text = what was said
    "quote",  # quoted or commented-out text: kept for completeness, ignored by the digest
    "rule",  # a horizontal rule (----, ***, <hr>): a soft section boundary
]


@dataclass(slots=True)
class Block:
    """One structural element of a document, in reading order."""

    kind: BlockKind
    text: str = ""
    level: int = 0
    checked: bool | None = None
    speaker: str | None = None
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    # 1-based line (text formats) or page (PDF) where the block starts, for linking back.
    line: int | None = None
    page: int | None = None


@dataclass(slots=True)
class DocumentModel:
    """Blocks plus what the format itself says about the document."""

    blocks: list[Block]
    title: str = ""
    # The document's own date when the format carries one (e-mail Date header, PDF/DOCX
    # metadata); the digest also looks for a Date: line, a dated heading and the filename.
    date: dt.date | None = None
    author: str | None = None
    pages: int | None = None
    # Where ``date`` comes from: "sent" (an e-mail's Date header: the day it was written) or
    # "file" (PDF/DOCX properties: often the day the file was saved or exported, later).
    date_source: Literal["sent", "file"] = "file"
