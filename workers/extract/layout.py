"""Positioned lines (a PDF's text layer, or OCR) to blocks, by layout rather than punctuation.

A line continues the paragraph above it when all of these hold:

* it is close below (less than a blank line: gap under 0.9 line heights), same font size;
* it starts where the paragraph's lines start (a first-line indent is allowed);
* the line above was *wrapped*: the first word of this line would not have fitted in the space
  left before the right margin. A line that stops short of the margin ended on purpose
  ("Date: 3 March 2027"), one that reaches it was cut by the line breaker
  ("… session on 16" / "December 2026.").

The same test joins a paragraph across a page break. Headings are lines in a larger font (or
wholly bold and short); their level is the rank of their size. List items start with a bullet,
a number or a ballot box; their level is the rank of their indent; continuation lines hang
under the item's text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from workers.digest.blocks import Block

_BULLET = re.compile(
    r"^(?:(?P<glyph>[•◦▪▫‣⁃●○■□☐☑☒✓✔\-–—*·>])|(?P<enum>\(?(?:\d{1,3}|[a-zA-Z]|[ivxIVX]{1,4})[.)]))"
    r"\s+(?P<rest>\S.*)$"
)
_BOX_TEXT = re.compile(r"^\[(?P<mark>[ xX✓✔])\]\s+")
_GLYPH_CHECKED = {"☐": False, "□": False, "☑": True, "☒": True, "✓": True, "✔": True}
# "Decision:", "Action item:", "Maria:": a line that opens with a short label.
_LABEL = re.compile(r"^[A-Z][\w'’-]*(?: [\w'’-]+){0,2}: ")
_PAGE_NUMBER = re.compile(r"^(?:page\s*)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?$", re.IGNORECASE)
# A running foot that ends with its page number: "Board minutes 17 June 2026 - page 1 of 2".
_PAGE_FOOT = re.compile(r"\bpage\s+\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?$", re.IGNORECASE)


@dataclass(slots=True)
class Line:
    """One line of text with its box (points, y downwards), font size and boldness."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    bold: bool = False
    page: int = 1
    first_word_width: float = 0.0
    space_width: float = 0.0
    # Runs of words separated by a gap of a column (about an em or more): (x0, x1, text).
    cells: list[tuple[float, float, str]] = field(default_factory=list)


@dataclass(slots=True)
class PageLines:
    """The lines of one page in reading order, and tables already found on it."""

    number: int
    lines: list[Line]
    width: float | None = None  # the page's width, for its right margin when lines are few
    height: float | None = None  # the page's height: running heads sit in its top or bottom
    # (top, block): tables placed among the lines by their top edge.
    tables: list[tuple[float, Block]] = field(default_factory=list)


@dataclass(slots=True)
class _Open:
    """The block being built and what the next line is compared with."""

    block: Block
    last: Line
    text_x0: float  # where continuation lines start
    right: float  # the page's right margin when the last line was added
    trusted: bool  # whether several lines reach that margin (else it may be one long line)
    count: int = 1  # lines so far


def blocks_from_pages(pages: Iterable[PageLines], heading_ratio: float = 1.15) -> list[Block]:
    """Turn positioned lines, page after page, into headings, paragraphs, list items, tables."""
    pages = [page for page in pages if page.lines or page.tables]
    all_lines = [line for page in pages for line in page.lines]
    if not all_lines and not any(page.tables for page in pages):
        return []
    sizes: Counter[float] = Counter()
    for line in all_lines:
        sizes[round(line.size * 2) / 2] += len(line.text)
    body = sizes.most_common(1)[0][0] if sizes else 10.0
    heading_sizes = sorted({s for s in sizes if s >= body * heading_ratio}, reverse=True)
    list_indents = _indent_levels(
        [line for line in all_lines if not _heading_level(line, body, heading_ratio, heading_sizes)]
    )

    running = _running_heads(pages)
    blocks: list[Block] = []
    current: _Open | None = None
    for page in pages:
        lines = _without_page_numbers(_without_running_heads(page, running))
        body_lines = [line for line in lines if not _is_heading(line, body, heading_ratio)]
        right = max((line.x1 for line in body_lines), default=0.0)
        # Lines wrapped at the margin show where it is; with few of them, the longest line may
        # just be the longest sentence: then take the left margin mirrored, when the page
        # width is known, else accept the join only when no sentence ended.
        reaching = sum(1 for line in body_lines if line.x1 >= right - line.size)
        trusted = reaching >= 3
        if not trusted and page.width and body_lines:
            right = max(right, page.width - min(line.x0 for line in body_lines))
            trusted = True
        found, lines = _aligned_tables(lines)
        tables = sorted(page.tables + found, key=lambda item: item[0])
        for line in lines:
            while tables and tables[0][0] <= line.top:
                blocks.append(tables.pop(0)[1])
                current = None
            heading_level = _heading_level(line, body, heading_ratio, heading_sizes)
            if heading_level:
                if (
                    current is not None
                    and current.block.kind == "heading"
                    and current.block.level == heading_level
                    and current.last.page == line.page
                    and line.top - current.last.bottom <= 0.6 * (line.bottom - line.top)
                ):
                    current.block.text += " " + line.text  # a heading wrapped over two lines
                    current.last = line
                    continue
                block = Block(kind="heading", text=line.text, level=heading_level, page=line.page)
                blocks.append(block)
                current = _Open(block, line, line.x0, right, trusted)
                continue
            start = _BULLET.match(line.text)
            if start and not _is_continuation_of_sentence(current, line, start):
                block = _list_item(line, start, list_indents)
                blocks.append(block)
                offset = len(line.text) - len(block.text)
                text_x0 = line.x0 + offset * max(line.space_width, line.size * 0.4)
                current = _Open(block, line, text_x0, right, trusted)
                continue
            if current is not None and _continues(current, line, right, body):
                current.block.text = _join(current.block.text, line.text)
                if current.count == 1 and current.block.kind == "paragraph":
                    current.text_x0 = line.x0
                current.last, current.right, current.count = line, right, current.count + 1
                current.trusted = trusted
                continue
            box = _BOX_TEXT.match(line.text)
            if box:
                block = Block(
                    kind="list_item",
                    text=line.text[box.end() :],
                    checked=box.group("mark") != " ",
                    page=line.page,
                )
            else:
                block = Block(kind="paragraph", text=line.text, page=line.page)
            blocks.append(block)
            current = _Open(block, line, line.x0, right, trusted)
        for _, table in tables:
            blocks.append(table)
            current = None
    return blocks


def _is_heading(line: Line, body: float, ratio: float) -> bool:
    return line.size >= body * ratio and len(line.text) <= 150


def _heading_level(line: Line, body: float, ratio: float, heading_sizes: list[float]) -> int:
    """0 for body text; else 1 for the largest size, 2 for the next, and bold after them."""
    if _is_heading(line, body, ratio):
        rounded = round(line.size * 2) / 2
        return min(heading_sizes.index(rounded) + 1 if rounded in heading_sizes else 1, 6)
    text = line.text
    if (
        line.bold
        and abs(line.size - body) < body * 0.15
        and len(text) <= 90
        and not text.endswith((".", ",", ";"))
        and not _BULLET.match(text)
    ):
        return min(len(heading_sizes) + 1, 6)
    return 0


def _indent_levels(lines: list[Line]) -> list[float]:
    """The distinct left edges of list items in the document, leftmost first (4 pt apart)."""
    edges = sorted(line.x0 for line in lines if _BULLET.match(line.text))
    levels: list[float] = []
    for x in edges:
        if not levels or x - levels[-1] > 4:
            levels.append(x)
    return levels


def _list_item(line: Line, start: re.Match[str], indents: list[float]) -> Block:
    text = start.group("rest")
    glyph = start.group("glyph")
    checked = _GLYPH_CHECKED.get(glyph) if glyph else None
    box = _BOX_TEXT.match(text)
    if box:
        checked, text = box.group("mark") != " ", text[box.end() :]
    level = next((i for i, x in enumerate(indents) if line.x0 <= x + 4), 0)
    return Block(kind="list_item", text=text, level=level, checked=checked, page=line.page)


def _is_continuation_of_sentence(current: _Open | None, line: Line, start: re.Match[str]) -> bool:
    """A wrapped line may begin with "-" or "2." by chance: such a line hangs in a paragraph."""
    if current is None or current.block.kind != "paragraph" or start.group("glyph") is None:
        return False
    return start.group("glyph") in "-–—" and abs(line.x0 - current.text_x0) < 2


def _continues(current: _Open, line: Line, right: float, body: float) -> bool:
    block, last = current.block, current.last
    if block.kind not in ("paragraph", "list_item"):
        return False
    if abs(line.size - last.size) > max(0.6, last.size * 0.08):
        return False
    height = max(last.bottom - last.top, 1.0)
    if line.page == last.page:
        gap = line.top - last.bottom
        if gap > 0.9 * height or gap < -0.5 * height:
            return False
    elif line.page != last.page + 1:
        return False
    # Continuation lines start where the block's text starts (a first-line indent aside).
    if block.kind == "list_item":
        if line.x0 < current.text_x0 - 4 and abs(line.x0 - last.x0) > 4:
            return False
    elif abs(line.x0 - current.text_x0) > 4:
        # Only the second line may start left of the first: the first was indented.
        if not (current.count == 1 and 0 < current.text_x0 - line.x0 <= 40):
            return False
    space = last.space_width or last.size * 0.25
    if last.x1 + space + line.first_word_width < current.right - 2:
        return False  # the next word would have fitted: the line ended on purpose
    if last.text.endswith((".", "!", "?")) and _LABEL.match(line.text):
        return False  # "… by 12 March." then "Decision: …": a new entry, not a wrap
    return current.trusted or not last.text.endswith((".", "!", "?", ":"))


def _join(text: str, more: str) -> str:
    # A line that ends in a hyphen after a letter was hyphenated: keep the hyphen, no space.
    if len(text) > 1 and text.endswith("-") and text[-2].isalpha():
        return text + more
    return f"{text} {more}"


def _without_page_numbers(lines: list[Line]) -> list[Line]:
    """Drop a lone page number (or "Page 2 of 5") at the top or bottom of a page."""
    if not lines:
        return lines
    keep = list(lines)
    for index in (len(keep) - 1, 0):
        if 0 <= index < len(keep):
            text = keep[index].text.strip()
            if _PAGE_NUMBER.match(text) or (len(text) <= 120 and _PAGE_FOOT.search(text)):
                keep.pop(index)
    return keep


_DIGITS = re.compile(r"\d+")


def _edge_key(line: Line) -> str:
    return _DIGITS.sub("#", line.text.lower())


def _edges(page: PageLines) -> list[Line]:
    """Where running heads and feet sit: the two first and two last lines of a page, and of
    those only the ones in its top or bottom tenth when the page's height is known."""
    lines = page.lines
    edges = lines[:2] + lines[2:][-2:]
    if page.height:
        band = page.height * 0.1
        edges = [line for line in edges if line.top < band or line.bottom > page.height - band]
    return edges


def _running_heads(pages: list[PageLines]) -> set[str]:
    """Header and footer lines repeated on the pages' edges (both of two pages, else half and
    three at least), numbers aside ("Page 3 of 9", "Project X - Confidential"): page
    furniture, not content."""
    if len(pages) < 2:
        return set()
    counts: Counter[str] = Counter()
    for page in pages:
        counts.update({_edge_key(line) for line in _edges(page)})
    # Two pages: on both; more: on half of them, three at least.
    threshold = 2 if len(pages) == 2 else max(3, (len(pages) + 1) // 2)
    return {key for key, count in counts.items() if count >= threshold}


def _without_running_heads(page: PageLines, running: set[str]) -> list[Line]:
    if not running:
        return page.lines
    edges = {id(line) for line in _edges(page) if _edge_key(line) in running}
    return [line for line in page.lines if id(line) not in edges]


def _aligned_tables(lines: list[Line]) -> tuple[list[tuple[float, Block]], list[Line]]:
    """Tables without ruling lines (a photo of a printed table, a PDF set with tabs).

    A table is three lines or more whose column gaps line up: every cell starts under a cell
    of the first line (its header), within an em. A line with one cell under a later column
    is a cell wrapped onto the next line. Two columns whose first cells all end with ":" are a
    list of fields ("Chair:  Helen"), not a table.
    """
    found: list[tuple[float, Block]] = []
    used: set[int] = set()
    index = 0
    while index < len(lines):
        head = lines[index]
        if len(head.cells) < 2:
            index += 1
            continue
        columns = [cell[0] for cell in head.cells]
        rows = [[cell[2] for cell in head.cells]]
        end = index + 1
        while end < len(lines):
            line, above = lines[end], lines[end - 1]
            if line.page != head.page or line.top - above.bottom > 1.5 * (line.bottom - line.top):
                break
            slots = [_column(cell[0], columns, head.size) for cell in line.cells]
            if not slots or None in slots:
                break
            if len(line.cells) >= 2:
                row = [""] * len(columns)
                for slot, cell in zip(slots, line.cells, strict=True):
                    row[slot] = f"{row[slot]} {cell[2]}".strip()  # type: ignore[index]
                rows.append(row)
            elif slots[0]:  # one cell under a later column: the wrapped end of a cell
                column = slots[0]
                rows[-1][column] = f"{rows[-1][column]} {line.cells[0][2]}".strip()
            else:
                break
            end += 1
        fields = len(columns) == 2 and all(row[0].endswith(":") for row in rows)
        if len(rows) >= 3 and not fields:
            found.append(
                (head.top, Block(kind="table", header=rows[0], rows=rows[1:], page=head.page))
            )
            used.update(range(index, end))
            index = end
        else:
            index += 1
    return found, [line for number, line in enumerate(lines) if number not in used]


def _column(x: float, columns: list[float], tolerance: float) -> int | None:
    return next((k for k, start in enumerate(columns) if abs(x - start) <= tolerance), None)


def split_cells(
    words: list[tuple[float, float, str]], gap: float
) -> list[tuple[float, float, str]]:
    """Group a line's words (x0, x1, text), in order, into cells split at gaps of ``gap``."""
    cells: list[tuple[float, float, str]] = []
    for x0, x1, text in words:
        if cells and x0 - cells[-1][1] < gap:
            start, _, joined = cells[-1]
            cells[-1] = (start, x1, f"{joined} {text}")
        else:
            cells.append((x0, x1, text))
    return cells
