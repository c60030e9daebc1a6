"""What every format's extractor shares: the result type, the text budget, tidying, blocks → text.

Kept apart from ``workers/extract/__init__.py`` so each format module can import it without
importing the others.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from workers.digest.blocks import Block, DocumentModel
from workers.extract.errors import TextTooLong

Source = str | os.PathLike[str] | IO[bytes]


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file carried inside a document (an e-mail attachment), to be stored as its own upload."""

    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Extracted:
    """Plain text of a document, its page count when the format has pages, and its blocks.

    ``model`` is None for Markdown and plain text: the digest parses their text itself.
    ``attachments`` are the files an e-mail carries (empty for every other format).
    """

    text: str
    pages: int | None = None
    model: DocumentModel | None = None
    attachments: tuple[Attachment, ...] = ()


class TextBudget:
    """Counts characters as a format is decoded and stops at the limit, not after reading all.

    Without it a 20 MB CSV of short cells was parsed whole (rows, cells and joined lines in
    memory together, ~40x the file) before its length was found to be over the limit.
    """

    __slots__ = ("limit", "used")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def spend(self, chars: int) -> None:
        self.used += chars
        if self.used > self.limit:
            raise TextTooLong(self.limit)


@contextmanager
def open_binary(source: Source) -> Iterator[IO[bytes]]:
    """Yield a readable binary stream positioned at 0; close it only if we opened it."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as fh:
            yield fh
        return
    if source.seekable():
        source.seek(0)
    yield source


_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")
# C0 controls other than tab/newline leak out of PDFs and Word fields; they break JSON viewers.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def tidy_line(line: str) -> str:
    """One line without control characters, with runs of spaces made one space."""
    return _SPACES.sub(" ", _CONTROL_CHARS.sub("", line)).strip()


def tidy(text: str) -> str:
    """Normalise newlines and spacing so every format yields comparable plain text."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    lines = (tidy_line(line) for line in text.split("\n"))
    return _MANY_BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def block_lines(block: Block) -> Iterator[str]:
    """The plain-text lines of one block, in the conventions the text parser also reads."""
    if block.kind == "table":
        for row in ([block.header] if block.header else []) + block.rows:
            if any(cell for cell in row):
                yield " | ".join(row)
    elif block.kind == "list_item":
        box = {True: "[x] ", False: "[ ] ", None: ""}[block.checked]
        yield f"- {box}{block.text}"
    elif block.kind == "speaker":
        yield f"{block.speaker}: {block.text}"
    elif block.kind == "quote":
        yield f"> {block.text}"
    elif block.kind == "rule":
        yield "---"
    elif block.text:
        yield block.text


def blocks_text(blocks: Iterable[Block]) -> str:
    """The plain text of a document model: one line per paragraph, item or table row."""
    return "\n".join(line for block in blocks for line in block_lines(block))


def clean_cell(text: str) -> str:
    """A table cell or inline run as one line of single-spaced text."""
    return " ".join(_CONTROL_CHARS.sub("", text).split())
