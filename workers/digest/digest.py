"""The digest, top-down: blocks → refined blocks → sections → extractors → one JSON document.

Rules and statistics only: no network, no model, no clock. The same input always gives the
same digest, which keeps re-processing idempotent and the tests exact.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from workers.digest import chat as chat_turns
from workers.digest.actions import extract_actions
from workers.digest.blocks import Block, DocumentModel
from workers.digest.dates import (
    DateHit,
    day_first,
    document_date,
    find_dates,
    is_superseded,
    next_meeting_date,
    superseded_spans,
)
from workers.digest.decisions import extract_decisions
from workers.digest.locate import locate
from workers.digest.owners import Context, person_aliases
from workers.digest.people import PEOPLE_FIELD, collect_people, keywords, nicks_in_turns
from workers.digest.refine import refine
from workers.digest.risks import extract_risks
from workers.digest.sections import Section, split_sections
from workers.digest.summary import summarise
from workers.digest.tables import column_roles
from workers.digest.text import blocks_from_text
from workers.digest.words import LOWER_WORD, WORD, clip, sentences

#: Longest text looked at; ``workers.extract`` refuses longer ones anyway.
MAX_CHARS = 2_000_000
MAX_KEY_DATES = 30
WORDS_PER_MINUTE = 230

_MARKDOWN_HINTS = re.compile(r"^(?:#{1,6}\s|```|\|.*\|\s*$)", re.MULTILINE)


def looks_like_markdown(text: str, filename: str = "") -> bool:
    """Parse as Markdown only when the text still carries its markup: an extractor may hand
    out a ``.md`` file's text with the markup already stripped."""
    if filename and not filename.lower().endswith((".md", ".markdown", ".txt", ".text")):
        return False
    return bool(_MARKDOWN_HINTS.search(text[:20_000]))


def build_digest(
    text: str,
    *,
    title: str = "",
    pages: int | None = None,
    reference_date: dt.date | None = None,
    dayfirst: bool | None = None,
    model: DocumentModel | None = None,
    filename: str = "",
) -> dict[str, Any]:
    """The JSON-serialisable project-management digest of a document (see the package doc).

    ``dayfirst`` None: the document's own dates tell (see ``dates.day_first``)."""
    text = text[:MAX_CHARS]
    if model is not None:
        raw_blocks = unstyled(list(model.blocks))
        if not text:
            text = "\n".join(_block_text(b) for b in raw_blocks)
        pages = pages if pages is not None else model.pages
        title = title or model.title
    else:
        raw_blocks = blocks_from_text(text, markdown=looks_like_markdown(text, filename))
    if dayfirst is None:
        dayfirst = day_first(text)
    chat = chat_turns.read_chat(text, dayfirst) if model is None else None
    if chat is not None:  # a chat export: its messages as speaker turns (workers.digest.chat)
        raw_blocks = chat.blocks
    blocks = chat_turns.owner_led(refine(raw_blocks))

    found_date = reference_date or document_date(
        blocks,
        model_date=model.date if model is not None else None,
        model_date_sent=model is not None and model.date_source == "sent",
        filename=filename,
        title=title,
        dayfirst=dayfirst,
    )
    lower_vocabulary = frozenset(m.lower() for m in LOWER_WORD.findall(text))
    ctx = Context(
        reference=found_date,
        dayfirst=dayfirst,
        lower_vocabulary=lower_vocabulary,
        known={b.speaker for b in blocks if b.speaker}
        | _attendee_names(blocks)
        | nicks_in_turns(blocks),
        author=_display_name(model.author) if model is not None and model.author else None,
        next_meeting=next_meeting_date(blocks, found_date, dayfirst),
        aliases=person_aliases(
            [b.text for b in blocks[:200] if b.kind in {"paragraph", "list_item", "heading"}]
            + [" / ".join(row) for b in blocks[:200] if b.kind == "table" for row in b.rows]
        ),
    )
    sections = split_sections(blocks)

    actions = extract_actions(chat_turns.without_turns(sections, chat) if chat else sections, ctx)
    if chat is not None:  # who took what on in the conversation
        chat_turns.add_actions(chat, actions, ctx)
    open_actions = [a for a in actions.items if not a.done]
    done_actions = [a for a in actions.items if a.done]
    decisions = extract_decisions(sections)
    risks = extract_risks(
        chat_turns.without_turns(sections, chat, summaries_only=True) if chat else sections
    )
    if chat is not None:  # what the conversation settled, and its open gaps
        chat_turns.add_decisions(chat, decisions)
        chat_turns.add_risks(chat, risks)
    key_dates, superseded = _key_dates(sections, ctx)
    people = collect_people(sections, ((a.owners, True) for a in actions.items), lower_vocabulary)
    prose = _prose(sections)
    words = len(WORD.findall(text))
    topic = keywords(prose + _table_lines(sections), title, people)
    open_json = [a.as_json() for a in open_actions]
    done_json = [a.as_json() for a in done_actions]
    locate(open_json + done_json, blocks)  # adds each action's line/page (the Actions page)
    return {
        "summary": summarise(prose, title, topic),
        "action_items": open_json,
        "done_actions": done_json,
        "risks": risks,
        "decisions": decisions,
        "key_dates": key_dates,
        "superseded_dates": superseded,
        "document_date": found_date.isoformat() if found_date else None,
        "people": people,
        "keywords": topic,
        "stats": {
            "pages": pages,
            "words": words,
            "reading_minutes": math.ceil(words / WORDS_PER_MINUTE) if words else 0,
        },
    }


_TYPED_MARK = re.compile(r"^\s*(?:[-*•·▪–]|\(?\d{1,3}[.)]|\(?[a-z][.)]|\[[ xX✓]?\])\s+\S")
JOIN = "\n"


def unstyled(blocks: list[Block]) -> list[Block]:
    """A document typed without styles (Word paragraphs, a PDF of plain lines): its headings,
    bullets and boxes are only in the typed text ("ACTIONS", "- Ana to …", "[ ] …"), so its
    paragraphs are read again as the lines of a text file. A document that used heading or
    list styles keeps its blocks."""
    paragraphs = sum(1 for b in blocks if b.kind == "paragraph")
    items = sum(1 for b in blocks if b.kind == "list_item")
    if paragraphs < 4 or items * 4 > paragraphs or any(b.kind == "heading" for b in blocks):
        return blocks
    out: list[Block] = []
    run: list[Block] = []

    def flush() -> None:
        if run:
            parsed = blocks_from_text(JOIN.join(_typed(b) for b in run))
            for block in parsed:
                block.page = run[0].page
            out.extend(parsed)
            run.clear()

    for block in blocks:
        if block.kind in {"paragraph", "list_item"}:
            run.append(block)
            continue
        flush()
        out.append(block)
    flush()
    return out


def _typed(block: Block) -> str:
    """A block as the line someone would type for it ("- [x] Tom booked the room")."""
    if block.kind != "list_item":
        return block.text
    box = {True: "[x] ", False: "[ ] ", None: ""}[block.checked]
    return f"{'  ' * block.level}- {box}{block.text}"


def _block_text(block: Block) -> str:
    if block.kind == "table":
        return "\n".join(" | ".join(row) for row in [block.header, *block.rows] if row)
    if block.kind == "speaker":
        return f"{block.speaker}: {block.text}"
    return block.text


def _display_name(author: str) -> str | None:
    """ "Ingrid Solberg <ingrid@example.org>" → "Ingrid Solberg"."""
    name = re.sub(r"<[^>]*>|\([^)]*\)|\"", "", author).strip()
    if not name and "@" in author:
        name = author.split("@")[0].strip("<> ")
    return name or None


def _attendee_names(blocks: list[Block]) -> set[str]:
    names: set[str] = set()
    for block in blocks[:80]:
        if block.kind in {"paragraph", "list_item"}:
            field = PEOPLE_FIELD.match(block.text)
            if field:
                for part in re.split(
                    r"\s*(?:,|;|\band\b|&)\s*", re.sub(r"\([^)]*\)", "", field[2])
                ):
                    part = part.strip(" .")
                    if part and len(part) <= 40:
                        names.add(part)
    return names


def _prose(sections: list[Section]) -> list[str]:
    """The text of the blocks a reader would read as sentences (no headings, tables, quotes)."""
    texts: list[str] = []
    for section in sections:
        if section.role == "attendees":
            continue
        for block in section.blocks:
            if block.kind in {"paragraph", "list_item", "speaker"} and not PEOPLE_FIELD.match(
                block.text
            ):
                texts.append(block.text)
    return texts


def _table_lines(sections: list[Section]) -> list[str]:
    return [
        " | ".join(row)
        for section in sections
        for block in section.blocks
        if block.kind == "table"
        for row in block.rows
    ]


# --------------------------------------------------------------------------------------------
# Key dates


def _key_dates(
    sections: list[Section], ctx: Context
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Dated facts, sorted by date; replaced dates ("moved from X to Y") go to the second list."""
    key_dates: list[dict[str, Any]] = []
    superseded: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()

    def add(context: str, hits: list[DateHit], spans: list[tuple[int, int]]) -> None:
        for hit in hits:
            if hit.date is None or len(key_dates) >= MAX_KEY_DATES * 4:
                continue
            entry = {"text": clip(context), "date": hit.date.isoformat()}
            if is_superseded(hit, spans):
                marked = {**entry, "superseded": True}
                if marked not in superseded:
                    superseded.append(marked)
                continue
            key = (entry["text"], entry["date"])
            if key not in seen:
                seen.add(key)
                key_dates.append(entry)

    for section in sections:
        heading = section.heading_block
        if heading is not None:
            add(heading.text, find_dates(heading.text, ctx.reference, ctx.dayfirst), [])
        for block in section.blocks:
            if block.kind == "table":
                _table_dates(block, ctx, add)
                continue
            if block.kind not in {"paragraph", "list_item", "speaker"}:
                continue
            text = block.text if block.kind != "speaker" else f"{block.speaker}: {block.text}"
            hits = find_dates(text, ctx.reference, ctx.dayfirst)
            if not hits:
                continue
            spans = superseded_spans(text)
            if len(text) <= 200:
                add(text, hits, spans)
            else:
                for sentence in sentences(text):
                    found = find_dates(sentence, ctx.reference, ctx.dayfirst)
                    if found:
                        add(sentence, found, superseded_spans(sentence))
    # Superseded dates are no key dates, even where the same date is also mentioned plainly.
    old = {(s["date"]) for s in superseded}
    kept = [k for k in key_dates if k["date"] not in old or "from" not in k["text"]]
    ordered = sorted(enumerate(kept), key=lambda pair: (pair[1]["date"], pair[0]))
    return [entry for _, entry in ordered][:MAX_KEY_DATES], superseded[:MAX_KEY_DATES]


def _table_dates(block: Block, ctx: Context, add) -> None:  # type: ignore[no-untyped-def]
    """Key dates from table rows, labelled "<first text cell> (<column>)" when ambiguous."""
    roles = column_roles(block.header)
    for row in block.rows:
        label_index = roles.get("text")
        if label_index is None:
            label_index = next((i for i, c in enumerate(row) if c and i != roles.get("id")), 0)
        label = row[label_index] if label_index < len(row) else ""
        dated = [
            (i, hits)
            for i, value in enumerate(row)
            if i != label_index and (hits := find_dates(value, ctx.reference, ctx.dayfirst))
        ]
        for i, hits in dated:
            column = block.header[i] if i < len(block.header) else ""
            context = f"{label} ({column})" if len(dated) > 1 and column else label
            add(context or " | ".join(row), hits, [])
