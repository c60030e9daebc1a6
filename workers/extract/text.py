"""Plain text, Markdown and CSV: decoded a chunk at a time and counted while decoding.

Plain text gets no document model (the digest reads its structure from the lines); Markdown
keeps its markup's structure as blocks (headings with levels, nested lists with checkbox state,
tables with header cells, quotes, ``**Name**:`` speakers) parsed by markdown-it-py, while its
``.text`` is the markup-free plain text; a CSV becomes one table block whose header is its
first row. Reading stops as soon as the text is over the
limit (issue 11 §6: a 20 MB CSV of short cells used to be parsed whole, ~40x its size in
memory, before being refused).
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterable, Iterator
from typing import IO

from workers.digest.blocks import Block, DocumentModel
from workers.digest.tables import MAX_ALIGNED_ROWS, aligned_table, maybe_aligned_header
from workers.extract.common import Extracted, TextBudget, clean_cell, tidy_line
from workers.extract.errors import EmptyFile, UnreadableDocument, UnsupportedFileType

_CHUNK_CHARS = 256 * 1024
_NOT_UTF8 = "The file is not valid UTF-8 text; save it as UTF-8 and upload it again."


def _decoded_chunks(stream: IO[bytes]) -> Iterator[str]:
    """UTF-8 text (BOM dropped) a chunk at a time; refuses NUL bytes and invalid UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    first = True
    while True:
        data = stream.read(_CHUNK_CHARS)
        if first and not data:
            raise EmptyFile()
        first = False
        if b"\x00" in data:
            raise UnsupportedFileType("binary data")
        try:
            chunk = decoder.decode(data, final=not data)
        except UnicodeDecodeError:
            raise UnreadableDocument(_NOT_UTF8) from None
        if chunk:
            yield chunk
        if not data:
            return


def _lines(stream: IO[bytes], keepends: bool = False) -> Iterator[str]:
    """Decoded lines, any newline convention, read a chunk at a time.

    A chunk may end inside a line or between "\\r" and "\\n": that tail waits for the next.
    """
    rest = ""
    for chunk in _decoded_chunks(stream):
        lines = (rest + chunk).splitlines(keepends=True)
        rest = lines.pop() if lines and not lines[-1].endswith("\n") else ""
        for line in lines:
            yield line if keepends else line.rstrip("\r\n")
    if rest:
        for line in rest.splitlines(keepends=True):
            yield line if keepends else line.rstrip("\r\n")


def _aligned_as_rows(lines: Iterable[str]) -> Iterator[str]:
    """Lines, with a table aligned by spaces turned into "a | b | c" rows (the row shape the
    DOCX/HTML/CSV extractors produce), since tidying collapses the spaces that align it."""
    pending: list[str] = []  # a possible table: its header line and the lines after it

    def flush() -> Iterator[str]:
        index = 0
        while index < len(pending):
            found = aligned_table(pending, index)
            if found is None:
                yield pending[index]
                index += 1
                continue
            header, rows, used = found
            for row in [header, *rows]:
                yield " | ".join(row)
            index += used
        pending.clear()

    for line in lines:
        if pending:
            if line.strip() and len(pending) <= MAX_ALIGNED_ROWS:
                pending.append(line)
                continue
            yield from flush()
        if line.strip() and maybe_aligned_header(line.strip()):
            pending.append(line)
            continue
        yield line
    yield from flush()


def read_text(stream: IO[bytes], limit: int, *, keep_indent: bool = False) -> str:
    """The tidied text of a UTF-8 file, refused as soon as it grows over ``limit`` characters.

    Counted after tidying each line (spaces collapsed, blank runs kept to one), so padding
    does not count against the limit; memory stays near the limit, never the file size.
    """
    budget = TextBudget(limit)
    out: list[str] = []
    blank = True  # leading blank lines are dropped
    lines = _lines(stream) if keep_indent else _aligned_as_rows(_lines(stream))
    for raw in lines:
        line = tidy_line(raw)
        if keep_indent and line:
            # Markdown: a list item's indentation is its nesting, a code block's is its markup.
            line = raw[: len(raw) - len(raw.lstrip(" \t"))].expandtabs(4) + line
        if not line:
            if not blank:
                out.append("")
                budget.spend(1)
            blank = True
            continue
        blank = False
        out.append(line)
        budget.spend(len(line) + 1)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def extract_txt(stream: IO[bytes], limit: int) -> Extracted:
    return Extracted(text=read_text(stream, limit))


_MD_FENCE = re.compile(r"^[ \t]*(```|~~~).*$", re.MULTILINE)
_MD_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]*(.*?)[ \t]*#*[ \t]*$", re.MULTILINE)
_MD_SETEXT = re.compile(r"^[ \t]*(=+|-+)[ \t]*$", re.MULTILINE)
_MD_HRULE = re.compile(r"^[ \t]*([-*_])([ \t]*\1){2,}[ \t]*$", re.MULTILINE)
_MD_TABLE_RULE = re.compile(
    r"^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*(?:\|[ \t]*:?-{3,}:?[ \t]*)*\|?[ \t]*(?:\n|$)", re.MULTILINE
)
_MD_REF_DEF = re.compile(r"^[ \t]{0,3}\[[^\]]+\]:\s*\S+.*$", re.MULTILINE)
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\[[^\]]*\])")
_MD_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_MD_BLOCKQUOTE = re.compile(r"^[ \t]{0,3}>[ \t]?", re.MULTILINE)
_MD_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
# Single * or _ only when not inside a word, so snake_case and 2*3 survive.
_MD_EMPHASIS = re.compile(r"(?<![\w*])([*_])(?=\S)([^*_\n]+?)(?<=\S)\1(?![\w*])")
_MD_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_MD_CODE = re.compile(r"`+([^`\n]+?)`+")
_MD_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_MD_TABLE_ROW = re.compile(r"^[ \t]*\|(.*)\|[ \t]*$", re.MULTILINE)


def _strip_markdown(text: str) -> str:
    """Remove Markdown markup that carries no words, keep list markers and table cells."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _MD_FENCE.sub("", text)
    text = _MD_REF_DEF.sub("", text)
    text = _MD_TABLE_RULE.sub("", text)
    text = _MD_HRULE.sub("", text)
    text = _MD_SETEXT.sub("", text)
    text = _MD_HEADING.sub(r"\1", text)
    text = _MD_BLOCKQUOTE.sub("", text)
    text = _MD_IMAGE.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_AUTOLINK.sub(r"\1", text)
    text = _MD_CODE.sub(r"\1", text)
    text = _MD_STRONG.sub(r"\2", text)
    text = _MD_EMPHASIS.sub(r"\2", text)
    text = _MD_STRIKE.sub(r"\1", text)
    text = _MD_HTML_TAG.sub("", text)
    # "| a | b |" -> "a | b": the same row shape the DOCX/HTML/CSV extractors produce.
    text = _MD_TABLE_ROW.sub(lambda m: " | ".join(c.strip() for c in m.group(1).split("|")), text)
    return text


def extract_markdown(stream: IO[bytes], limit: int) -> Extracted:
    """The plain text without markup, and the blocks the markup states (the digest reads those:
    stripping the markup first lost heading levels, nesting, checkboxes, quotes and tables)."""
    from workers.digest.text import blocks_from_text

    # Markup only shrinks the text, so the budget on the source bounds the result too.
    source = read_text(stream, limit, keep_indent=True)
    model = DocumentModel(blocks=blocks_from_text(source, markdown=True))
    return Extracted(text=_strip_markdown(source), model=model)


def extract_csv(stream: IO[bytes], limit: int) -> Extracted:
    """One table block: the first non-empty row is the header, the rest are body rows."""
    budget = TextBudget(limit)
    head = stream.read(64 * 1024)
    sample = head.decode("utf-8-sig", errors="ignore")
    if not head:
        raise EmptyFile()
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    stream.seek(0)
    rows: list[list[str]] = []
    try:
        for row in csv.reader(_lines(stream, keepends=True), dialect):
            cells = [clean_cell(cell) for cell in row]
            if any(cells):
                # What this row adds to the plain text: cells joined by " | " and a newline.
                budget.spend(sum(len(cell) for cell in cells) + 3 * (len(cells) - 1) + 1)
                rows.append(cells)
    except csv.Error:
        raise UnreadableDocument("The CSV file is malformed and could not be read.") from None
    if not rows:
        return Extracted(text="")
    table = Block(kind="table", header=rows[0], rows=rows[1:], line=1)
    text = "\n".join(" | ".join(row) for row in rows)
    return Extracted(text=text, model=DocumentModel(blocks=[table]))
