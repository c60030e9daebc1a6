"""Word (.docx) documents to blocks: headings, list levels, checkboxes, tables, core properties.

Read from the XML python-docx parses, not from ``paragraph.text``: that skips content controls
(where Word keeps checkboxes) and says nothing about numbering. What counts:

* a heading is a paragraph styled "Title" / "Heading N" (or a style based on one), or one
  with an outline level (``w:outlineLvl``), which is how Word marks custom heading styles;
* a list item is a paragraph with numbering (``w:numPr``, level ``w:ilvl``) on itself or on
  its style ("List Bullet 2"), or one styled "List …";
* a checkbox is a ``w14:checkbox`` content control or a leading ballot glyph (☐ ☑ ☒);
* a table's first row is its header (Word's "repeat header row" marks it, but few set it).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from typing import IO, Any

from workers.digest.blocks import Block, DocumentModel
from workers.extract.common import Extracted, TextBudget, blocks_text, clean_cell
from workers.extract.detect import check_docx_archive
from workers.extract.errors import ExtractionError, UnreadableDocument

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
W14 = "{http://schemas.microsoft.com/office/word/2010/wordml}"

_APP_PAGES = re.compile(rb"<(?:\w+:)?Pages>\s*(\d+)\s*</(?:\w+:)?Pages>")
_APP_WORDS = re.compile(rb"<(?:\w+:)?Words>\s*(\d+)\s*</(?:\w+:)?Words>")
_HEADING_STYLE = re.compile(r"^(?:heading|überschrift|titre|título)\s*(\d)$", re.IGNORECASE)
_LIST_STYLE = re.compile(r"^list(?: (?:bullet|number|paragraph|continue))?(?: (\d))?$", re.I)
# Ballot boxes and check marks people type or paste in front of a to-do line.
_BOX_GLYPHS = {"☐": False, "□": False, "❏": False, "☑": True, "☒": True, "✓": True, "✔": True}


def _docx_page_count(archive: zipfile.ZipFile) -> int | None:
    """Pages as last saved by Word (docProps/app.xml); None when the producer did not say."""
    try:
        info = archive.getinfo("docProps/app.xml")
    except KeyError:
        return None
    if info.file_size > 1024 * 1024:
        return None
    properties = archive.read(info)
    # python-docx and other generators copy a template that says <Pages>1</Pages> with
    # <Words>0</Words>; Word and LibreOffice refresh both on save, so trust only non-zero words.
    words = _APP_WORDS.search(properties)
    if not words or int(words.group(1)) == 0:
        return None
    match = _APP_PAGES.search(properties)
    pages = int(match.group(1)) if match else 0
    return pages or None


def extract_docx(stream: IO[bytes], limit: int) -> Extracted:
    from docx import Document

    if not stream.seekable():
        stream = io.BytesIO(stream.read())
    try:
        with zipfile.ZipFile(stream) as archive:
            check_docx_archive(archive)
            if "word/document.xml" not in archive.namelist():
                raise UnreadableDocument()
            pages = _docx_page_count(archive)
        stream.seek(0)
        document = Document(stream)
        reader = _Reader(document, TextBudget(limit))
        blocks = reader.blocks()
        model = DocumentModel(blocks=blocks, pages=pages, **_core_properties(document))
    except ExtractionError:
        raise
    except RecursionError:
        raise UnreadableDocument() from None
    except Exception:
        # Broken zips and XML surface as BadZipFile, KeyError, lxml errors, python-docx's
        # PackageNotFoundError...; the user only needs to know the file is not usable.
        raise UnreadableDocument() from None
    return Extracted(text=blocks_text(blocks), pages=pages, model=model)


def _core_properties(document: Any) -> dict[str, Any]:
    """Title, date (created, else modified) and author as the file's properties record them."""
    props = document.core_properties
    when = props.created or props.modified
    date = when.date() if isinstance(when, dt.datetime) else None
    # python-docx's template stamps 2013-12-23 and "python-docx": a generator's, not a person's.
    if props.author == "python-docx":
        return {"title": props.title or "", "date": None, "author": None}
    return {"title": props.title or "", "date": date, "author": props.author or None}


class _Reader:
    """Walks the body once, in order, turning paragraphs and tables into blocks."""

    def __init__(self, document: Any, budget: TextBudget) -> None:
        self.document = document
        self.budget = budget
        self._style_cache: dict[str, tuple[int | None, int | None]] = {}

    def blocks(self) -> list[Block]:
        out: list[Block] = []
        for child in self.document.element.body.iterchildren():
            if child.tag == f"{W}p":
                block = self._paragraph(child)
                if block is not None:
                    out.append(block)
            elif child.tag == f"{W}tbl":
                block = self._table(child)
                if block is not None:
                    out.append(block)
            elif child.tag == f"{W}sdt":  # a block-level content control: read what it holds
                for inner in child.iter(f"{W}p"):
                    block = self._paragraph(inner)
                    if block is not None:
                        out.append(block)
        return out

    # -- paragraphs ------------------------------------------------------------------------

    def _paragraph(self, p: Any) -> Block | None:
        checked, text = self._text_and_box(p)
        if not text:
            return None
        self.budget.spend(len(text) + 1)
        style_id = _val(p.find(f"{W}pPr/{W}pStyle"))
        heading_level, style_list_level = self._style_info(style_id)
        outline = _val(p.find(f"{W}pPr/{W}outlineLvl"))
        if outline is not None and outline.isdigit() and int(outline) < 9:
            heading_level = int(outline) + 1
        if heading_level is not None:
            return Block(kind="heading", text=text, level=min(heading_level, 6))
        numbering = p.find(f"{W}pPr/{W}numPr")
        list_level = style_list_level
        if numbering is not None and _val(numbering.find(f"{W}numId")) != "0":
            ilvl = _val(numbering.find(f"{W}ilvl"))
            list_level = int(ilvl) if ilvl and ilvl.isdigit() else (list_level or 0)
        if list_level is not None or checked is not None:
            return Block(kind="list_item", text=text, level=list_level or 0, checked=checked)
        return Block(kind="paragraph", text=text)

    def _text_and_box(self, p: Any) -> tuple[bool | None, str]:
        """The paragraph's visible text (content controls included) and its checkbox state."""
        parts: list[str] = []
        checked: bool | None = None
        for element in p.iter(f"{W}t", f"{W}tab", f"{W}br", f"{W14}checkbox", f"{W}sdt"):
            tag = element.tag
            if tag == f"{W}t":
                parts.append(element.text or "")
            elif tag in (f"{W}tab", f"{W}br"):
                parts.append(" ")
            elif tag == f"{W14}checkbox":
                state = element.find(f"{W14}checked")
                value = state.get(f"{W14}val") if state is not None else "0"
                checked = value in ("1", "true")
        text = clean_cell("".join(parts))
        # A checkbox control shows its glyph as text; a typed glyph is the box itself.
        if text and text[0] in _BOX_GLYPHS:
            if checked is None:
                checked = _BOX_GLYPHS[text[0]]
            text = text[1:].strip()
        return checked, text

    def _style_info(self, style_id: str | None) -> tuple[int | None, int | None]:
        """(heading level, list level) a paragraph style gives, following "based on" links."""
        if not style_id:
            return None, None
        if style_id not in self._style_cache:
            self._style_cache[style_id] = self._lookup_style(style_id)
        return self._style_cache[style_id]

    def _lookup_style(self, style_id: str) -> tuple[int | None, int | None]:
        styles = self.document.styles.element
        seen: set[str] = set()
        current: str | None = style_id
        while current and current not in seen:
            seen.add(current)
            style = next(
                (s for s in styles.iterchildren(f"{W}style") if s.get(f"{W}styleId") == current),
                None,
            )
            if style is None:
                break
            name = _val(style.find(f"{W}name")) or current
            if name.lower() == "title":
                return 1, None
            match = _HEADING_STYLE.match(name)
            if match:
                return int(match.group(1)), None
            outline = _val(style.find(f"{W}pPr/{W}outlineLvl"))
            if outline is not None and outline.isdigit() and int(outline) < 9:
                return int(outline) + 1, None
            numbering = style.find(f"{W}pPr/{W}numPr")
            list_match = _LIST_STYLE.match(name)
            if numbering is not None or list_match:
                ilvl = _val(numbering.find(f"{W}ilvl")) if numbering is not None else None
                if ilvl and ilvl.isdigit():
                    return None, int(ilvl)
                number = list_match.group(1) if list_match else None
                return None, int(number) - 1 if number else 0
            current = _val(style.find(f"{W}basedOn"))
        return None, None

    # -- tables ----------------------------------------------------------------------------

    def _table(self, tbl: Any) -> Block | None:
        rows: list[list[str]] = []
        header_rows = 0
        for tr in tbl.iterchildren(f"{W}tr"):
            cells: list[str] = []
            # A cell spanning columns (gridSpan) is one w:tc: kept once, as before.
            for tc in tr.iterchildren(f"{W}tc"):
                cells.append(clean_cell(" ".join(_cell_texts(tc))))
            if not any(cells):
                continue
            self.budget.spend(sum(len(cell) for cell in cells) + 3 * (len(cells) - 1) + 1)
            if tr.find(f"{W}trPr/{W}tblHeader") is not None and header_rows == len(rows):
                header_rows += 1
            rows.append(cells)
        if not rows:
            return None
        # The repeat-header flag when set, else the first row (how tables are written).
        header = (
            rows[0]
            if header_rows <= 1
            else [" / ".join(c) for c in zip(*rows[:header_rows], strict=False)]
        )
        return Block(kind="table", header=header, rows=rows[max(header_rows, 1) :])


def _cell_texts(tc: Any) -> list[str]:
    """Each paragraph of a table cell (nested tables included) as one string."""
    texts = []
    for p in tc.iter(f"{W}p"):
        text = "".join(t.text or "" for t in p.iter(f"{W}t"))
        if text.strip():
            texts.append(text)
    return texts


def _val(element: Any) -> str | None:
    return None if element is None else element.get(f"{W}val")
