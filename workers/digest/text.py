"""Text → blocks, for the formats that arrive as text: Markdown (markdown-it-py) and plain text.

Markdown is parsed by markdown-it-py (CommonMark with tables), so headings, nested lists,
tables, quotes and code are what the author marked them as. Plain text has no markup, so its
structure is read from the lines: ATX/setext headings, short title-like lines, bullets with
their indentation, ``[ ]``/``[x]`` boxes, ``a | b`` table rows, ``----`` rules, and wrapped
lines re-joined into one paragraph or list item.

Inside a Markdown paragraph each soft line is regrouped the same way as plain text lines, so a
hard-wrapped sentence becomes one block while a run of ``Date: …`` / ``Chair: …`` lines stays
one block per line.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from workers.digest.blocks import Block
from workers.digest.sections import heading_role
from workers.digest.tables import aligned_table, delimited_table, delimiter_of, unpad_row_line
from workers.digest.words import person_name

#: Lines looked at; longer texts are cut (``workers.extract`` refuses far longer ones).
MAX_LINES = 60_000
#: Wrapped lines are re-joined up to this length.
MAX_LINE_CHARS = 5_000

_BULLET = re.compile(
    r"^(?P<indent>\s*)(?P<mark>[-*•·‣◦▪–+]|\(?\d{1,3}[.)]|\(?[a-z][.)])\s+(?P<body>.*)$"
)
_BOX = re.compile(r"^\[(?P<mark>[ xX✓✔/-]?)\]\s*(?P<body>.*)$")
_RULE = re.compile(r"^\s*([-=*_~])(?:\s*\1){2,}\s*$")
# "=== Action items ===" (wiki style) and "--- Notes ---".
_WIKI_HEADING = re.compile(r"^\s*(?P<marks>={2,6}|-{3,})\s*(?P<text>[^=\-].*?)\s*(?P=marks)\s*$")
_ATX = re.compile(r"^\s{0,3}(?P<hashes>#{1,6})\s+(?P<text>.*?)\s*#*\s*$")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_CONNECTOR_END = re.compile(
    r"(?:\b(?:by|to|the|and|or|of|for|on|with|a|an|in|at|from|before|after|that|which|is|are"
    r"|was|were|be|will|our|their|its|than|as|into|about|this|these|those|we|not|but|so"
    r"|next|until|within|end|during|per|via|under|over|without|between)"
    r"|[,\-–(&/])$",
    re.IGNORECASE,
)
_BOX_GLYPHS = frozenset("⬜☐🔲□◻☑☒✅")
_TERMINAL = re.compile(r"[.:;!?]['\")\]]?$")
# A line that starts something of its own: a "Key: value" field, a speaker, a label.
_OWN_LINE = re.compile(
    r"^(?:[\w@][\w .'’&/@-]{0,30}:\s|\*\*[^*]{1,40}\*\*|<[^>]{1,30}>|\[\d|\d{1,2}:\d\d\b|#\w"
    r"|\[[^\]]{1,30}\]\s*(?:[:\-–—+]\s*)?\S|(?::[a-z0-9_+\-]{1,30}:\s*\d*\s*)+$)"
)
_WEEKDAY_LINE = re.compile(
    r"^(?:mon|tues|wednes|thurs|fri|satur|sun)day\b[\w\s,]{0,20}[.;]?$", re.IGNORECASE
)
_MONTH_START = re.compile(
    r"^(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{4}\b", re.IGNORECASE
)
_SECTION_WORDS = re.compile(
    r"(?:open |new |key |agreed |next )?(?:action items?|actions?(?: log| list| arising| required"
    r"| and owners)?|next steps?|to-?dos?|follow[- ]?ups?|tasks?|action plan|risks?(?: and issues"
    r"| & issues| register| log)?|issues(?: and risks| & risks| log)?|raid(?: log)?|decisions?"
    r"(?: made| taken| log)?|resolutions?|agreements?|attendees|attendance|participants|present"
    r"|apologies|agenda|notes|minutes|summary|discussion|blockers|concerns|feedback"
    r"|consequences|drawbacks|context|background|status|updates)",
)


def blocks_from_text(text: str, *, markdown: bool = False) -> list[Block]:
    """The blocks of a plain-text or Markdown document, in reading order."""
    if markdown:
        return _markdown_blocks(text)
    return _plain_blocks(text.split("\n")[:MAX_LINES], first_line=1)


# --------------------------------------------------------------------------------------------
# Plain text


#: A chat export's message header: "Mira Jovanovic  9:02 AM", "sam.okoro [10:41]".
CHAT_HEADER = re.compile(
    r"^(?P<name>@?[^\W\d][\w.'’-]*(?:\s+[^\W\d][\w.'’-]*){0,3})\s*[,-]?\s+"
    r"\[?(?:(?:mon|tue|wed|thu|fri|sat|sun)\w*,?\s+)?\d{1,2}:\d\d(?::\d\d)?\s*(?:[ap]\.?m\.?)?\]?$",
    re.IGNORECASE,
)
# A line that is a task of its own, even after a long line: "Ana to book …", "[MK] to …".
_TASK_LINE = re.compile(
    r"^(?:\[[^\]]{1,30}\]|@?[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*)?)"
    r"(?:\s*(?:,|and|&|\+|/)\s*(?:\[[^\]]{1,30}\]|@?[A-Z][\w.'’-]*))*\s+(?:to|will|shall)\s+[a-z]"
)


def continues(previous: str, line: str) -> bool:
    """True if ``line`` is the wrapped tail of ``previous`` rather than a line of its own."""
    if len(previous) + len(line) > MAX_LINE_CHARS:
        return False
    if CHAT_HEADER.match(previous) or CHAT_HEADER.match(line):
        return False
    tail = previous[-40:]
    if " | " in previous or " | " in line:
        return False
    if _TERMINAL.search(tail) and not (tail.endswith((";", ",")) and line[:1].islower()):
        return False
    if _BULLET.match(line) or _BOX.match(line) or _OWN_LINE.match(line) or _ATX.match(line):
        return False
    if line[0] in _BOX_GLYPHS:
        return False  # "☐ Book a call …": a box drawn as a character starts its own item
    first = line[0]
    if first.islower() or first in "(&" or _CONNECTOR_END.search(tail):
        return True
    if _MONTH_START.match(line) and previous[-1:].isdigit():
        return True  # "... session on 16" / "December 2026."
    if _WEEKDAY_LINE.match(line):
        return True  # "... by next" / "Wednesday."
    if _TASK_LINE.match(line):
        return False
    # A long line that stops mid-sentence was wrapped by its writer or a PDF.
    return len(previous) >= 60 and len(line) >= 3 and not _looks_like_heading(line)


def _looks_like_heading(line: str) -> bool:
    return heading_level(line, alone=False) is not None


def heading_level(line: str, *, alone: bool, over_body: bool = False) -> int | None:
    """The level of a plain-text line used as a heading, or None when it is not one.

    ``alone``: the line stands after a break (a blank line, the end of a sentence or a list
    item) and before a blank line or a list, which makes a short title-like line a heading
    rather than the start of a paragraph. ``over_body``: a list or table follows directly,
    which makes even a sentence-case line ("Secure coding course") a heading.
    """
    bare = line.strip()
    if not bare or len(bare) > 80 or " | " in bare or bare.startswith(("[", "<", "(", "@", "#")):
        return None
    numbered = re.match(r"^(?:\d+(?:\.\d+)*[.)]?|[IVX]+[.)])\s+", bare)
    if numbered:
        bare = bare[numbered.end() :]
    elif _BULLET.match(bare):
        return None
    if bare.startswith("**") and bare.endswith(("**", "**:")):
        bare = bare.strip("*: ")
        if bare and ":" not in bare and len(bare.split()) <= 8:
            return 3
    had_colon = bare.endswith(":")
    bare = bare.rstrip(":").strip()
    # "CONCERNS RAISED (recorded, not blocking)": the aside does not make it a sentence.
    bare = re.sub(r"\s*\([^)]*\)\s*$", "", bare) or bare
    if not bare or ":" in bare or re.search(r"[.!?;,]$", bare):
        return None
    if numbered and over_body and len(bare.split()) <= 8 and not _VERBISH.search(bare):
        return 2  # "1. 4.2 release recap" over its indented notes
    if _SECTION_WORDS.fullmatch(bare.lower()):
        return 2
    words = bare.split()
    if len(words) > 8 or not bare[0].isupper():
        return None
    title_case = all(w[0].isupper() or len(w) <= 4 or not w[0].isalpha() for w in words)
    if bare.isupper() and len(bare) > 3:
        return 1 if alone else 2
    if (numbered and (title_case or had_colon)) or (alone and (had_colon or title_case)):
        if person_name(bare) and not had_colon and not over_body:
            return None  # "Maria Lopez" alone on a line is an attendee, not a heading
        return 2
    if alone and len(words) <= 6 and (over_body or ("(" not in bare and heading_role(bare))):
        if (person_name(bare) and not over_body) or (
            _VERBISH.search(bare) and not _WH_TITLE.match(bare)
        ):
            return None
        return 2
    return None


# A line with a verb of its own is a sentence introducing a list, not a title.
_VERBISH = re.compile(
    r"\b(?:is|are|was|were|will|to|has|have|had|should|must|can|did|does|we|i|you|they)\b",
    re.IGNORECASE,
)


# "What we agreed", "What we will try": a clause naming its section, not a sentence.
_WH_TITLE = re.compile(r"^(?:what|where|how)\s+(?:we|went|is|are)\b", re.IGNORECASE)


def _plain_blocks(lines: list[str], *, first_line: int) -> list[Block]:
    delimiter = delimiter_of(lines)  # a spreadsheet read as text: its rows are a table
    if delimiter is not None:
        lines = [unpad_row_line(line, delimiter) for line in lines]
    blocks: list[Block] = []
    current: Block | None = None  # the paragraph or list item a wrapped line may continue
    table: Block | None = None
    skip_until = 0  # lines already read as rows of a space-aligned table
    for offset, raw in enumerate(lines):
        if offset < skip_until:
            continue
        number = first_line + offset
        line = raw.rstrip()
        stripped = " ".join(line.split())
        if not stripped:
            current = None
            table = None
            continue
        next_blank = offset + 1 >= len(lines) or not lines[offset + 1].strip()
        prev_blank = offset == 0 or not lines[offset - 1].strip()

        wiki = _WIKI_HEADING.match(line)
        if wiki:
            marks = wiki.group("marks")
            level = max(1, 7 - len(marks)) if marks[0] == "=" else 2
            blocks.append(Block("heading", wiki.group("text"), min(level, 6), line=number))
            current = None
            table = None
            continue
        if _RULE.match(line):
            current = None
            table = None
            under = blocks[-1] if blocks else None
            if (
                not prev_blank
                and under is not None
                and under.kind in {"paragraph", "heading"}
                and "\n" not in under.text
                and under.line == number - 1
                and len(under.text) <= 80
                and stripped[0] in "-="
            ):
                # Setext heading: "Title" underlined by ==== or ----.
                blocks[-1] = Block(
                    "heading", under.text, 1 if stripped[0] == "=" else 2, line=under.line
                )
            else:
                blocks.append(Block("rule", line=number))
            continue

        aligned = _aligned_table(lines, offset) if "  " in line.strip() else None
        if aligned is None and delimiter is not None and line.count(delimiter) >= 2:
            aligned = _delimited_table(lines, offset, delimiter)
        if aligned is not None:
            table, used = aligned
            table.line = number
            blocks.append(table)
            skip_until = offset + used
            current = None
            continue
        if "|" in stripped and (" | " in stripped or stripped.startswith("|")):
            if _TABLE_SEPARATOR.match(stripped):
                continue
            cells = [cell.strip() for cell in stripped.strip("|").split("|")]
            if len(cells) >= 2:
                if table is not None and abs(len(cells) - len(table.header)) <= 1:
                    table.rows.append(cells)
                else:
                    table = Block("table", header=cells, line=number)
                    blocks.append(table)
                current = None
                continue
        table = None

        atx = _ATX.match(line)
        if atx:
            blocks.append(
                Block(
                    "heading", atx.group("text").strip("*_ "), len(atx.group("hashes")), line=number
                )
            )
            current = None
            continue

        bullet = _BULLET.match(line)
        if bullet and bullet.group("body").strip():
            indent = len(bullet.group("indent").expandtabs(4))
            body = " ".join(bullet.group("body").split())
            checked = None
            box = _BOX.match(body)
            if box:
                checked = box.group("mark").strip() not in {"", "/"}
                body = box.group("body")
            mark = bullet.group("mark")
            if mark[0].isdigit() or mark.startswith("("):
                deeper = _next_is_deeper(lines, offset, indent)
                level = heading_level(
                    stripped, alone=prev_blank and (next_blank or deeper), over_body=deeper
                )
                if level is not None and checked is None and prev_blank:
                    blocks.append(Block("heading", body.rstrip(":"), level, line=number))
                    current = None
                    continue
                if checked is None and mark[0].isdigit() and _numbered_title(lines, offset, body):
                    # "2. Objectives and scope" over its minutes, no blank line around it.
                    blocks.append(Block("heading", body.rstrip(":"), 2, line=number))
                    current = None
                    continue
            current = Block("list_item", body, level=indent // 2, checked=checked, line=number)
            blocks.append(current)
            continue

        box = _BOX.match(stripped)
        if box:
            current = Block(
                "list_item",
                box.group("body"),
                checked=box.group("mark").strip() not in {"", "/"},
                line=number,
            )
            blocks.append(current)
            continue

        if current is not None and continues(current.text, stripped):
            joiner = "" if current.text.endswith("-") and stripped[:1].islower() else " "
            head = current.text[:-1] if joiner == "" else current.text
            current.text = f"{head}{joiner}{stripped}"
            continue

        over_body = _next_is_body(lines, offset)
        after_break = prev_blank or bool(
            blocks
            and (
                blocks[-1].kind in {"list_item", "heading", "table", "rule"}
                or _TERMINAL.search(blocks[-1].text)
            )
        )
        if (
            offset == 0
            and next_blank
            and len(lines) > 3
            and len(stripped) <= 100
            and not stripped.endswith((".", ",", "!"))  # "Hi all," greets, it is no title
            and not _OWN_LINE.match(stripped)
        ):
            blocks.append(Block("heading", stripped.strip("*_ #"), 1, line=number))
            continue
        level = heading_level(
            stripped, alone=after_break and (next_blank or over_body), over_body=over_body
        )
        if level is not None:
            text = stripped.strip("*_ ").rstrip(":").strip()
            blocks.append(Block("heading", text, level, line=number))
            current = None
            continue
        current = Block("paragraph", stripped, line=number)
        blocks.append(current)
    return blocks


def _delimited_table(lines: list[str], offset: int, delimiter: str) -> tuple[Block, int] | None:
    found = delimited_table(lines, offset, delimiter)
    if found is None:
        return None
    header, rows, used = found
    return Block("table", header=header, rows=rows), used


def _aligned_table(lines: list[str], offset: int) -> tuple[Block, int] | None:
    found = aligned_table(lines, offset)
    if found is None:
        return None
    header, rows, used = found
    return Block("table", header=header, rows=rows), used


_NUMBERED = re.compile(r"^\s*\(?\d{1,3}[.)]\s")


def _numbered_title(lines: list[str], offset: int, body: str) -> bool:
    """A numbered line that titles the text under it: short, no sentence of its own, and the
    next line is its body (not the next number of a list)."""
    if offset + 1 >= len(lines) or not lines[offset + 1].strip():
        return False
    following = lines[offset + 1]
    if _NUMBERED.match(following) or re.match(r"^\s*\(?[a-z][.)]\s", following):
        return False  # the next item of the same numbered list
    bullets = bool(_BULLET.match(following) or _BOX.match(following.strip()))
    words = body.rstrip(":").split()
    return (
        1 <= len(words) <= 8
        and body[:1].isupper()
        and not re.search(r"[.;!?,]$", body)
        and not _VERBISH.search(body)
        and (bullets or len(following.strip()) > len(body))
    )


def _next_is_deeper(lines: list[str], offset: int, indent: int) -> bool:
    """The next line is a list item indented deeper than ``indent`` (notes under a topic)."""
    if offset + 1 >= len(lines):
        return False
    following = _BULLET.match(lines[offset + 1])
    if not following:
        return False
    if len(following.group("indent").expandtabs(4)) > indent:
        return True
    # Indentation lost on the way (some extractors strip it): "1. Topic" over "- note".
    return not following.group("mark")[0].isalnum() and not following.group("mark").startswith("(")


def _next_is_body(lines: list[str], offset: int) -> bool:
    """The line after a title-like line starts a list or a table (a heading over its items)."""
    if offset + 1 >= len(lines):
        return False
    following = lines[offset + 1]
    return bool(
        _BULLET.match(following)
        or _BOX.match(following.strip())
        or _RULE.match(following)
        or following.count(" | ") >= 1  # a table's header row: "Ref | Action | Owner"
    )


# --------------------------------------------------------------------------------------------
# Markdown


@lru_cache(maxsize=1)
def _parser() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def _inline_text(token: Any) -> str:
    """Plain text of an inline token; soft and hard breaks become newlines."""
    parts: list[str] = []
    for child in token.children or []:
        if child.type in {"text", "code_inline", "html_inline"}:
            if child.type == "html_inline" and child.content.startswith("<!--"):
                continue
            parts.append(child.content)
        elif child.type in {"softbreak", "hardbreak"}:
            parts.append("\n")
        elif child.type == "image":
            parts.append(child.content)
        elif child.type in {"s_open", "s_close"}:
            parts.append("~~")
        elif child.type in {"strong_open", "strong_close"}:
            parts.append("**")
    return "".join(parts)


_FRONT_FIELD = re.compile(r"^[\w-]{1,40}:(?:\s|$)")


def _front_matter(lines: list[str]) -> int:
    """Lines taken by YAML front matter (``---`` / ``key: value`` lines / ``---``), else 0."""
    if not lines or lines[0].strip() != "---":
        return 0
    for index, line in enumerate(lines[1:60], start=1):
        if line.strip() in {"---", "..."}:
            return index + 1 if index > 1 else 0
        if line.strip() and not (_FRONT_FIELD.match(line.strip()) or line[:1] in " \t-"):
            return 0
    return 0


def _markdown_blocks(text: str) -> list[Block]:
    lines = text.split("\n")[:MAX_LINES]
    # Front matter ("date: 2026-08-27", "title: …") holds one field per line: each its own
    # paragraph, never a setext heading over the closing "---".
    front = _front_matter(lines)
    blocks: list[Block] = [
        Block("paragraph", " ".join(line.split()), line=number)
        for number, line in enumerate(lines[1 : front - 1], start=2)
        if line.strip() and front
    ]
    tokens = _parser().parse("\n".join([""] * front + lines[front:]))
    list_depth = 0
    in_item = 0
    quote_depth = 0
    item_block: Block | None = None
    row: list[str] | None = None
    table: Block | None = None
    in_head = False
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        line = tok.map[0] + 1 if tok.map else None
        kind = tok.type
        if kind in {"bullet_list_open", "ordered_list_open"}:
            list_depth += 1
        elif kind in {"bullet_list_close", "ordered_list_close"}:
            list_depth -= 1
        elif kind == "list_item_open":
            in_item += 1
            item_block = None
        elif kind == "list_item_close":
            in_item -= 1
            item_block = None
        elif kind == "blockquote_open":
            quote_depth += 1
        elif kind == "blockquote_close":
            quote_depth -= 1
        elif kind == "heading_open":
            content = _inline_text(tokens[i + 1]).replace("\n", " ").replace("**", "").strip()
            if quote_depth:
                blocks.append(Block("quote", content, line=line))
            else:
                blocks.append(Block("heading", content, int(tok.tag[1]), line=line))
            i += 3
            continue
        elif kind == "hr":
            blocks.append(Block("rule", line=line))
        elif kind == "fence" or (kind == "html_block" and tok.content.lstrip().startswith("<!--")):
            blocks.append(Block("quote", tok.content.strip(), line=line))  # code, comments
        elif kind in {"code_block", "html_block"}:
            # An indented paragraph ("    Outcome: …" under a numbered item) or an HTML table
            # pasted into the notes: still the author's words, read as plain text.
            content = tok.content if kind == "code_block" else _html_text(tok.content)
            blocks.extend(_plain_blocks(content.split("\n"), first_line=line or 1))
        elif kind == "table_open":
            table = Block("table", line=line)
            blocks.append(table)
        elif kind == "table_close":
            table = None
        elif kind == "thead_open":
            in_head = True
        elif kind == "thead_close":
            in_head = False
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close" and table is not None and row is not None:
            if in_head:
                table.header = row
            else:
                table.rows.append(row)
            row = None
        elif kind == "inline" and row is not None:
            row.append(" ".join(_inline_text(tok).replace("**", "").split()))
        elif kind == "paragraph_open":
            content = _inline_text(tokens[i + 1])
            i += 3
            if quote_depth:
                blocks.append(
                    Block("quote", " ".join(content.replace("**", "").split()), line=line)
                )
                continue
            if in_item and item_block is None:
                item_block = _list_item(content, list_depth - 1, line)
                blocks.append(item_block)
                # Soft lines after the first one of an item that start a field stay separate.
                rest = item_block.text.split("\n")
                item_block.text = rest[0]
                for extra in _regroup(rest[1:], line):
                    blocks.append(extra)
                continue
            blocks.extend(_regroup(content.split("\n"), line))
            continue
        i += 1
    return blocks


_BOLD_SPEAKER = re.compile(r"^\*\*[^*:]{1,40}?\s*(?::\s*\*\*|\*\*\s*:)")


def unbold(text: str) -> str:
    """``text`` without bold markup, except a leading ``**Name**:`` (a speaker's turn, which
    ``refine`` reads by that very markup)."""
    lead = _BOLD_SPEAKER.match(text)
    if lead:
        return lead.group(0) + text[lead.end() :].replace("**", "")
    return text.replace("**", "")


_HTML_BREAK = re.compile(r"<(?:br\s*/?|/p|/li|/tr|/h[1-6]|/div|/table)\s*>", re.IGNORECASE)
_HTML_CELL = re.compile(r"</t[dh]\s*>\s*(?=<t[dh])", re.IGNORECASE)
_HTML_TAG = re.compile(r"<[^>]{0,400}>")


def _html_text(html: str) -> str:
    """The lines of an HTML block inside Markdown: rows as "a | b", tags dropped."""
    import html as entities

    text = _HTML_CELL.sub(" | ", html)
    text = _HTML_BREAK.sub("\n", text)
    return entities.unescape(_HTML_TAG.sub("", text))


def _list_item(content: str, level: int, line: int | None) -> Block:
    lines = [unbold(part) for part in content.split("\n")]
    first = lines[0].strip()
    checked = None
    box = _BOX.match(first)
    if box:
        checked = box.group("mark").strip() not in {"", "/"}
        first = box.group("body")
    text = first
    rest: list[str] = []
    for extra in lines[1:]:
        extra = " ".join(extra.split())
        if extra and continues(text, extra) and not rest:
            text = f"{text} {extra}"
        elif extra:
            rest.append(extra)
    block = Block(
        "list_item", " ".join(text.split()), level=max(level, 0), checked=checked, line=line
    )
    if rest:
        block.text += "\n" + "\n".join(rest)
    return block


def _regroup(lines: list[str], line: int | None) -> list[Block]:
    """Soft lines of one Markdown paragraph → paragraphs (wraps joined) and headings."""
    blocks: list[Block] = []
    current: Block | None = None
    skip_until = 0
    for offset, raw in enumerate(lines):
        text = " ".join(raw.split())
        if not text or offset < skip_until:
            continue
        aligned = _aligned_table(lines, offset) if "  " in raw.strip() else None
        if aligned is not None:
            table, used = aligned
            table.line = line + offset if line is not None else None
            blocks.append(table)
            skip_until = offset + used
            current = None
            continue
        if current is not None and continues(current.text, text):
            current.text = f"{current.text} {text}"
            continue
        number = line + offset if line is not None else None
        if len(lines) == 1 and raw.strip().startswith("**") and heading_level(raw, alone=True):
            blocks.append(Block("heading", text.strip("*: "), 3, line=number))
            current = None
            continue
        current = Block("paragraph", unbold(text), line=number)
        blocks.append(current)
    return blocks
