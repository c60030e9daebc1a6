"""Chat exports and transcripts: who said what, when, and what each speaker took on.

A chat export (Slack copy-paste ``Name  9:14 AM`` headers with indented thread replies,
DiscordChatExporter ``[dd/mm/yyyy hh:mm] nick`` headers, WhatsApp ``dd/mm/yyyy, hh:mm - Name:
message`` lines, ``[10:02] nick: message`` logs) is read here into messages, each with its
speaker, its own day and whether it answers a thread; system lines, reactions, attachments,
"N replies" counters and banners are noise. The messages become ``speaker`` blocks for the
rest of the digest (decisions, risks, people, key dates), and the speaker-turn mechanism below
finds the actions:

* a message's speaker owns the commitment in it ("I'll take this", "me. I'll do …", "I can
  send that tomorrow", "will draft it …");
* a request ("@deano can you send them that by Friday?", "someone needs to …", "who's got
  …?") answered by another speaker's "yep on it" / "will do" / "I can take that" is the
  answerer's task, in the request's words;
* relative dates resolve against the message's own day;
* a commitment its speaker later reports done ("… sent to the broker ✅") is a done item, and
  an end-of-day or pinned summary ("⏳ HR evidence - Marcus, Wed 17th", "✅ …", "• Tomasz
  screenshots by tomorrow 12:00") restates the day's commitments: its lines are the actions,
  in its words ("me" is its writer), and the turns they restate give way to them.

Rules and patterns only; a document that is not a chat is left to the other readers.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace

from workers.digest.blocks import Block
from workers.digest.dates import find_dates, safe_date
from workers.digest.risks import category, severity
from workers.digest.words import clip, restates, topic_tokens

#: Message headers needed before a text is read as a chat.
MIN_MESSAGES = 4

_TIME = r"\d{1,2}[:.]\d\d(?::\d\d)?(?:\s?[AaPp]\.?[Mm]\.?)?"
_DATE = r"\d{1,2}[/.]\d{1,2}[/.]\d{2,4}"
_NAME = r"@?[^\W\d][\w.'’&|()+ -]{0,48}?"
# "Priya Nair  9:14 AM" (Slack), "Marta | Chair  9:11" — indented when a thread reply.
_SLACK = re.compile(
    r"^(?P<indent>\s*)(?P<name>@?[^\W\d][\w.'’-]*|[A-Z][\w.'’-]*(?:\s+(?:[A-Z][\w.'’-]*|\|"
    rf"|de|van|von|da|di|le|la))*)\s+(?P<time>{_TIME})\s*$"
)
# "[01/04/2027 09:02] kezzabee" (DiscordChatExporter), "[01/04/2027 09:02] kezzabee: text".
_BRACKETED = re.compile(
    rf"^(?P<indent>\s*)\[(?:(?P<date>{_DATE}|\d{{4}}-\d\d-\d\d),?\s+)?(?P<time>{_TIME})\]\s*"
    rf"(?P<name>{_NAME})(?:\s*:\s+(?P<text>\S.*))?\s*$"
)
# "14/03/2027, 09:12 - Dev Shah: message" (WhatsApp); the same without "Name:" is a system line.
_WHATSAPP = re.compile(
    rf"^(?P<indent>)\[?(?P<date>{_DATE}),?\s+(?P<time>{_TIME})\]?\s*[-–]\s+"
    rf"(?:(?P<name>[^:]{{1,48}}?):\s+(?P<text>\S.*)|(?P<system>.+))$"
)
_NOISE = re.compile(
    r"^\s*(?:\{(?:reactions|attachments|embed|stickers)\}|\d+\s+repl(?:y|ies)\b.*|\(no replies\)"
    r"|<media omitted>|<attached:[^>]*>|this message was deleted|you deleted this message"
    r"|(?::[a-z0-9_+\-]{1,30}:\s*\d*\s*)+|(?:[^\w\s]{1,3}\s*\(\d+\)\s*)+|[=\-_~*]{4,}"
    r"|(?:[^\w\s]|\ufe0f)+|view thread|\(edited\)|exported .*message.*|(?:pinned|edited)"
    r" (?:a )?message.*|.*\b(?:joined|left) the (?:channel|server|group|call)\.?"
    r"|messages and calls are end-to-end encrypted.*)\s*$",
    re.IGNORECASE,
)
# Blocks whose lines are all noise until a blank line ("{Reactions}" then "👍 (2)").
_NOISE_BLOCK = re.compile(r"^\s*\{(?:reactions|attachments|embed|stickers)\}\s*$", re.I)
_SYSTEM = re.compile(
    r"\b(?:added|removed|left|joined|created (?:group|this group)|changed (?:the )?(?:subject"
    r"|group|this group|their phone)|end-to-end encrypted|security code)\b",
    re.IGNORECASE,
)
_ROLE_SUFFIX = re.compile(r"\s*(?:\|.*|\((?:[^)]*)\)|[-–]\s*(?:chair|admin|mod\w*))\s*$", re.I)


@dataclass(slots=True)
class Message:
    speaker: str
    day: dt.date | None
    lines: list[str] = field(default_factory=list)
    line: int = 0
    reply: bool = False


@dataclass(slots=True)
class Chat:
    messages: list[Message]
    preamble: list[tuple[int, str]]
    blocks: list[Block] = field(default_factory=list)
    # The speaker blocks made from messages (by identity): the turn mechanism owns them.
    turn_ids: set[int] = field(default_factory=set)
    # The item lines of end-of-day / pinned summaries: restatements, no new risks.
    summary_ids: set[int] = field(default_factory=set)
    # A transcript of one unnamed voice ("[00:14] First thing, I need to …"): a dictated memo.
    monologue: bool = False


def read_chat(text: str, dayfirst: bool = True) -> Chat | None:
    """The messages of a chat export, or None when ``text`` is not one."""
    lines = text.split("\n")[:20_000]
    headers = sum(1 for line in lines[:4000] if _header(line, dayfirst) is not None)
    if headers < MIN_MESSAGES:
        return _monologue(lines)
    if headers * 15 < sum(1 for line in lines[:4000] if line.strip()):
        return None  # a few quoted messages in a longer document: not an export
    messages: list[Message] = []
    preamble: list[tuple[int, str]] = []
    current: Message | None = None
    skipping = False
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            skipping = False
            continue
        if skipping:
            continue
        header = _header(raw, dayfirst)
        if header is not None:
            name, day, said, reply = header
            skipping = False
            if name is None:  # a WhatsApp system line ("Ana added Ben")
                current = None
                continue
            current = Message(name, day, [], number, reply)
            messages.append(current)
            if said and not _NOISE.match(said):
                current.lines.append(said.strip())
            continue
        if _NOISE_BLOCK.match(raw):
            skipping = True
            continue
        if _NOISE.match(raw):
            continue
        if current is None:
            preamble.append((number, raw.strip()))
            continue
        current.lines.append(_without_emoji_codes(raw.strip()))
    messages = [m for m in messages if m.lines]
    if len(messages) < MIN_MESSAGES:
        return None
    chat = Chat(messages, preamble)
    chat.blocks = _blocks(chat)
    return chat


# "[01:34] Right, what else." — a transcript's timestamp, no speaker named.
_STAMP = re.compile(r"^\s*\[(?:\d{1,2}:)?\d{1,2}:\d\d\]\s+(?P<text>\S.*)$")


_SPEAKER_FIRST = re.compile(r"^(?:<|\*\s|-!-|[\w.@-]{2,30}:\s)")


def _monologue(lines: list[str]) -> Chat | None:
    """A transcript whose timestamped paragraphs are all one unnamed speaker's."""
    stamped = [m.group("text") for line in lines[:4000] if (m := _STAMP.match(line))]
    if len(stamped) < MIN_MESSAGES or any(_SPEAKER_FIRST.match(text) for text in stamped):
        return None  # "[12:01] <nick> …", "[00:12] Ana: …": speakers are named
    messages: list[Message] = []
    preamble: list[tuple[int, str]] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        stamp = _STAMP.match(raw)
        if stamp:
            messages.append(Message("", None, [stamp.group("text").strip()], number))
        elif messages:
            messages[-1].lines.append(raw.strip())
        else:
            preamble.append((number, raw.strip()))
    chat = Chat(messages, preamble, monologue=True)
    blocks = [Block("paragraph", text, line=number) for number, text in preamble]
    for message in messages:
        block = Block("paragraph", " ".join(message.lines), line=message.line)
        chat.turn_ids.add(id(block))
        blocks.append(block)
    chat.blocks = blocks
    return chat


def _header(line: str, dayfirst: bool) -> tuple[str | None, dt.date | None, str, bool] | None:
    """(speaker, day, text on the header line, reply) of a message header line."""
    if len(line) > 400:
        return None
    match = _WHATSAPP.match(line)
    if match:
        if match.group("system") or _SYSTEM.search(match.group("name") or ""):
            return None, None, "", False
        day = _day(match.group("date"), dayfirst)
        return _clean_name(match.group("name")), day, match.group("text") or "", False
    match = _BRACKETED.match(line) or _SLACK.match(line)
    if not match:
        return None
    name = _clean_name(match.group("name"))
    if not name or len(name.split()) > 4 or name.lower() in _NOT_NAMES:
        return None
    groups = match.groupdict()
    day = _day(groups.get("date"), dayfirst) if groups.get("date") else None
    reply = len(match.group("indent").expandtabs(4)) >= 2
    return name, day, groups.get("text") or "", reply


_NOT_NAMES = frozenset(
    """date time start end duration meeting call today yesterday tomorrow from to at""".split()
)


def _clean_name(name: str | None) -> str:
    name = (name or "").strip()
    cleaned = _ROLE_SUFFIX.sub("", name).strip()
    return cleaned or name


def _day(text: str | None, dayfirst: bool) -> dt.date | None:
    if not text:
        return None
    if "-" in text and len(text) == 10 and text[4] == "-":
        return safe_date(int(text[:4]), int(text[5:7]), int(text[8:]))
    parts = [int(p) for p in re.split(r"[/.]", text)]
    if len(parts) != 3:
        return None
    first, second, year = parts
    year = year + 2000 if year < 100 else year
    day, month = (first, second) if dayfirst or second > 12 else (second, first)
    return safe_date(year, month, day)


_LABELLED = re.compile(
    r"^(?:#(?:action|agreed|info|idea|link|help|topic|startmeeting|endmeeting|chair|accepted"
    r"|rejected)\b|(?:action(?: item)?|todo|ai|decision|agreed|risk)\s*:)",
    re.IGNORECASE,
)
_EMOJI_CODE = re.compile(r"(?<![\w:]):[a-z0-9_+\-]{1,30}:(?![\w:])")


def _without_emoji_codes(text: str) -> str:
    return " ".join(_EMOJI_CODE.sub("", text).split())


def _blocks(chat: Chat) -> list[Block]:
    blocks = [Block("paragraph", text, line=number) for number, text in chat.preamble]
    for message in chat.messages:
        summary = bool(_summary_items(message))
        said: list[str] = []
        for text in message.lines:
            if (
                said
                and not _ITEM_MARK.match(text)
                and not _ITEM_MARK.match(said[-1])
                and not said[-1].endswith(":")
            ):
                said[-1] = f"{said[-1]} {text}"  # a wrapped line of the same message
            else:
                said.append(text)
        for text in said:
            if _LABELLED.match(text):
                # "#action ana book the room", "ACTION: …": the readers of labels take it.
                blocks.append(Block("paragraph", text, line=message.line))
                continue
            item = _ITEM_MARK.match(text)
            text = item.group("body") if item else text  # "• DECIDED web launches …"
            block = Block("speaker", text, speaker=message.speaker, line=message.line)
            chat.turn_ids.add(id(block))
            if summary and item:
                chat.summary_ids.add(id(block))
            blocks.append(block)
    return blocks


# --------------------------------------------------------------------------------------------
# The speaker-turn mechanism: actions

# A first-person commitment opening a sentence ("I'll draft …", "will send by Fri", "me.").
_COMMIT = re.compile(
    r"^(?:(?:ok|okay|sure|yes|yep|yeah|yup|fine|right|so|and|also|then|cool|great|np)[,!.]?\s+)*"
    r"(?:i\s+will|i'll|i’ll|i\s+can|i\s+shall|i'm\s+going\s+to|i\s+am\s+going\s+to|i'm\s+on"
    r"|will|i\s+(?:need|have)\s+to|let\s+me|i\s+volunteer\s+to)\s+(?:also\s+)?"
    r"(?P<verb>[a-z][\w’'-]*)",
    re.IGNORECASE,
)
_NOT_VERB = frozenset(
    """be been have not probably also likely still just think guess say agree see try
    check-in know only""".split()
)
# A taking with no task of its own: "on it", "will do", "I can take that", "mine", "me.".
_TAKE = re.compile(
    r"^(?:(?:yes|yep|yeah|yup|sure|ok|okay|np|no problem|of course|happy to|sounds good|ty|thanks)"
    r"[,!.]?\s*)*(?:(?:i\s+can|i'll|i’ll|i\s+will)\s+(?:take|do|handle|own|grab|pick)\s+"
    r"(?:that|this|it)(?:\s+(?:one|on|up))?|will\s+do|on\s+it|i'?m\s+on\s+it|leave\s+it\s+with\s+me"
    r"|can\s+do|(?:that's\s+|those\s+are\s+|it's\s+)?mine|me)\b[,.!]?\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
_REQUEST = re.compile(
    r"(?:^|[.!;?]\s+)(?:(?:ok|okay|so|then|and|also)[,.]?\s+)*(?:@[\w.\-]+(?:\s+[A-Z][\w'’-]+)?"
    r"[,:]?\s+|[A-Z][\w'’-]+,\s+)?(?:can|could|would|will)\s+(?:you|someone|somebody|anyone)\s+"
    r"(?:please\s+)?(?P<task>[^?]{5,200})\?"
    r"|(?:^|[.!;,]\s+)(?:(?:ok|okay|so|then|and|also)[,.]?\s+)*(?:someone|somebody)\s+"
    r"(?:needs?|has)\s+to\s+(?P<task2>[^.?!]{5,200})"
    r"|(?:^|[.!;?]\s+)who(?:'s|\s+is)\s+got\s+(?P<task3>[^?]{3,200})\?"
    r"|(?:^|[.!;?]\s+)who\s+(?:can|will|wants to|could)\s+(?P<task4>[^?]{5,200})\?",
    re.IGNORECASE,
)
_PRONOUN_TASK = re.compile(r"\b(?:that|this|it|them|those)\b", re.IGNORECASE)
_DONE_REPORT = re.compile(
    r"✅|☑|\bdone\b|\b(?:sent|filed|uploaded|found|finished|completed|submitted|terminated"
    r"|booked|merged|published|signed|did it)\b",
    re.IGNORECASE,
)
_SUMMARY_HEAD = re.compile(
    r"^(?:\W*)(?:eod|end[- ]of[- ]day|daily|pinned|call|meeting|today's|wrap[- ]?up)?\s*"
    r"(?:summary|recap|wrap[- ]?up)(?:\s+pinned)?\b[^:]{0,30}:?\s*$",
    re.IGNORECASE,
)
_ITEM_MARK = re.compile(
    r"^(?P<mark>✅|☑|⏳|❓|🔲|☐|•|·|[-*–]|\d{1,2}[.)])\ufe0f?\s*(?P<body>\S.*)$"
)
# "HR evidence - Marcus, Wed 17th", "email H&L re … - me, today", "Stripe review (Dmitri)".
_OWNED_ITEM = re.compile(
    r"^(?P<task>.+?)\s+[-–—]\s+(?P<owner>@?[A-Za-z][\w.'’-]*(?:\s+[A-Z][\w'’-]*)?)"
    r"(?:\s*[,;]\s*(?P<due>[^.()]{1,40}?))?(?:\s*\((?P<note>[^)]*)\))?\s*(?:[.]\s*(?P<tail>.*))?$"
    r"|^(?P<task2>.+?)\s*\((?P<owner2>@?[A-Z][\w.'’-]*(?:\s+[A-Z][\w'’-]*)?)\)\s*$"
)
_STOP = frozenset(
    """the a an and or of to in on for with by at it this that them these those is are be
    i i'll ill will we our you me my can do done up get have has from as re so all""".split()
)


@dataclass(slots=True)
class _Turn:
    owner: str
    text: str
    day: dt.date | None
    index: int  # the message
    words: frozenset[str]
    done: bool = False
    summary: str | None = None
    due: str | None = None  # the summary's own due field ("Wed 17th")


def add_actions(chat: Chat, found, ctx) -> None:  # type: ignore[no-untyped-def]
    """The speaker-turn actions of ``chat``, added to ``found`` (an ``ActionList``)."""
    turns: list[_Turn] = []
    pending: list[tuple[str, str, int]] = []  # (task, who asked, message index)
    summaries: list[tuple[Message, list[str]]] = []
    for index, message in enumerate(chat.messages):
        items = _summary_items(message)
        if items:
            summaries.append((message, items))
            continue
        text = " ".join(message.lines)
        if chat.monologue:
            turns += _spoken(message, index, text)
            continue
        spoken = [line for line in message.lines if not _LABELLED.match(line)]
        turn = _turn(message, index, "\n".join(spoken), pending) if spoken else None
        if turn is not None:
            turns.append(turn)
        asked = [
            (m.group("task") or m.group("task2") or m.group("task3") or m.group("task4")).strip()
            for m in _REQUEST.finditer(text)
        ]
        pending = [p for p in pending if index - p[2] <= 6 and p[1] != ""]
        pending += [(task, message.speaker, index) for task in asked]
        if _DONE_REPORT.search(text) and not _COMMIT.match(text):
            words = _words(text)
            for earlier in turns:
                if (
                    earlier.index < index
                    and earlier.owner == message.speaker
                    and len(earlier.words & words) >= 2
                ):
                    earlier.done = True
    for message, items in summaries:
        _apply_summary(message, items, turns, found, ctx)
    for turn in turns:
        text = turn.text if turn.summary is None else f"{turn.summary} ({turn.text})"
        owners = [turn.owner] if turn.owner else []
        _add(found, ctx, text, owners, turn.day, done=turn.done, due=turn.due)


def _turn(
    message: Message, index: int, text: str, pending: list[tuple[str, str, int]]
) -> _Turn | None:
    text = _MENTION.sub("", text)
    taken = _TAKE.match(text)
    request = next((p for p in reversed(pending) if p[1] != message.speaker), None)
    if taken and request is not None:
        rest = taken.group("rest").strip(" ,.;")
        own = _COMMIT.match(rest) if rest else None
        if own and not _PRONOUN_TASK.match(rest[own.start("verb") :].split(" ", 1)[-1]):
            task = rest
        else:
            task = f"{request[0]}, {rest}" if rest else request[0]
        pending.remove(request)
        return _Turn(message.speaker, task, message.day, index, _words(f"{request[0]} {rest}"))
    sentences = _sentences(text)
    for position, sentence in enumerate(sentences):
        commit = _COMMIT.match(sentence)
        if not commit or commit.group("verb").lower() in _NOT_VERB or sentence.endswith("?"):
            continue
        if re.match(r"^i\s+(?:need|have)\s+to\b", sentence, re.I) and position:
            continue
        said = []
        for part in sentences[position:]:
            if part.endswith("?"):
                break
            said.append(part)
        task = " ".join(said)
        if len(task) > 300:
            task = sentence
        after = sentence[commit.start("verb") :]
        if _PRONOUN_TASK.search(" ".join(after.split()[1:3])) and position:
            # "broker wants the headcount + event list. I can send that tomorrow": what "that"
            # is comes just before.
            task = f"{sentences[position - 1]} {task}"
        if request is not None and _TAKE.match(sentence):
            task = f"{request[0]}, {task}"
            pending.remove(request)
        return _Turn(message.speaker, task, message.day, index, _words(task))
    if _CLAIM.match(text) and not text.rstrip().endswith("?"):
        task = " ".join(p for p in sentences if not p.endswith("?"))
        return _Turn(message.speaker, task, message.day, index, _words(task))
    return None


def _summary_items(message: Message) -> list[str]:
    """The item lines of a summary message ("EOD summary:" then "✅ …" / "⏳ …" lines)."""
    if len(message.lines) < 3 or not _SUMMARY_HEAD.match(message.lines[0]):
        return []
    items = [line for line in message.lines[1:] if _ITEM_MARK.match(line)]
    return items if len(items) * 2 >= len(message.lines) - 1 else []


def _apply_summary(message, items, turns, found, ctx) -> None:  # type: ignore[no-untyped-def]
    firsts = {t.owner.split()[0].lower(): t.owner for t in turns}
    counts: dict[str, int] = {}
    for line in items:
        body = _ITEM_MARK.sub(r"\g<body>", line)
        owned = _OWNED_ITEM.match(body)
        who = (owned.group("owner") or owned.group("owner2")) if owned else body.split(" ", 1)[0]
        who = message.speaker if (who or "").lower() in {"me", "myself", "i"} else (who or "")
        counts[who.split()[0].lower().lstrip("@") if who else ""] = (
            counts.get(who.split()[0].lower().lstrip("@") if who else "", 0) + 1
        )
    for line in items:
        mark = _ITEM_MARK.match(line)
        assert mark is not None
        symbol, body = mark.group("mark"), mark.group("body").strip()
        if symbol == "❓" or re.match(r"^(?:decided|decision|agreed)\b", body, re.I):
            continue
        owned = _OWNED_ITEM.match(body)
        owner = ""
        task = body
        if owned:
            owner = owned.group("owner") or owned.group("owner2") or ""
            task = owned.group("task") or owned.group("task2") or body
        else:
            first = body.split(" ", 1)
            if len(first) == 2 and first[0].lower() in firsts:
                owner, task = first[0], first[1]
        if owner.lower() in {"me", "myself", "i"}:
            owner = message.speaker
        if not owner:
            continue
        key = owner.split()[0].lower().lstrip("@")
        done = symbol in {"✅", "☑"}
        mine = [t for t in turns if t.owner.split()[0].lower().lstrip("@") == key and not t.summary]
        words = _words(body) - {key}
        best = max(mine, key=lambda t: len(t.words & words), default=None)
        alone = len(mine) == 1 and counts.get(key, 0) == 1
        if best is not None and (best.words & words or alone):
            best.summary = (
                body
                if not owned
                else f"{task} - {owner}" + (f", {owned.group('due')}" if owned.group("due") else "")
            )
            best.done = best.done or done
            best.due = owned.group("due") if owned else None
            continue
        _add(found, ctx, body, [owner], message.day, done=done, due=owned and owned.group("due"))


def _add(found, ctx, text, owners, day, *, done, due=None) -> None:  # type: ignore[no-untyped-def]
    """``found.add`` with the message's own day as the anchor of its relative dates."""
    saved = found.ctx
    reference = day or ctx.reference
    if reference != ctx.reference:
        found.ctx = replace(ctx, reference=reference)
    if due:
        # "Wed 17th": the day of the month says which Wednesday.
        hits = find_dates(due, reference, ctx.dayfirst)
        dated = [h for h in hits if h.date is not None]
        due = next((h.text for h in reversed(dated) if re.search(r"\d", h.text)), None) or (
            dated[0].text if dated else None
        )
    try:
        added = found.add(
            text, owners=owners, due=due or None, done=done, lenient=True, explicit=False
        )
        if added is not None and not owners:
            added.owners = []  # the memo's own voice: "I'll chase Klaus" is nobody named
    finally:
        found.ctx = saved


def _sentences(text: str) -> list[str]:
    parts = _SENTENCE_BREAK.split(text)
    return [p.strip() for p in parts if p.strip()]


_SENTENCE_BREAK = re.compile(
    r"\n|(?<=[.!?;])\s+|\s+-\s+(?=[a-z])|(?<=,)\s+(?=i(?:'ll|’ll|\s+will)\b)", re.IGNORECASE
)
_MENTION = re.compile(r"^(?:@[\w.\-]+(?:\s+[A-Z][\w'’-]+)?[,:]?\s+)+")
# "screenshots are mine - sorry, they'll be in the shared drive by tomorrow noon".
_CLAIM = re.compile(r"^[\w\s/+&'’-]{1,40}?\b(?:is|are)\s+mine\b", re.IGNORECASE)


def _words(text: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP)


def without_turns(sections, chat: Chat, *, summaries_only: bool = False):  # type: ignore[no-untyped-def]
    """``sections`` without the chat's speaker blocks (the turn mechanism reads those), or
    without only its summaries' item lines (what they restate was said already)."""
    drop = chat.summary_ids if summaries_only else chat.turn_ids
    return [
        replace(section, blocks=[b for b in section.blocks if id(b) not in drop])
        for section in sections
    ]


# --------------------------------------------------------------------------------------------
# Decisions and risks only a conversation states

# "ok decision (I spoke to Jas on the phone): …", "decision from the steering group: …",
# "agree with Hugo - if …": the verdict is what follows the label.
_DECISION_TURN = re.compile(
    r"^(?:(?:ok|okay|right|so|then)[,.!]?\s+)*(?:(?:final\s+)?decision|decided|agreed)"
    r"(?:\s*\([^)]{0,80}\)|\s+(?:from|by|at|in|with)\s[^:]{1,60})?\s*:\s*(?P<body>\S.+)$"
    r"|^(?:(?:ok|okay|right|so)[,.!]?\s+)*agreed?\s+with\s+@?[\w.'’-]+\s*[-–—:,]\s*(?P<body2>\S.+)$",
    re.IGNORECASE | re.DOTALL,
)
# "parked. adding to board agenda (28 April)": a verdict word opening the message.
_VERDICT_TURN = re.compile(
    r"^(?:(?:ok|okay|right)[,.!]?\s+)?(?:parked|shelved|deferred|approved|rejected)\b[.!,:]"
    r"\s*\S",
    re.IGNORECASE,
)
# "do we document it as an exception or …?" answered "we document it.": the group's choice.
_CHOICE = re.compile(r"\b(?:do|should|shall|can)\s+we\s+(?P<verb>[a-z]{3,})\b[^?]*\bor\b[^?]*\?")


def add_decisions(chat: Chat, decisions: list[str]) -> None:
    """Decisions stated in turns that the sentence readers do not see as decisions."""
    said = [topic_tokens(d) for d in decisions]
    for index, message in enumerate(chat.messages):
        text = _MENTION.sub("", " ".join(message.lines))
        found = None
        labelled = _DECISION_TURN.match(text)
        if labelled:
            found = _statements(labelled.group("body") or labelled.group("body2"))
        elif _VERDICT_TURN.match(text):
            found = _statements(text)
        elif index:
            before = chat.messages[index - 1]
            choice = _CHOICE.search(" ".join(before.lines))
            if (
                choice
                and before.speaker != message.speaker
                and re.match(rf"^we\s+{choice.group('verb')}\b", text, re.IGNORECASE)
            ):
                found = _statements(text)
        if not found or len(decisions) >= 50:
            continue
        tokens = topic_tokens(found)
        if len(tokens) >= 2 and not restates(tokens, said):
            decisions.append(clip(found))
            said.append(tokens)


# "Deepak please post here by 5pm": a request to a named person, not part of the verdict.
_ASK = re.compile(r"^@?[A-Z][\w.'’-]*,?\s+(?:please|pls|can you|could you)\b")


def _statements(text: str) -> str:
    """The statements of a turn, up to its first question, request or own commitment."""
    kept: list[str] = []
    for part in _sentences(text):
        if part.endswith("?") or _COMMIT.match(part) or _REQUEST.search(part) or _ASK.match(part):
            break
        kept.append(part)
    return " ".join(kept)


_TROUBLE_INTRO = re.compile(
    r"\b(?:problems?|issues?|concerns?|risks?|blockers?|worries)\s*:\s*$", re.IGNORECASE
)


def add_risks(chat: Chat, risks: list[dict]) -> None:  # type: ignore[type-arg]
    """An open question a summary marks ❓ ("BCP test evidence - no owner"): a gap, a risk."""
    said = [topic_tokens(r["text"]) for r in risks]

    def add(text: str) -> None:
        tokens = topic_tokens(text)
        if len(risks) < 50 and len(tokens) >= 2 and not restates(tokens, said):
            risks.append(
                {"text": clip(text), "severity": severity(text), "category": category(text)}
            )
            said.append(tokens)

    for message in chat.messages:
        # "two problems:" then "1) …" / "2) …": each listed item is one of them.
        for position, line in enumerate(message.lines[:-1]):
            if _TROUBLE_INTRO.search(line):
                for item in message.lines[position + 1 :]:
                    mark = _ITEM_MARK.match(item)
                    if mark is None:
                        break
                    add(mark.group("body"))
        for line in _summary_items(message):
            mark = _ITEM_MARK.match(line)
            if mark is None or mark.group("mark") != "❓":
                continue
            add(re.split(r"(?<=[.!?])\s+", mark.group("body"))[0])


# A dictated memo: "I'll …", "I need to …", "I should …" are the (unnamed) speaker's; "Tell
# Jess to …" / "I'll ask Priya to …" hand the task to the person named; "scratch that"
# cancels what came just before it.
_SELF = re.compile(
    r"^(?:(?:so|ok|okay|right|and|then|oh|um|uh|actually|\w+(?:\s\w+)?,)[,.!]?\s+)*"
    r"(?:i\s+will|i'll|i’ll"
    r"|i\s+(?:need|have)\s+to|need\s+to|i\s+should|i\s+must|i'm\s+going\s+to)\s+"
    r"(?P<verb>[a-z][\w’'-]*)",
    re.IGNORECASE,
)
_HAND_OVER = re.compile(
    r"^(?:(?:so|ok|okay|right|and|then|oh|um|uh|actually)[,.!]?\s+)*(?:(?:i'll|i’ll|i\s+will)\s+)?"
    r"(?:tell|ask|get)\s+(?P<who>(?-i:[A-Z])[\w'’-]+)\s+to\b,?\s*(?:to\s+)?(?P<task>.*)$",
    re.IGNORECASE,
)
_SCRATCH = re.compile(r"\bscratch that\b|\bforget (?:that|it)\b", re.IGNORECASE)


def _spoken(message: Message, index: int, text: str) -> list[_Turn]:
    sentences = [p for p in re.split(r"(?<=[.!?])\s+", text) if p.strip()]
    for position, sentence in enumerate(sentences):
        if _SCRATCH.search(sentence):
            sentences = sentences[position + 1 :]  # what was said before it does not stand
            break
    for position, sentence in enumerate(sentences):
        hand = _HAND_OVER.match(sentence)
        own = _SELF.match(sentence)
        if not hand and not (own and own.group("verb").lower() not in _NOT_VERB):
            continue
        rest = [p for p in sentences[position:] if not p.endswith("?")]
        if hand:
            task = " ".join([hand.group("task"), *rest[1:]])
            return [_Turn(hand.group("who"), task, message.day, index, _words(task))]
        later = next((_HAND_OVER.match(p) for p in rest[1:] if _HAND_OVER.match(p)), None)
        owner = later.group("who") if later else ""
        task = " ".join(rest)
        if _PRONOUN_TASK.search(" ".join(sentence[own.start("verb") :].split()[1:3])):
            task = " ".join(sentences[: position + 1 + len(rest) - 1])  # "I'll do that myself"
        return [_Turn(owner, task, message.day, index, _words(task))]
    return []


# --------------------------------------------------------------------------------------------
# Owner-led lines of running notes

# "-> Owner - Sven: send the drawing …", "=> Resp. Ana: …", "Who - JV: check …": who speaks
# for the task comes first, then what they took on.
_OWNER_LED = re.compile(
    r"^(?:(?:[-=]+>|→|⇒)\s*(?:owner|resp(?:\.|onsible)?|who)\s*[-–—:]"
    r"|(?:owner|resp(?:\.|onsible)?|who)\s*[-–—])\s*"
    r"(?P<who>[^:.;]{1,50}?)\s*:\s+(?P<task>\S.*)$",
    re.IGNORECASE,
)


# "Send the comparison sheet by Friday - @Marisol Ortega", "… - Speaker 4": a meeting
# assistant's action item names its assignee last.
_ASSIGNEE_LAST = re.compile(
    r"^(?P<task>\S.{6,}?)\s+[-–—]\s+(?P<who>@[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+){0,2}"
    r"|Speaker\s+\d{1,2})\s*$"
)


def owner_led(blocks: list[Block]) -> list[Block]:
    """Owner-led task lines of running notes, rewritten in the ``Action (Owner): task`` form the
    action readers know ("-> Owner - Carolina / Fernanda: send the alarm list …"), and a
    meeting assistant's "task - @Full Name" items likewise."""
    for block in blocks:
        if block.kind in {"paragraph", "list_item"}:
            led = _OWNER_LED.match(block.text)
            if led and len(led.group("who").split()) <= 6:
                block.text = f"Action ({led.group('who')}): {led.group('task')}"
                continue
            last = _ASSIGNEE_LAST.match(block.text)
            if last and block.checked is not None:
                who = last.group("who").lstrip("@")
                block.text = f"Action ({who}): {last.group('task')}"
    return blocks
