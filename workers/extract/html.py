"""HTML to blocks: headings, paragraphs, nested lists with checkboxes, tables, quotes, rules.

Inline markup is flattened into its paragraph (``<strong>Name</strong>: …`` stays the text
"Name: …", which the digest reads as a speaker turn); scripts, styles and embedded documents
are dropped before anything is read. ``<br>`` ends a paragraph: minutes written in HTML put
one "Date: …" / "Attendees: …" line per ``<br>``.
"""

from __future__ import annotations

import re
import warnings
from typing import IO, Any

from workers.digest.blocks import Block, DocumentModel
from workers.extract.common import Extracted, TextBudget, blocks_text, clean_cell
from workers.extract.errors import EmptyFile, TextTooLong, UnreadableDocument
from workers.extract.limits import MAX_TEXT_INPUT_BYTES

# Elements whose content is never shown as text (scripts, styles, embedded documents).
_DROP = (
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "object",
    "embed",
    "svg",
    "math",
    "canvas",
    "head",
)
# Elements that end the paragraph before them and start a new one.
_BLOCKS = frozenset(
    "address article aside caption dd details dialog div dl dt fieldset figcaption figure "
    "footer form header main nav p section summary tbody thead tfoot tr td th body html "
    "center".split()
)
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BOX = re.compile(r"^\[([ xX✓✔])\]\s+")


def extract_html(stream: IO[bytes], limit: int) -> Extracted:
    from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning

    data = stream.read(MAX_TEXT_INPUT_BYTES + 1)
    if not data:
        raise EmptyFile()
    if len(data) > MAX_TEXT_INPUT_BYTES:
        raise TextTooLong(limit)
    try:
        markup = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableDocument(
            "The file is not valid UTF-8 text; save it as UTF-8 and upload it again."
        ) from None
    del data
    with warnings.catch_warnings():
        # bs4 warns when markup looks like a URL or is XHTML; both are fine to parse here,
        # and the test suite turns warnings into errors.
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(markup, "html.parser")
    del markup
    title = clean_cell(soup.title.get_text()) if soup.title else ""
    for element in soup.find_all(_DROP):
        element.decompose()
    reader = _Reader(TextBudget(limit))
    reader.walk(soup, 0)
    reader.flush()
    first_heading = next((b.text for b in reader.blocks if b.kind == "heading"), None)
    if title and title != first_heading:
        # The page's <title> has always been part of its text (and is often its only name).
        reader.blocks.insert(0, Block(kind="heading", text=title, level=1))
    return Extracted(
        text=blocks_text(reader.blocks), model=DocumentModel(blocks=reader.blocks, title=title)
    )


class _Reader:
    """Depth-first walk that collects inline text until a block boundary flushes it."""

    def __init__(self, budget: TextBudget) -> None:
        self.budget = budget
        self.blocks: list[Block] = []
        self.inline: list[str] = []
        # (level, checked) while the text of a list item is being collected.
        self.item: list[Any] | None = None
        self.box: bool | None = None  # a checkbox seen outside a list item

    def add(self, block: Block) -> None:
        self.budget.spend(sum(len(line) + 1 for line in blocks_text([block]).split("\n")))
        self.blocks.append(block)

    def flush(self) -> None:
        """End the paragraph (or the list item's text) collected so far."""
        text = clean_cell("".join(self.inline))
        self.inline = []
        if not text:
            return  # an item whose text starts inside a <p> keeps waiting for it
        if self.item is not None:
            (level, checked), kind = self.item, "list_item"
            self.item = None  # text after a nested list is a paragraph, not the item again
        else:
            level, checked = 0, self.box
            kind = "paragraph" if checked is None else "list_item"
        self.box = None
        if checked is None:
            match = _BOX.match(text)
            if match:  # "[ ] …" / "[x] …" typed as text
                checked, text, kind = match.group(1) != " ", text[match.end() :], "list_item"
        self.add(Block(kind=kind, text=text, level=level, checked=checked))

    def walk(self, node: Any, depth: int) -> None:
        from bs4 import NavigableString, Tag
        from bs4.element import PreformattedString

        for child in node.children:
            if isinstance(child, NavigableString):
                if not isinstance(child, PreformattedString):  # comments, doctype, CDATA
                    self.inline.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name
            if name == "br":
                self.flush()
            elif name in _HEADINGS:
                self.flush()
                text = _text_of(child)
                if text:
                    self.add(Block(kind="heading", text=text, level=_HEADINGS[name]))
            elif name in ("ul", "ol", "menu"):
                self.flush()
                self.list(child, depth)
            elif name == "li":  # an item outside any list
                self.flush()
                self.list_item(child, depth)
            elif name == "table":
                self.flush()
                table = _table(child)
                if table is not None:
                    self.add(table)
            elif name == "blockquote":
                self.flush()
                text = _text_of(child)
                if text:
                    self.add(Block(kind="quote", text=text))
            elif name == "hr":
                self.flush()
                self.add(Block(kind="rule"))
            elif name == "pre":
                # Preformatted text (a mailing-list archive's message, a pasted log) is a
                # plain-text document: its own lines, blank lines and indents say its layout.
                from workers.digest.text import blocks_from_text

                self.flush()
                for block in blocks_from_text(child.get_text()):
                    self.add(block)
            elif name == "input":
                if (child.get("type") or "").lower() == "checkbox":
                    state = child.has_attr("checked")
                    if self.item is not None:
                        self.item[1] = state
                    else:
                        self.box = state
            elif name in _BLOCKS:
                self.flush()
                self.walk(child, depth)
                self.flush()
            else:
                self.walk(child, depth)

    def list(self, node: Any, depth: int) -> None:
        from bs4 import Tag

        for child in node.children:
            if not isinstance(child, Tag):
                continue
            if child.name == "li":
                self.list_item(child, depth)
            elif child.name in ("ul", "ol"):  # a list nested without its <li> (common)
                self.list(child, depth + 1)
            else:
                self.walk(child, depth)
                self.flush()

    def list_item(self, li: Any, depth: int) -> None:
        self.flush()
        self.item = [depth, None]
        self.walk(li, depth + 1)
        self.flush()
        self.item = None


def _text_of(tag: Any) -> str:
    """The visible text of an element, with a space where a block or line break was."""
    from bs4 import NavigableString, Tag
    from bs4.element import PreformattedString

    parts: list[str] = []
    for node in tag.descendants:
        if isinstance(node, NavigableString):
            if not isinstance(node, PreformattedString):
                parts.append(str(node))
        elif isinstance(node, Tag) and (node.name in _BLOCKS or node.name in ("br", "li")):
            parts.append(" ")
    return clean_cell("".join(parts))


def _table(table: Any) -> Block | None:
    """Rows of a table (not of tables nested in it); header from <thead> or a row of <th>."""
    rows: list[list[str]] = []
    header: list[str] = []
    for tr in table.find_all("tr"):
        if tr.find_parent("table") is not table:
            continue
        cells = tr.find_all(["td", "th"], recursive=False)
        texts = [_text_of(cell) for cell in cells]
        if not any(texts):
            continue
        is_header = tr.find_parent("thead") is not None or all(c.name == "th" for c in cells)
        if is_header and not header and not rows:
            header = texts
        else:
            rows.append(texts)
    if not header and not rows:
        return None
    if not header:
        # No <th>: the first row is the header, as tables are written (and as CSV reads).
        header, rows = rows[0], rows[1:]
    return Block(kind="table", header=header, rows=rows)
