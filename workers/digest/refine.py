"""Refine blocks, whatever format they came from: speaker turns, chat lines, rules, tallies.

Extractors produce blocks from layout (paragraphs, list items, tables); what people *wrote*
inside them is read here, once, for every format:

* speaker turns: ``Name: …``, ``**Name**: …``, ``JL: …`` (initials), ``@handle: …``, and a
  known lower-case nick ``mkumar: …`` become ``speaker`` blocks;
* chat and IRC lines ``[12:01] <nick> …`` / ``<nick> …`` become ``speaker`` blocks;
* meeting-bot lines lose their ``(chair, 17:05:12)`` trailer and their ``#topic`` commands'
  hash (``#agreed X`` → ``AGREED: X``);
* a paragraph of dashes is a ``rule``; a "nick (116)" lines-said tally becomes a ``quote``
  that only names a participant;
* a block carrying several lines is split, one block per line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from workers.digest.blocks import Block
from workers.digest.dates import find_dates
from workers.digest.sections import heading_role
from workers.digest.tables import column_roles, stacked_blocks
from workers.digest.text import CHAT_HEADER, continues, heading_level
from workers.digest.words import NON_NAME_WORDS, person_name

_IRC = re.compile(
    r"^(?:\[?\(?\d{1,2}:\d\d(?::\d\d)?\)?\]?\s*|\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d)?\S*\s+)?"
    r"<\s*[@+%~&]?(?P<nick>[A-Za-z_\[\]\\`^{}|][\w\-\[\]\\`^{}|.]{0,30})\s*>\s*(?P<text>.*)$"
)
_TRAILER = re.compile(r"\s*\(\s*[\w\-\[\]\\`^{}|.]{1,32},\s*\d{1,2}:\d\d(?::\d\d)?\s*\)\s*$")
# "[9]last week's minutes approved": a link-reference marker of converted minutes.
_REFERENCE = re.compile(r"^\[\d{1,3}\]\s*")
_TERMINAL_STOP = re.compile(r"[.!?;,]$")
_CLAUSE_NUMBER = re.compile(r"^\(?\d{1,2}(?:\.\d{1,2})+\)?\s+(?=\S)")
_BOT_TAG = re.compile(r"^(?:INFO|IDEA|LINK|HELP|TOPIC)\s+")
_TALLY = re.compile(r"^(?P<nick>[\w\-\[\]\\`^{}|.@]{1,32})\s*\((?P<count>\d{1,6})\)$")
_RULE_TEXT = re.compile(r"^\s*(?:([-=_*~])\1{2,}|--)\s*$")  # "--": a signature's separator
# Meeting-bot commands: "#agreed …" (MeetBot, meetingology, zodbot), "[AGREED] …" (MootBot).
_MEETBOT_COMMAND = re.compile(
    r"^(?:#(?P<cmd>action|agreed|agree|info|idea|link|help|topic|subtopic|startmeeting|endmeeting"
    r"|chair|undo|accept|accepted|reject|rejected|progress|vote|endvote|motion)\b"
    r"|\[(?P<bcmd>action|agreed|info|idea|link|topic|vote|accepted|rejected)\])\s*",
    re.IGNORECASE,
)
_COMMAND_NAMES = {
    "AGREE": "AGREED",
    "ACCEPT": "ACCEPTED",
    "REJECT": "REJECTED",
    "SUBTOPIC": "TOPIC",
    "PROGRESS": "INFO",
    "MOTION": "INFO",
    "VOTE": "INFO",
    "ENDVOTE": "INFO",
}


def _command(match: re.Match[str]) -> str:
    name = (match.group("cmd") or match.group("bcmd") or "").upper()
    return _COMMAND_NAMES.get(name, name)


_SPEAKER = re.compile(
    r"^(?:\*\*(?P<bold>[^*:]{1,40}?)\s*(?::\s*\*\*|\*\*\s*:)|(?P<plain>[^:\s][^:]{0,39}?)\s*:)"
    r"\s+(?P<text>\S.*)$",
    re.DOTALL,
)
_INITIALS = re.compile(r"^[A-Z]{2,3}$")
_HANDLE = re.compile(r"^@[\w.\-]{2,40}$")
_PRESENT = re.compile(
    r"^(?:attendees|present|participants|in attendance|attendance|people present)\s*:\s*(.+)$",
    re.IGNORECASE,
)
# What someone says about their own work: "will send …", "I'll ask …", "to draft …".
_SPEECH = re.compile(
    r"^(?:(?:ok|okay|sure|yes|so)[,!.]?\s+)?(?:i\b|i'll|i’ll|i'm|will\b|we\b|we'll|to\s+\w+"
    r"|can\b|my\b|our\b)",
    re.IGNORECASE,
)
_NICK = re.compile(r"^[a-z][a-z0-9_\-\[\]|`^]{1,30}$")
# Chat exports: ":wave:" emoji codes, and a line of reactions under a message (":eyes: 2").
_EMOJI = re.compile(r"(?<![\w:]):[a-z0-9_+\-]{1,30}:(?![\w:])")
_REACTIONS = re.compile(r"^(?:\d+\s*)*$")
_COMMITS = re.compile(
    r"^(?:will|i\s+will|i'll|i’ll|i\s+can|i'm\s+going\s+to|i\s+am\s+going\s+to)\s+[a-z]",
    re.IGNORECASE,
)
_NOT_INITIALS = frozenset(
    """AI QA PM HR IT BA CI CD TBD TBC FYI ETA API RFC ADR FAQ AOB PR UI UX DB OK NB PS
    ACK NAK WIP LGTM CEO CTO CFO COO CIO VP PMO SLA KPI OKR ROI RAID RAG GA EOL EOD EOW EOM
    COB DR QA SRE DNS TLS SSO CVE MVP POC NA NZ UK US EU UTC GMT CET PST EST ID RSVP TSC
    SIG WG""".split()
)
_FIELD_WORDS = frozenset(
    """time location venue chair host facilitator scribe notetaker note-taker subject from
    cc re fyi ps example warning reason remark remarks answer question q a tl;dr tldr
    ticket issue pr link links url source reference references reviewer reviewers status
    deciders decider technical story date attendees author authors go-live golive kick-off
    timeline cutover vendor testing launch release deadline target milestone result""".split()
)


_CHECKED_GLYPHS = frozenset("☑☒✅")
_BOX_GLYPH = re.compile(r"^(?P<mark>[⬜☐🔲□◻☑☒✅])\ufe0f?\s+")


def refine(blocks: Iterable[Block]) -> list[Block]:
    """The blocks with speaker turns, chat lines, rules and tallies made explicit."""
    tables_read = [
        part
        for block in blocks
        for table in (_table_header(block) if block.kind == "table" else [block])
        for stacked in stacked_blocks(table)
        for titled in _title_rows(stacked)
        for part in _prose_table(titled)
    ]
    blocks = list(_split_lines(tables_read))
    nicks = _known_nicks(blocks)
    repeated = _repeated_labels(blocks)
    bold = _bold_speakers(blocks)
    # A transcript (two or more people speaking in turns): a name seen once speaks too
    # ("Ravi: Worry: the certification window closes …").
    transcript = sum(1 for name in repeated if is_speaker(name, nicks) and " " not in name) >= 2
    out: list[Block] = []
    chat: str | None = None  # who is speaking in a chat export ("Name  9:02 AM" above)
    for block in blocks:
        if block.kind == "table":
            out.append(block)
            continue
        if block.kind not in {"paragraph", "list_item"}:
            chat = None if block.kind in {"heading", "rule"} else chat
            out.append(block)
            continue
        text = block.text.strip()
        header = CHAT_HEADER.match(text)
        if header and (is_speaker(header["name"], nicks) or _NICK.match(header["name"])):
            chat = header["name"]
            continue
        if chat is not None:
            said = _EMOJI.sub("", text).strip()
            if said and not _REACTIONS.match(said):
                out.append(_speaker(block, chat, said))
            continue
        if _RULE_TEXT.match(text):
            out.append(Block("rule", line=block.line, page=block.page))
            continue
        text = _TRAILER.sub("", _REFERENCE.sub("", text))
        box = (
            _BOX_GLYPH.match(text)
            if block.kind in {"list_item", "paragraph"} and block.checked is None
            else None
        )
        if box:
            # "⬜ Per-tenant retry queues (@ines.m, by 27 Nov)": a box drawn as a character.
            block.checked = box.group("mark") in _CHECKED_GLYPHS
            text = text[box.end() :]
        if block.kind == "paragraph":
            text = _CLAUSE_NUMBER.sub("", text)  # "4.2 RESOLVED: …" in numbered minutes
        if not text:
            continue
        command = _MEETBOT_COMMAND.match(text)
        if command:
            text = f"{_command(command)}: {text[command.end() :]}"
        tally = _TALLY.match(text)
        if tally and block.kind == "list_item":
            out.append(
                Block("quote", text, speaker=tally.group("nick"), line=block.line, page=block.page)
            )
            continue
        irc = _IRC.match(text)
        if irc:
            said = irc.group("text")
            command = _MEETBOT_COMMAND.match(said)
            if command:
                said = f"{_command(command)}: {said[command.end() :]}"
            out.append(_speaker(block, irc.group("nick"), said))
            continue
        turn = _SPEAKER.match(text)
        if turn:
            name = (turn.group("bold") or turn.group("plain") or "").strip()
            said = turn.group("text")
            if is_speaker(name, nicks) and (
                " " in name.strip()
                or name in repeated
                or (turn.group("bold") and name in bold)
                or (transcript and person_name(name) is not None and len(name.split()) == 1)
                or _INITIALS.match(name)
                or _HANDLE.match(name)
                or _SPEECH.match(said)
            ):
                out.append(_speaker(block, name.lstrip(), turn.group("text").replace("**", "")))
                continue
            if _NICK.match(name) and name not in NON_NAME_WORDS and _COMMITS.match(said):
                # "kbrown: will look into it": a lower-case nick committing to something.
                out.append(_speaker(block, name, said.replace("**", "")))
                continue
        block.text = text.replace("**", "")
        out.append(block)
    return _promote_headings(out)


def _promote_headings(blocks: list[Block]) -> list[Block]:
    """A short title-like paragraph right above a list is that list's heading ("What went
    well", "Actions:"), whatever format lost its heading style (e-mail bodies, plain DOCX)."""
    last_level: int | None = None  # the level of the heading above, and
    content_since = False  # whether anything but headings came since
    for index, block in enumerate(blocks[:-1]):
        if block.kind == "heading":
            last_level, content_since = block.level, False
            continue
        following = blocks[index + 1]
        if (
            block.kind == "list_item"
            and block.level == 0
            and block.checked is None
            and len(block.text.split()) <= 4
            and ":" not in block.text
            and not _TERMINAL_STOP.search(block.text)
            and heading_role(block.text) is not None
            and (
                (following.kind == "list_item" and following.level > 0)
                or (
                    following.kind in {"paragraph", "table"}
                    and not (index and blocks[index - 1].kind == "list_item")
                    and heading_role(block.text) != "notes"
                    and not re.match(r"^[\w ]{1,30}:\s", following.text)
                )
            )
        ):
            # "3. Discussion" over its own items: a numbered section heading (scans, plain text).
            level = last_level or 6
            blocks[index] = Block(
                "heading", block.text.rstrip(":"), level, line=block.line, page=block.page
            )
            last_level, content_since = level, False
            continue
        text = block.text.strip()
        # "Actions" over a speaker's line, "Concerns" over an indented item: a section word
        # alone on its line still names the section below it.
        named = len(text.split()) <= 3 and heading_role(text) in {"actions", "decisions", "risks"}
        if (
            block.kind == "paragraph"
            and following.kind == "table"
            and len(text) <= 40
            and not _TERMINAL_STOP.search(text)
            and ":" not in text
            and (
                heading_role(text) not in {None, "notes"}
                or heading_level(text, alone=True, over_body=True) is not None
            )
        ):
            # "TSC Members" over the attendance table, "Open risks" over a register: a
            # title that lost its heading style names the table's section.
            level = last_level if content_since and last_level else 6
            blocks[index] = Block("heading", text, level, line=block.line, page=block.page)
            last_level, content_since = level, False
            continue
        if block.kind != "paragraph" or following.kind not in {"list_item", "speaker"}:
            content_since = True
            continue
        if (following.level > 0 or following.kind == "speaker") and not named:
            content_since = True
            continue
        titled = heading_level(text, alone=True, over_body=True) is not None or (
            # "What we decided" over a list names its role, though it reads like a sentence.
            not _TERMINAL_STOP.search(text)
            and not re.search(r":\s*\S", text)  # "Attendees: Ola, Bea" is a field
            and heading_role(text) not in {None, "notes"}
        )
        if len(text) <= 60 and titled:
            # Right under a heading it is a sub-heading; after the section's own content it
            # is the next section, a sibling ("Hackfest planning" after the list above it).
            level = last_level if content_since and last_level else 6
            blocks[index] = Block(
                "heading", text.rstrip(":").strip(), level, line=block.line, page=block.page
            )
            last_level, content_since = level, False
        else:
            content_since = True
    return blocks


def _table_header(block: Block) -> list[Block]:
    """A spreadsheet's title rows above its real header ("RAID log", "Exported …") become
    paragraphs; the first row with most cells filled is the header."""
    rows = [block.header, *block.rows] if block.header else list(block.rows)
    width = max((len(r) for r in rows), default=0)
    for index, row in enumerate(rows[:6]):
        filled = sum(1 for cell in row if cell.strip())
        if filled >= max(2, (width * 6 + 9) // 10):
            if index == 0:
                return [block]
            titles = [
                Block(
                    "paragraph",
                    " ".join(c for c in r if c.strip()),
                    line=block.line,
                    page=block.page,
                )
                for r in rows[:index]
                if any(c.strip() for c in r)
            ]
            table = Block(
                "table", header=row, rows=rows[index + 1 :], line=block.line, page=block.page
            )
            return [*titles, table]
    return [block]


def _title_rows(block: Block) -> list[Block]:
    """A row with only its first cell filled inside a wider table ("Decisions recorded at the
    14 October meeting" in an action log) titles the rows after it: the table is cut there and
    the row becomes a heading. Empty rows go."""
    if block.kind != "table" or len(block.header) < 3:
        return [block]
    parts: list[Block] = []
    rows: list[list[str]] = []
    for row in block.rows:
        filled = [cell for cell in row if cell.strip()]
        if not filled:
            continue
        first = row[0].strip() if row else ""
        if len(filled) == 1 and first and len(first.split()) >= 2 and not first[:1].isdigit():
            if rows or not parts:
                parts.append(Block("table", header=block.header, rows=rows, line=block.line))
            parts.append(Block("heading", first.rstrip(":"), 6, line=block.line, page=block.page))
            rows = []
            continue
        rows.append(row)
    if not parts:
        return [block]
    parts.append(Block("table", header=block.header, rows=rows, line=block.line, page=block.page))
    return [p for p in parts if p.kind != "table" or p.rows]


_CLOCK = re.compile(r"^\[?\d{1,2}:\d{2}(?::\d{2})?\]?$")


def _dated_column(block: Block) -> bool:
    """A table without a header whose column of dates makes it a schedule or a task list."""
    rows = [block.header, *block.rows]
    if len(rows) < 2 or min(len(r) for r in rows) < 3:
        return False
    width = min(len(r) for r in rows)
    return any(
        sum(1 for r in rows if find_dates(r[i], None)) * 2 >= len(rows) for i in range(1, width)
    )


def _prose_table(block: Block) -> list[Block]:
    """A table without a single known column (meeting-bot minutes rendered as a table of
    "INFO text | nick | time" rows) is prose: one paragraph per row, its longest cell."""
    if (
        block.kind != "table"
        or (column_roles(block.header) and not any(_CLOCK.match(c.strip()) for c in block.header))
        or _dated_column(block)
    ):
        return [block]  # a clock time is never a column name: that "header" is a bot line
    rows = [block.header, *block.rows] if block.header else block.rows
    texts = [max(row, key=len).strip() for row in rows if row and max(row, key=len).strip()]
    return [
        Block("paragraph", _BOT_TAG.sub("", text), line=block.line, page=block.page)
        for text in texts
    ]


def _speaker(block: Block, name: str, text: str) -> Block:
    return Block(
        "speaker",
        " ".join(text.split()),
        level=block.level,
        checked=block.checked,
        speaker=name,
        line=block.line,
        page=block.page,
    )


def is_speaker(name: str, nicks: frozenset[str] = frozenset()) -> bool:
    """Could ``name`` (the part before a colon) be a person speaking?"""
    if not name or len(name) > 40 or name.lower() in _FIELD_WORDS:
        return False
    if _INITIALS.match(name):
        return name not in _NOT_INITIALS
    if _HANDLE.match(name):
        return True
    if name in nicks:
        return True
    if name.split()[0].lower() in NON_NAME_WORDS:
        return False
    return person_name(name) is not None and len(name.split()) <= 3


def _known_nicks(blocks: list[Block]) -> frozenset[str]:
    """Nicks and names seen in chat lines, lines-said tallies and attendee lines: ``nick:``
    is then a speaker too."""
    nicks: set[str] = set()
    for block in blocks:
        if block.kind not in {"paragraph", "list_item"}:
            continue
        text = block.text.strip()
        match = _IRC.match(text) or _TALLY.match(text)
        if match and _NICK.match(match.group("nick")):
            nicks.add(match.group("nick"))
        present = _PRESENT.match(text.replace("**", ""))
        if present:
            for part in re.split(r"\s*(?:,|;|\band\b|&)\s*", re.sub(r"\([^)]*\)", "", present[1])):
                part = part.strip(" .")
                if part and len(part) <= 40:
                    nicks.add(part)
                    nicks.add(part.split()[0])
    return frozenset(nicks)


def _bold_speakers(blocks: list[Block]) -> frozenset[str]:
    """Names in a transcript's ``**Name**:`` turns, when two or more people speak that way
    (the layout then vouches for a name seen once: "**Ravi**: Worry: …")."""
    names = set()
    for block in blocks:
        if block.kind in {"paragraph", "list_item"} and block.text.startswith("**"):
            turn = _SPEAKER.match(block.text.strip())
            if turn and turn.group("bold") and is_speaker(turn.group("bold").strip()):
                names.add(turn.group("bold").strip())
    return frozenset(names) if len(names) >= 2 else frozenset()


def _repeated_labels(blocks: list[Block]) -> frozenset[str]:
    """ "Name:" prefixes used on two or more lines: a person speaking again, not a field."""
    counts: dict[str, int] = {}
    for block in blocks:
        if block.kind in {"paragraph", "list_item"}:
            turn = _SPEAKER.match(block.text.strip())
            if turn:
                name = (turn.group("bold") or turn.group("plain") or "").strip()
                counts[name] = counts.get(name, 0) + 1
    return frozenset(name for name, count in counts.items() if count >= 2)


# "… by Friday Beatriz: Book the room …": turns whose line breaks a format lost.
_GLUED_TURN = re.compile(
    r"(?:^|(?<=\s))(?P<name>[A-Z][\w'’-]+(?:\s+and\s+[A-Z][\w'’-]+)?):\s+"
    r"(?:[A-Z]|will\b|i'll\b|to\s)"  # "… by Friday. Yusuf: will pull the report …"
)


def _split_glued_turns(block: Block) -> list[Block]:
    starts = [m for m in _GLUED_TURN.finditer(block.text)]
    if len(starts) < 2 or starts[0].start() != 0:
        return [block]
    for match in starts:
        if not all(is_speaker(n) for n in re.split(r"\s+and\s+", match.group("name"))):
            return [block]
    cuts = [m.start() for m in starts] + [len(block.text)]
    return [
        Block(
            block.kind, block.text[a:b].strip(), level=block.level, line=block.line, page=block.page
        )
        for a, b in zip(cuts, cuts[1:], strict=False)
    ]


def _split_lines(blocks: Iterable[Block]) -> Iterable[Block]:
    """One block per line: a multi-line paragraph comes from a format that kept line breaks."""
    for block in blocks:
        if block.kind in {"paragraph", "list_item", "speaker"} and "\n" in block.text:
            lines: list[str] = []
            for raw in block.text.split("\n"):
                line = " ".join(raw.split())
                if lines and line and continues(lines[-1], line):
                    lines[-1] = f"{lines[-1]} {line}"
                elif line:
                    lines.append(line)
            first, *rest = lines or [""]
            block.text = first
            yield from _split_glued_turns(block)
            for offset, line in enumerate(rest, start=1):
                yield Block(
                    "paragraph",
                    line.strip(),
                    level=block.level,
                    line=block.line + offset if block.line is not None else None,
                    page=block.page,
                )
        elif block.kind in {"paragraph", "list_item"}:
            yield from _split_glued_turns(block)
        else:
            yield block
