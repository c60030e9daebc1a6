"""Action items: what someone has to do, by whom, by when — and which of them are done.

Where a task is found, section by section:

* **marked anywhere** (except agendas): ``ACTION:``/``Action item:``/``AI:``/``TODO``/
  ``Follow-up:``, ``[Action Item] …``, ``… (todo)``, ``Assigned to X to …``, an unticked box;
* **every item of an actions section** (a question, a bare name or "(none)" excepted); a bare
  name or nick over nested items ("Action items, by person") owns those items;
* **a commitment in prose** (notes, summaries, speaker turns): ``X to …``, ``X will …``,
  ``@handle to …``, ``Speaker: I will …`` / ``Speaker: will …``;
* **action tables** with a task column (Action/Task/What/Item/Next step…) and an owner or due
  column (Owner/Who/Assignee/Responsible × Due/When/Deadline/Date).

Done items (``[x]``, "(done)", "DONE", "completed", a Done/Closed status) are kept apart,
marked done. Questions are never tasks. The same task listed again (meeting bots list each one
up to three times) is one task; the copies only fill in a missing owner or due date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from workers.digest.blocks import Block
from workers.digest.dates import deadline, find_dates
from workers.digest.decisions import is_decision_sentence
from workers.digest.owners import (
    ASSIGNED,
    ORG_TAG,
    Context,
    leading_owners,
    owner_part,
    owners_in,
)
from workers.digest.sections import Section
from workers.digest.tables import (
    RISK_TYPES,
    column_roles,
    is_decision_row,
    is_done_status,
    table_roles,
)
from workers.digest.words import BOILERPLATE, META_LINE, clip, field_line, split_names

MAX_ACTIONS = 50

_LABEL = re.compile(
    r"^(?:\[\s*(?P<blabel>action(?: item)?s?|ai|todo|to-?do|follow[- ]?up|task)\s*"
    r"(?:[-–—:,]\s*[\w ]{1,20})?\]\s*[:\-–—]?"
    r"|(?P<label>action items?|actions?|action point|ai|todo|to-?do|follow[- ]?up|task|next step)"
    r"\s*(?:#?\d+)?\s*(?:\((?P<qual>[^)]{1,40})\)|\[(?P<qual2>[^\]]{1,40})\])?"
    r"\s*(?::|\s[-–—]\s|(?<=todo)\s|(?<=TODO)\s))\s*(?P<body>.+)$",
    re.IGNORECASE | re.DOTALL,
)
_DIGIT = re.compile(r"\d")
# The outcome a meeting's "Action:" line records for an item: a verdict, not a task.
_OUTCOME = re.compile(
    r"^(?:approved|rejected|accepted|declined|tabled|deferred|postponed|withdrawn|carried"
    r"|passed|failed|noted|received|ratified|adopted|no action)\b(?!\s+(?:to|by)\s+[A-Z@])",
    re.IGNORECASE,
)
# Sign-offs and bare dates: "Thanks all,", "Have a nice weekend,", "2026-09-09".
_CLOSING = re.compile(
    r"^(?:thanks|thank you|cheers|best|regards|have a (?:nice|good|great)|see you)\b"
    r"|^[\d\s./-]+$|^edit this page",
    re.IGNORECASE,
)
# Meeting-bot tables print the tag without a colon: "ACTION elena_r to book the van".
_CAPS_LABEL = re.compile(
    r"^(?:ACTION|TODO)\s+(?:(?:#|no\.?\s*)?\d[\d/.\-]*\s*[:.\-–—]\s+)?(?P<body>\S.+)$"
)
_INLINE_MARK = re.compile(r"[.;!?]\s+(?:\[\s*action|action(?: item)?:|AI:|TODO:)", re.IGNORECASE)
_TODO_INLINE = re.compile(r"\((?:todo|to-?do|action)\)|\[(?:todo|action)\]|\bTODO\b", re.I)
_CLOSED_WORDS = (
    r"(?:done|completed?|closed|finished|merged|landed|shipped|fixed|sent|delivered|published"
    r"|resolved|superseded|not needed|no longer needed|cancell?ed|dropped|withdrawn|obsolete)"
)
_DONE = re.compile(
    r"^(?:done|completed?|closed|fixed|resolved|finished)\s*[:\-–—]\s*"
    r"|\((?:done|completed?|closed|fixed|finished)\b[^)]*\)|\[(?:done|completed?|closed)\]"
    r"|\s[-–—]\s*(?:done|completed?|closed)\.?$|(?-i:\b(?:DONE|COMPLETED?)\b)|[✓✔✅]"
    r"|[-–—:,]\s*(?:done|closed|completed?)\s*\]"
    r"|\balready (?:done|completed|merged|sent|fixed|shipped|closed)\b"
    r"|^~~.*~~|\b(?:has been|was|were|is now|now) (?:done|completed|sent|merged|shipped"
    r"|fixed|published|closed|finished)\b|:\s*(?:done|completed?)\.?$"
    # A status after the task: "- merged", "-- done.", ": completed 3 March", "(landed in
    # #412)"; superseded or dropped items are closed too (neither open nor to do).
    rf"|(?:\s(?:--?|[–—]|->|→|=>)|:)\s*{_CLOSED_WORDS}\b[^()]{{0,40}}$"
    r"|[,;]\s*(?:done|completed?|closed|finished|merged|landed|shipped|superseded)\b[^()]{0,40}$"
    rf"|\(\s*{_CLOSED_WORDS}\b[^)]*\)\W*$",
    re.IGNORECASE,
)
_FIELD = re.compile(
    r"\b(?P<key>owner|responsible|assigned to|assignee|action owner|who|due(?: date)?|deadline"
    r"|target date|priority|when|status)\s*[:=]\s*"
    r"(?P<value>(?:(?!\.\s|\s(?:due|owner|deadline|priority|status)\b)[^,;)|\]])+)"
    # "Draft the FAQ; owner Raj; due Friday": fields between semicolons, no colon.
    r"|(?<=;)\s*(?P<key2>owner|assignee|responsible)\s+(?P<value2>[^,;)|\]]{2,40})(?=;|$)",
    re.IGNORECASE,
)
_FIELD_LINE = re.compile(
    r"^(?P<key>owner|owners|responsible|assigned to|assignee|who|due(?: date)?|deadline|when"
    r"|priority|status)\s*:\s*(?P<value>.+)$",
    re.IGNORECASE,
)
_SPEAKER_COMMITMENT = re.compile(
    r"^(?:(?:ok|okay|sure|yes|yep|yeah|fine|right|so|and|also|then)[,!.]?\s+)*"
    r"(?P<lead>i\s+will|i'll|i’ll|i\s+can|i\s+am\s+going\s+to|i'm\s+going\s+to|i\s+shall"
    r"|i\s+(?:will|can)\s+also|will|to|i\s+(?:need|have)\s+to|i'll\s+also|i\s+volunteer\s+to"
    r"|i\s+(?:can|will)\s+take|let\s+me|i'll\s+take)\s+(?P<verb>[\w’'-]+)",
    re.IGNORECASE,
)
# A request in a conversation, taken by whoever answers with an _ACCEPT.
_REQUEST = re.compile(
    r"(?:^|[.!;]\s+)(?:(?:ok|okay|so|then|and)[,.]?\s+)*(?:@[\w.\-]+(?:\s+[A-Z][\w'’-]+)?[,:]?\s+"
    r"|[A-Z][\w'’-]+,\s+)?(?:can|could|would|will)\s+(?:you|someone|somebody|anyone)\s+"
    r"(?:please\s+)?(?P<task>[^?]{5,200})\?"
    r"|(?:^|[.!;]\s+)(?:(?:ok|okay|so|then|and)[,.]?\s+)*(?:someone|somebody)\s+(?:needs?|has)\s+to"
    r"\s+(?P<task2>[^.?!]{5,200})"
    r"|(?:^|[.!;]\s+)who\s+(?:can|will|wants to|could)\s+(?P<task3>[^?]{5,200})\?",
    re.IGNORECASE,
)
_ACCEPT = re.compile(
    r"^(?:(?:yes|yep|yeah|yup|sure|ok|okay|np|no problem|of course|happy to|sounds good)"
    r"[,!.]?\s*)*(?:i\s+can\s+(?:take|do|handle|own|pick)\s+(?:that|this|it)(?:\s+up|\s+on)?"
    r"|i(?:'ll|’ll|\s+will)\s+(?:take|do|handle|own|pick)\s+(?:that|this|it)(?:\s+up|\s+on)?"
    r"|will\s+do|on\s+it|i'?m\s+on\s+it|leave\s+it\s+with\s+me|can\s+do|mine)\b"
    r"[,.!]?\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
_OTHER_LABEL = re.compile(
    r"^(?:risks?|issues?|blockers?|concerns?|decisions?|decided|agreed|resolved|notes?|fyi"
    r"|questions?|info|idea)\s*:",
    re.IGNORECASE,
)
_TOPIC = re.compile(
    r"^(?!(?:risks?|issues?|blockers?|concerns?|decisions?|agreed|resolved|notes?|fyi|questions?"
    r"|status|update|context|background|outcome|result)\s*:)(?P<topic>[^:]{2,50}):\s+(?P<rest>\S.+)$",
    re.IGNORECASE,
)
# The speaker's own lead-in, dropped from the task ("I'll ping …" -> "ping …").
_OWN_LEAD = re.compile(
    r"^(?:(?:ok|okay|sure|yes|yep|yeah|fine|right|so|and|also|then)[,!.]?\s+)*"
    r"(?:i\s+will|i'll|i’ll|i\s+can|i\s+shall|will)\s+(?:also\s+)?[a-z]",
    re.IGNORECASE,
)
# A taking with nothing but a pronoun for the task: "I can take that.", "I'll do it."
_ONLY_TAKEN = re.compile(
    r"^(?:(?:ok|okay|sure|yes|yep|yeah)[,!.]?\s+)*(?:i\s+can|i'll|i’ll|i\s+will)\s+"
    r"(?:take|do|handle|own|grab)\s+(?:that|this|it)(?:\s+(?:one|on|up))?\W*$",
    re.IGNORECASE,
)
_SPEAKER_NON_ACTION = frozenset(
    """be been have not probably also likely still just think guess say agree see""".split()
)
_PRIORITY_HIGH = re.compile(
    r"\b(?:urgent(?:ly)?|asap|immediately|critical|high[- ]priority|top priority|blocker|p1"
    r"|priority\s*[:=]?\s*(?:high|1|critical))\b",
    re.IGNORECASE,
)
_PRIORITY_LOW = re.compile(
    r"\b(?:low[- ]priority|nice to have|when possible|if time (?:allows|permits)|p3"
    r"|priority\s*[:=]?\s*(?:low|3))\b",
    re.IGNORECASE,
)
_NOT_A_TASK = re.compile(
    r"^(?:\(?none\)?|n/?a|nothing|tbd|tbc|-+|\*\*?unassigned\*\*?|unassigned|no actions?"
    r"|no new actions?|no action items?|none this week|nil)\.?$",
    re.IGNORECASE,
)
_QUESTION = re.compile(r"\?\s*(?:\([^)]*\))?\s*$")
# A fact about a thing's state, not a task: "Release 2.3 is still planned for 25 Nov."
_STATUS_FACT = re.compile(
    r"^(?:the\s+)?[\w.\-]+(?:\s+[\w.\-]+){0,4}\s+(?:is|are|was|were|has been|have been)\s+"
    r"(?:still\s+|now\s+|already\s+|currently\s+)?(?:planned|scheduled|expected|on track|live"
    r"|complete|completed|done|ready|in progress|underway|out|released|green|amber|red)\b",
    re.IGNORECASE,
)
_PASSIVE_OR_STATUS = re.compile(
    r"^(?:we|it|this|that|there|they)\b|\b(?:was|were|has been|have been)\s+\w+ed\b", re.I
)


@dataclass(slots=True)
class Action:
    """One task as the digest reports it."""

    text: str
    owners: list[str] = field(default_factory=list)
    due_text: str | None = None
    due_date: str | None = None
    priority: str = "medium"
    done: bool = False
    key: str = ""
    # From an action list, table or label (not a sentence of the notes): its wording and
    # owners are the ones the document itself lists.
    explicit: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "text": clip(self.text),
            "owner": " and ".join(self.owners) if self.owners else None,
            "owners": list(self.owners),
            "due_date": self.due_date,
            "due_text": self.due_text,
            "priority": self.priority,
            "done": self.done,
        }


# Words that name no task of their own ("send it", "the update", "by Friday").
_GENERIC = frozenset(
    """and for with from the this that these those its their our into about out one all
    today tomorrow tonight eod eow eom week next end friday monday tuesday wednesday thursday
    saturday sunday mon tue tues wed thu thur thurs fri sat sun
    jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june
    july august september october november december due""".split()
)
_PRONOUN_OBJECT = re.compile(r"^\w+ (?:it|that|this|them)\b")


def task_key(text: str) -> str:
    """Words that identify a task across its copies (owner prefix, labels and case aside)."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return " ".join(w for w in words if w not in _KEY_NOISE)


# Owner-side words that are not the task ("Rui offered to test …" is the task "test …").
_KEY_NOISE = frozenset(
    """to will the a an action offered agreed volunteered promised has have is are going
    shall please can must should needs need also""".split()
)


class ActionList:
    """Collects tasks once each, in document order; repeats only fill missing fields."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.items: list[Action] = []
        self._by_key: dict[str, Action] = {}
        self._word_sets: list[tuple[Action, frozenset[str]]] = []

    def add(
        self,
        text: str,
        *,
        owners: list[str] | None = None,
        due: str | None = None,
        priority: str | None = None,
        done: bool = False,
        lenient: bool = True,
        explicit: bool = True,
    ) -> Action | None:
        text = " ".join(text.split()).strip(" -–—*")
        if len(text) < 3 or _NOT_A_TASK.match(text) or _QUESTION.search(text):
            return None
        fields = {
            (m.group("key") or m.group("key2")).lower(): (
                m.group("value") or m.group("value2")
            ).strip()
            for m in _FIELD.finditer(text)
        }
        if not owners:
            field_owner = next(
                (v for k, v in fields.items() if k.startswith(("owner", "resp", "assign", "who"))),
                None,
            )
            if field_owner:
                owners = [p.strip() for p in re.split(r"\s*(?:,|\band\b|&|/)\s*", field_owner) if p]
        owners = owners or owners_in(text, self.ctx, lenient=lenient)
        due_field = due or next(
            (v for k, v in fields.items() if k.startswith(("due", "dead", "target", "when"))), None
        )
        if fields.get("status") and is_done_status(fields["status"]):
            done = True
        cleaned = _clean(text)
        lead = leading_owners(cleaned, self.ctx, lenient=lenient)
        task = cleaned[lead[1] :] if lead else cleaned
        if not lead and (org := ORG_TAG.match(cleaned)):
            # "[Fernhill] Rob - re-share the prototype": the task after the side and its owner.
            inner = leading_owners(cleaned[org.end() :], self.ctx, lenient=True)
            task = cleaned[org.end() + inner[1] :] if inner else task
        if not lead and owners:
            # "@kbrenner issue with the CI cost breakdown": the owner named first, no verb.
            first = cleaned.split(" ", 1)
            if len(first) == 2 and first[0].strip(":,") in owners:
                task = first[1]
        key = task_key(task)
        if not key:
            return None
        due_text, due_date = None, None
        if due_field:
            hits = find_dates(due_field, self.ctx.reference, self.ctx.dayfirst)
            due_text, due_date = (hits[0].text, hits[0].date) if hits else (due_field, None)
        else:
            due_text, due_date = deadline(
                text, self.ctx.reference, self.ctx.dayfirst, self.ctx.next_meeting
            )
        existing = (
            self._by_key.get(key)
            or self._similar(key)
            or self._same_task(key, owners, explicit=explicit, done=done)
        )
        if existing is not None:
            if (
                not explicit
                and not existing.explicit
                and _PRONOUN_OBJECT.search(existing.key)
                and not _PRONOUN_OBJECT.search(key)
            ):
                existing.text = cleaned  # "write that up" said first, the annex named after
            if explicit and not existing.explicit:
                # A sentence of the notes, then the action list's entry for it: the list's
                # wording, owners and date are the ones the document settles on.
                existing.text, existing.explicit = cleaned, True
                existing.owners = owners or existing.owners
                if due_text and due_date:
                    existing.due_text, existing.due_date = due_text, due_date.isoformat()
                self._by_key.setdefault(key, existing)
                self._word_sets.append((existing, frozenset(key.split())))
            if not existing.owners and owners:
                existing.owners = owners
            if existing.due_text is None and due_text:
                existing.due_text = due_text
                existing.due_date = due_date.isoformat() if due_date else None
            existing.done = existing.done or done
            return None
        if len(self.items) >= MAX_ACTIONS:
            return None
        level = priority and priority.strip().split()[0]
        action = Action(
            text=cleaned,
            owners=owners,
            due_text=due_text,
            due_date=due_date.isoformat() if due_date else None,
            priority=_priority(level, text),
            done=done,
            key=key,
            explicit=explicit,
        )
        self.items.append(action)
        self._by_key[key] = action
        self._word_sets.append((action, frozenset(key.split())))
        return action

    def _similar(self, key: str) -> Action | None:
        """A task already listed whose words nearly all recur (a reworded copy)."""
        words = frozenset(key.split())
        if len(words) < 3:
            return None
        for action, other in self._word_sets:
            common = len(words & other)
            if common < 3 or common / min(len(words), len(other)) < 0.85:
                continue
            if _DIGIT.search(" ".join(words - other)) and _DIGIT.search(" ".join(other - words)):
                continue  # "… by 12 March 2027" and "… by 12 March 2028" are two tasks
            return action
        return None

    def _same_task(
        self, key: str, owners: list[str], *, explicit: bool, done: bool = False
    ) -> Action | None:
        """The same owner's task with the same verb and two more words in common ("Paul to
        ping former mentors from 2024" in the notes, "Paul to ping the former mentors about
        the summer round" in the action list) — one task written twice."""
        words = key.split()
        if not owners or len(words) < 2 or not words[0].isalpha():
            return None  # "v3.2.0-rc.0 released" starts with a name, not a verb
        who = {self.ctx.person(o) for o in owners if o.strip()} | _initials_of(owners)
        verb, rest = words[0], {w for w in words[1:] if len(w) >= 4}
        content = {w for w in words if len(w) >= 3 and w not in _GENERIC}
        for action, other in self._word_sets:
            mine = {self.ctx.person(o) for o in action.owners if o.strip()}
            mine |= _initials_of(action.owners)
            if not who & mine:
                continue
            theirs = {w for w in other if len(w) >= 3 and w not in _GENERIC}
            if action.key.split()[0] == verb and action.explicit != explicit:
                # A sentence of the notes and the list's entry for it, both the owner's with
                # the same verb and a thing in common ("I'll ping their maintainers …" /
                # "Ping the font library maintainers about the tag").
                if rest & theirs:
                    return action
            pronoun = bool(_PRONOUN_OBJECT.search(key) or _PRONOUN_OBJECT.search(action.key))
            shared = {w for w in content & theirs if len(w) >= 4 and not w.isdigit()}
            if (
                action.explicit != explicit
                and action.done == done
                and len(shared) >= 2
                and len(shared) * 5 >= 2 * min(len(content), len(theirs))
            ):
                # The minutes' sentence and the action list's row for it, worded apart ("GO to
                # bring a proposal with the defect list" / "Proposal on starting UAT …, with
                # the defect list"): one owner, and the things they name in common.
                pass
            elif action.key.split()[0] != verb:
                # The same owner's task named by its object in a summary list ("@lena
                # plugin-author survey (9/4)" for "write the plugin-author survey …"), or a
                # spoken "I'll write that up as an annex" for the list's "annex".
                short, long = sorted((content, theirs), key=len)
                if not (
                    (len(short) >= 2 and short <= long)
                    or (pronoun and {w for w in content & theirs if len(w) >= 4})
                ):
                    continue
            # A short restatement ("Chairs: start WGLC") is all in the longer one, either way
            # round; "I can resize it tomorrow" is the "resize the Sydney mirror" of the list.
            elif not (
                set(words) <= other or other <= set(words) or len(rest & other) >= 2 or pronoun
            ):
                continue
            mine_only, theirs_only = set(words) - other, other - set(words)
            if _DIGIT.search(" ".join(mine_only)) and _DIGIT.search(" ".join(theirs_only)):
                continue  # "… by 12 March 2027" and "… by 12 March 2028" are two tasks
            return action
        return None

    def attach_field(self, key: str, value: str) -> bool:
        """An ``Owner:``/``Due:`` line under a task belongs to it; one line may hold several
        fields ("Owner: k.lam. Due: 2026-07-24.")."""
        if not self.items:
            return False
        several = list(_FIELD.finditer(f"{key}: {value}"))
        if len(several) > 1:
            return all(
                self._attach_one(
                    m.group("key") or m.group("key2"),
                    re.sub(r"\s*\(.*$", "", m.group("value") or m.group("value2")),
                )
                for m in several
            )
        return self._attach_one(key, value)

    def _attach_one(self, key: str, value: str) -> bool:
        value = value.strip().rstrip(".")
        action = self.items[-1]
        key = key.lower()
        if key.startswith(("owner", "resp", "assign", "who")):
            if not action.owners:
                action.owners = [p for p in re.split(r"\s*(?:,|\band\b|&|/)\s*", value) if p]
            return True
        if key.startswith(("due", "dead", "when")):
            if action.due_text is None:
                hits = find_dates(value, self.ctx.reference, self.ctx.dayfirst)
                action.due_text = hits[0].text if hits else value.strip()
                action.due_date = hits[0].date.isoformat() if hits and hits[0].date else None
            return True
        if key == "priority":
            action.priority = _priority(value.split()[0] if value.split() else None, "")
            return True
        if key == "status":
            action.done = action.done or is_done_status(value)
            return True
        return False


def _initials_of(owners: list[str]) -> set[str]:
    """ "Fiona Threlkeld" → "ft", "FT" → "ft": a full name and its initials are one person."""
    out: set[str] = set()
    for owner in owners:
        parts = owner.split()
        if len(parts) >= 2 and all(p[:1].isupper() for p in parts):
            out.add("".join(p[0] for p in parts).lower())
        elif re.fullmatch(r"[A-Z]{2,3}", owner):
            out.add(owner.lower())
    return out


def _priority(level: str | None, text: str) -> str:
    if level:
        word = level.lower()
        if word in {"critical", "high", "h", "urgent", "p1", "1"}:
            return "high"
        if word in {"low", "l", "p3", "3"}:
            return "low"
        return "medium"
    if _PRIORITY_HIGH.search(text):
        return "high"
    if _PRIORITY_LOW.search(text):
        return "low"
    return "medium"


_STATUS_TAIL = re.compile(
    r"\s+(?:[-–—]|->|→)\s*(?:not (?:yet )?started|carried (?:over|forward|to)"
    r"|carrying (?:over|forward)|still open|in progress|ongoing|on hold|open|pending)\b"
    r"[^()]{0,40}$",
    re.IGNORECASE,
)


def _clean(text: str) -> str:
    """Drop markers and field-only brackets: "(Owner: Sam, Due: 3 May)" become fields."""

    def only_fields(match: re.Match[str]) -> str:
        rest = _FIELD.sub("", match.group(1))
        return "" if not re.sub(r"[\s,;]+", "", rest) else match.group(0)

    text = re.sub(r"\s*\(([^()]*)\)", only_fields, text)
    text = _TODO_INLINE.sub("", text)
    # "… — not started, carrying over": the item's status, not its task.
    text = _STATUS_TAIL.sub("", text)
    text = re.sub(
        r"^(?:done|completed?)\s*[:\-–—]\s*|\((?:done|completed?)[^)]*\)", "", text, flags=re.I
    )
    return " ".join(text.split()).strip(" -–—:;") or text


def label_body(text: str) -> tuple[str, list[str]] | None:
    """The task after an action label ("ACTION: …", "[Action Item] …", "AI: …"), with the
    owner a qualifier names ("Action (Priya): …"); None when the text carries no label."""
    caps = _CAPS_LABEL.match(text)
    if caps:
        return caps.group("body").strip(), []
    match = _LABEL.match(text)
    if not match:
        return None
    label = match.group("label") or match.group("blabel") or ""
    if label.lower() == "ai" and label != "AI":
        return None  # "ai: …" in lower case is not the minutes abbreviation
    if label.lower() in {"todo", "to-do", "to do"} and label.islower() and not text[4:5] == ":":
        return None
    qualifier = match.group("qual") or match.group("qual2")
    return match.group("body").strip(), [qualifier.strip()] if qualifier else []


def is_done(block: Block, text: str) -> bool:
    return block.checked is True or bool(_DONE.search(text))


_ARROW_LEAD = re.compile(r"^(?:=>|->|→|⇒|⟹)\s*")
_STATUS_LEAD = re.compile(
    r"^\[\s*(?P<state>open|done|closed|complete[d]?|todo|to-?do|wip|in progress|ongoing|new"
    r"|carried(?: over| forward)?|overdue|pending)\s*\]\s*[:\-–—]?\s*(?P<rest>\S.{2,})$",
    re.IGNORECASE,
)
_CLOSED_STATE = re.compile(r"(?:done|closed|complete)", re.IGNORECASE)


# In a list of actions, a report in the past tense is a done item: "Kai sent the invitation".
_PAST_DONE = re.compile(
    r"^(?:@?[A-Z][\w.'’-]*(?:\s+[A-Z][\w'’-]+)?|[A-Z]{2,3}|@[\w.\-]+)\s+(?:has\s+|have\s+)?"
    r"(?:sent|booked|published|shared|circulated|completed|finished|merged|fixed|updated"
    r"|created|added|wrote|written|submitted|delivered|closed|reviewed|confirmed|ordered"
    r"|uploaded|posted|organised|organized|scheduled|moved|migrated|released|removed)\b"
)


def extract_actions(sections: list[Section], ctx: Context) -> ActionList:
    """All tasks of the document, open and done."""
    found = ActionList(ctx)
    for section in sections:
        _section_actions(section, ctx, found)
    return found


def _section_actions(section: Section, ctx: Context, found: ActionList) -> None:
    role = section.role
    # Boxes under a question ("How would you assess the maturity?") are a form's options.
    form = section.heading.rstrip().endswith("?")
    # Prose beside a list of tasks introduces or comments it; it is read like notes.
    listed = role == "actions" and any(b.kind in {"list_item", "table"} for b in section.blocks)
    group_owner: tuple[int, str] | None = None  # (level, owner) of a bare name over items
    # "Handover items for Tariq", "Actions for @lena": the heading names whose items they are.
    for_whom = _FOR_WHOM.search(section.heading) if role == "actions" else None
    if for_whom:
        who = for_whom.group(1)
        who = who.title() if who.isupper() and len(who) > 3 else who
        if owner := owner_part(who, ctx, lenient=False):
            group_owner = (-1, owner)
    last_was_action = False
    request: tuple[str, str, int] | None = None  # (task, who asked, block index) in a chat
    for index, block in enumerate(section.blocks):
        if block.kind == "speaker" and role not in {"agenda", "questions"}:
            accepted = _ACCEPT.match(block.text.strip())
            if (
                accepted
                and request is not None
                and block.speaker != request[1]
                and index - request[2] <= 6
            ):
                # "can you push the image today?" … "yep, will do by EOD": the asker's task,
                # owned by who took it.
                rest = accepted.group("rest").strip(" ,.;")
                task = f"{request[0]}, {rest}" if rest else request[0]
                found.add(task, owners=[block.speaker or ""], lenient=True, explicit=False)
                request = None
                last_was_action = True
                continue
            asked = _REQUEST.search(block.text)
            if asked:
                task = asked.group("task") or asked.group("task2") or asked.group("task3")
                request = (task.strip(), block.speaker or "", index)
        if block.kind in {"quote", "heading", "rule"}:
            continue
        if block.kind == "table":
            _table_actions(block, role, ctx, found)
            last_was_action = False
            continue
        text = block.text.strip()
        if not text:
            continue
        if block.kind == "speaker":
            field = _FIELD_LINE.match(f"{block.speaker}: {text}")
            if field and last_was_action and found.attach_field(field["key"], field["value"]):
                continue
        else:
            field = _FIELD_LINE.match(text)
            if field and last_was_action and found.attach_field(field["key"], field["value"]):
                continue
        if group_owner is not None and block.level <= group_owner[0] and group_owner[0] >= 0:
            group_owner = None
        here = "form" if form else role
        if listed and block.kind == "paragraph":
            here = "notes"
        last_was_action = _block_action(block, text, here, ctx, found, group_owner)
        if (
            not last_was_action
            and role == "actions"
            and block.kind == "list_item"
            and (owner := owner_part(text.rstrip(":"), ctx, lenient=True))
        ):
            group_owner = (block.level, owner)


def _block_action(
    block: Block,
    text: str,
    role: str,
    ctx: Context,
    found: ActionList,
    group_owner: tuple[int, str] | None,
) -> bool:
    # "=> MA will compare …", "-> TN to repeat …": a conclusion marked by an arrow.
    text = _ARROW_LEAD.sub("", text) or text
    status = _STATUS_LEAD.match(text)
    if status and role not in {"agenda", "questions", "form"}:
        # "[open] TI: write the procedure", "[done] GB: update the catalogue": a tracked
        # item with its state in front, read as a box ticked or not.
        closed = bool(_CLOSED_STATE.match(status.group("state")))
        return _add(found, status.group("rest"), None, closed, lenient=True)
    done = is_done(block, text)
    inherited = [group_owner[1]] if group_owner and block.level > group_owner[0] else None
    if block.kind == "speaker":
        if block.checked is not None and role not in {"agenda", "questions", "form"}:
            # "- [ ] AK: sign off the amendment": a box with its owner, in any section.
            return _add(found, text, [block.speaker or ""], done, lenient=True)
        return _speaker_action(block, text, role, ctx, found, done)
    arising = _ARISING.match(text)
    if arising and role != "agenda" and not owner_part(arising["task"], ctx, lenient=False):
        # Matters arising: "Action 09 (capacity forecast) - carried forward, now due 26 Nov",
        # "Action 07 (vendor contract review) - complete": the bracket names the task, the
        # rest is its status.
        status = arising["status"]
        moved = _MOVED_DUE.search(status.rstrip(". "))
        found.add(
            arising["task"],
            due=moved.group(1) if moved else None,
            done=done or bool(_ARISING_DONE.search(status)),
        )
        return True
    labelled = label_body(text)
    if labelled is not None and _OUTCOME.match(labelled[0]):
        return False  # "Action: Approved." — what a meeting did with an item, not a task
    if labelled is not None and role != "agenda":
        body, owners = labelled
        if not owners and (nick := nick_first(body, ctx)):
            owners, body = nick  # MeetBot: "#action kb_lee write a test …", no "to"
        parts = _compound(body, ctx)
        for part in parts:
            _add(found, part, owners or inherited if len(parts) == 1 else None, done, lenient=True)
        return True
    if role != "agenda" and _INLINE_MARK.search(text):
        # "… went wrong. [Action Item] Nnamdi: add the devices." — a label inside a paragraph.
        added = False
        for sentence in _first_sentences(text)[1:]:
            inner = label_body(sentence)
            if inner is not None and not _OUTCOME.match(inner[0]):
                added = _add(
                    found, inner[0], inner[1] or None, is_done(block, sentence), lenient=True
                )
        if added:
            return True
    if block.checked is not None and role not in {"agenda", "questions", "form"}:
        bare = re.sub(r"\([^)]*\)", "", text).strip()
        if _bare_owner(bare, ctx) or (text.endswith(":") and len(text) < 40):
            return False  # a sign-off list of names, a form's "Other:"
        return _add(found, text, inherited, done, lenient=True)
    if _TODO_INLINE.search(text) and role != "agenda":
        return _add(found, text, inherited, done, lenient=True)
    if BOILERPLATE.search(text):
        return False
    if role == "actions":
        if block.kind == "paragraph" and _fragment(text):
            return False  # a scanned table's header or a cell's wrapped tail ("vendor May")
        if _OTHER_LABEL.match(text):
            return False  # "Risk: two providers still pin …" in a list of open items
        if _STATUS_FACT.match(text) or (
            _QUESTION.search(_first_sentences(text)[0]) and not owners_in(text, ctx, lenient=False)
        ):
            return False  # "Release 2.3 is still planned for 25 Nov."; "Who owns …? Nobody"
        if is_decision_sentence(text) and not owners_in(text, ctx, lenient=True):
            return False  # "no-meeting Wednesdays -> agreed by everyone" was decided, not owed
        if _PAST_DONE.match(text) and not re.search(r"\b(?:to|will)\b", text.split(" ", 2)[1]):
            return _add(found, text, inherited, True, lenient=True)
        if (
            _CLOSING.match(text)
            or META_LINE.match(text)
            or field_line(text)
            or _bare_owner(text, ctx)
            or (text.endswith(":") and len(text) < 60)
        ):
            return False
        if not inherited and (nick := nick_first(text, ctx)):
            return _add(found, nick[1], nick[0], done, lenient=True)
        return _add(found, text, inherited, done, lenient=True)
    if role in {"agenda", "questions", "background", "consequences", "attendees", "form"}:
        return False
    if role in {None, "notes", "summary"} and (named := _named_imperative(text, ctx)):
        return _add(found, named[1], named[0], done, lenient=True)
    if role == "decisions":
        return _owned_tasks(text, ctx, found, done)
    if role == "done":
        return False
    return _prose_actions(text, ctx, found, done)


def _add(
    found: ActionList,
    text: str,
    owners: list[str] | None,
    done: bool,
    *,
    lenient: bool,
    explicit: bool = True,
) -> bool:
    found.add(text, owners=owners, done=done, lenient=lenient, explicit=explicit)
    return True


_FOR_WHOM = re.compile(
    r"\b(?:for|to)\s+(@[\w.\-]+|[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)?)\s*:?\s*$", re.IGNORECASE
)


def nick_first(text: str, ctx: Context) -> tuple[list[str], str] | None:
    """A task whose first word is a participant's nick, then its verb: meeting bots print
    "ACTION: kb_lee write a test …" (``#action nick task``) and list it so again."""
    first = re.match(r"^(@?[\w.\-\[\]|`^]{2,32})\s+([a-z][\w'-]+)\s+\S", text)
    if not first or first.group(2) in _NICK_NOT_VERB:
        return None
    nick = first.group(1)
    if nick not in ctx.known and nick.lstrip("@") not in ctx.known:
        return None
    return [nick], text[first.end(1) :].strip()


_NICK_NOT_VERB = frozenset(
    """to will and or is are was were has have had said says thinks asked the a an of in on
    at for with from""".split()
)


def _bare_owner(text: str, ctx: Context) -> bool:
    bare = text.strip().rstrip(":")
    return len(bare.split()) <= 3 and owner_part(bare, ctx, lenient=True) is not None


# Verbs a task starts with when it is written as an order: "KT: get the form signed".
_IDEA_LABEL = re.compile(
    r"^(?:ideas?|proposals?|suggestions?|options?|plan|goal|aim|wish|nice to have)\s*:", re.I
)
_TASK_VERBS = frozenset(
    """add arrange ask book call cancel chase check circulate clean collect confirm contact
    coordinate create delete deploy document draft email escalate file find finalise finalize
    fix follow get investigate invite label land look merge migrate move notify open order
    organise organize pay ping plan post prepare price print publish raise reach rebase remove
    renew reply report request reserve review revise rotate run schedule send set share sign
    submit talk tell test update upload verify write""".split()
)


def _named_imperative(text: str, ctx: Context) -> tuple[list[str], str] | None:
    """A named person's order in running notes: "KT: get the renewal form signed …"."""
    match = re.match(r"^(?P<who>[^:]{2,40}):\s+(?P<verb>[a-z]+)\s+(?P<rest>\S+\s+\S.*)$", text)
    if (
        not match
        or match["verb"] not in _TASK_VERBS
        or _QUESTION.search(text)
        or text.rstrip().endswith(":")  # "plan for the week:" introduces a list
        or match["rest"][:1].isdigit()  # "ESD: contact 8 kV pass" is a result
        or _OTHER_LABEL.match(text)
        or _IDEA_LABEL.match(text)
    ):
        return None
    names = split_names(match["who"])
    owners = [owner_part(n, ctx, lenient=False) for n in names]
    if not names or not all(owners):
        return None
    return [o for o in owners if o], f"{match['verb']} {match['rest']}"


def _speaker_action(
    block: Block, text: str, role: str, ctx: Context, found: ActionList, done: bool
) -> bool:
    """A speaker's own commitment ("Priya: I will send …"), or a task said by them."""
    speaker = block.speaker or ""
    if role in {"agenda", "questions"}:
        return False
    labelled = label_body(text)
    if labelled is not None:
        body, owners = labelled
        if not owners and (nick := nick_first(body, ctx)):
            owners, body = nick
        return _add(found, body, owners or None, done, lenient=True)
    said = _first_sentences(text)
    added = False
    for index, sentence in enumerate(said):
        commitment = _SPEAKER_COMMITMENT.match(sentence)
        if commitment and commitment.group("verb").lower() not in _SPEAKER_NON_ACTION:
            if _QUESTION.search(sentence) or (
                _ONLY_TAKEN.match(sentence) and index + 1 < len(said)
            ):
                continue  # "I can take that. I'll tag every flaky test …": the next one says what
            if added:
                continue  # the speaker's first commitment; later ones mostly restate it
            task = sentence[commitment.start("verb") :] if _OWN_LEAD.match(sentence) else sentence
            added = _add(found, task, [speaker], done, lenient=True, explicit=False)
            continue
        lead = leading_owners(sentence, ctx, lenient=False)
        if lead and not lead[1] == 0:
            # "… by Friday. Hana to ask the IT director …": a line break lost between tasks.
            added = _add(found, sentence, lead[0], done, lenient=False, explicit=False)
    if added:
        return True
    if role in {None, "notes", "summary"} and (
        named := _named_imperative(f"{speaker}: {text}", ctx)
    ):
        return _add(found, named[1], named[0], done, lenient=True)
    if role == "actions":
        # "Jane, Raj, Sofia: prepare the demo": several owners before one colon.
        names = split_names(speaker) if re.search(r",|&|\band\b|/", speaker) else [speaker]
        owners = [o for o in (owner_part(n, ctx, lenient=True) for n in names) if o]
        return _add(
            found, text, owners if len(owners) == len(names) else [speaker], done, lenient=True
        )
    return False


def _fragment(text: str) -> bool:
    words = re.findall(r"[^\W_]+", text)
    if len(words) <= 2 and text[:1].islower():
        return True
    return (
        len(words) <= 6
        and len(column_roles(words)) >= 2
        and len(column_roles(words)) * 2 >= len(words)
    )


def _compound(body: str, ctx: Context) -> list[str]:
    """ "authors to publish -05; chairs to start WGLC once -05 is out": one task per owner."""
    parts = [p.strip() for p in re.split(r";\s+", body) if p.strip()]
    if len(parts) > 1 and all(leading_owners(p, ctx, lenient=True) for p in parts):
        return parts
    return [body]


def _first_sentences(text: str) -> list[str]:
    # A sentence may start in lower case with a nick or an office and its "to"/"will":
    # "Not concluded. hollis will write up …", "not voted on; the Chair will draft …".
    parts = re.split(
        r"(?<=[.!;?])\s+(?=[A-Z@\[]|(?:the\s+[A-Z][\w-]+|(?!(?:he|she|they|it|we|i|you|this|that"
        r"|there|who|which)\b)[a-z][\w.\-]*)\s+(?:to|will)\s+[a-z])",
        text,
    )
    return [p.strip() for p in parts[:40] if p.strip()]


_NEXT_OWNER = re.compile(r",\s+(?=@?[\w.\-]+(?:\s+[A-Z][\w'’-]+)?\s+(?:to|will)\s+[a-z])")


def _clauses(sentence: str, ctx: Context) -> list[str]:
    """ "yuna to land the fix this week, pmerle to review": one task per owner-led clause."""
    parts = _NEXT_OWNER.split(sentence)
    out = [parts[0]]
    for part in parts[1:]:
        lead = leading_owners(part, ctx, lenient=False)
        if lead and lead[1] > 0 and leading_owners(out[0], ctx, lenient=False):
            out.append(part)
        else:
            out[-1] = f"{out[-1]}, {part}"
    return out


def _owned_tasks(text: str, ctx: Context, found: ActionList, done: bool) -> bool:
    """Tasks written among decisions or conclusions: "CW to write the annex", "No consensus.
    GO will collect usage data …" — a named person's "to", or a participant's "will"."""
    added = False
    for sentence in (c for s in _first_sentences(text) for c in _clauses(s, ctx)):
        lead = leading_owners(sentence, ctx, lenient=False)
        if not lead or lead[1] == 0 or _QUESTION.search(sentence):
            continue
        verbword = sentence[lead[1] :].split(" ", 1)[0].lower()
        known = all(
            o in ctx.known
            or ctx.person(o) in ctx.aliases.values()
            or re.fullmatch(r"@?[A-Z]{2,3}|@\S+", o)
            for o in lead[0]
        )
        if verbword == "to" or (verbword == "will" and known):
            found.add(sentence, owners=lead[0], done=done, lenient=False, explicit=False)
            added = True
    return added


def _prose_actions(text: str, ctx: Context, found: ActionList, done: bool) -> bool:
    """Commitments in running text: "X to …", "X will …", "Assigned to X to …"."""
    added = False
    said = _first_sentences(text) if len(text) < 1500 else [text[:1500]]
    for sentence in (c for s in said for c in _clauses(s, ctx)):
        if _QUESTION.search(sentence):
            continue
        lead = leading_owners(sentence, ctx, lenient=False)
        if lead and lead[1] > 0:
            added = (
                found.add(sentence, owners=lead[0], done=done, lenient=False, explicit=False)
                is not None
                or added
            )
            continue
        topic = _TOPIC.match(sentence)
        if topic and (lead := leading_owners(topic.group("rest"), ctx, lenient=False)):
            # "Mentorship: Ruth Adler will recruit three mentees" — a topic, then the task.
            if lead[1] > 0 and not topic.group("rest").startswith(topic.group("topic")):
                rest = topic.group("rest")
                added = (
                    found.add(rest, owners=lead[0], done=done, lenient=False, explicit=False)
                    is not None
                    or added
                )
                continue
        assigned = ASSIGNED.search(sentence)
        if assigned and re.search(r"\bassigned to\b", sentence, re.I):
            added = (
                found.add(sentence, done=done, lenient=True, explicit=False) is not None or added
            )
    return added


_TASK_HEADER = re.compile(
    r"\b(?:action(?: item)?s?|tasks?|what|items?|next steps?|to-?dos?|follow[- ]?ups?"
    r"|deliverables?|work items?|activity|activities|description|name|title|stor(?:y|ies)"
    r"|tickets?|features?|epics?|backlog items?)\b",
    re.IGNORECASE,
)


def _table_actions(block: Block, role: str, ctx: Context, found: ActionList) -> None:
    """Rows of an action table: any reasonable task × owner × due header."""
    if role in {"decisions", "done"}:
        return  # a decision log's rows, a table of finished work
    roles = table_roles(block.header, block.rows)
    rows = block.rows
    if not roles and role == "actions":
        # A task list printed without a header ("A1  D. Kowalski  backout plan  Thu 9 Jul"):
        # its first line is a row, and the columns are told by what their cells hold.
        rows = [block.header, *block.rows]
        roles = _guess_columns(rows, ctx)
    if "action" in roles and ("owner" in roles or "due" in roles):
        # A register's task column: "Risk | … | Action | Action owner | Target date".
        roles = {**roles, "text": roles["action"]}
        role = "actions"
    text_col = roles.get("text")
    if _ATTENDANCE.search(" ".join(block.header)) and "due" not in roles:
        return  # "Name | Present", "Member | Affiliation | Attended": who came, not tasks
    if text_col is None and role == "actions" and block.header and rows is block.rows:
        text_col = next((i for i, _ in enumerate(block.header) if i not in roles.values()), None)
    if text_col is None:
        return
    heading = block.header[text_col] if rows is block.rows and text_col < len(block.header) else ""
    action_table = (
        bool(_TASK_HEADER.search(heading)) and ("owner" in roles or "due" in roles)
    ) or (
        # Any list of things with an owner and a date to do them by: a readiness checklist.
        "owner" in roles and "due" in roles and "likelihood" not in roles and "impact" not in roles
    )
    if re.search(r"\b(?:risk|issue|decision)", heading, re.I) and role != "actions":
        return
    if not (action_table or role == "actions"):
        return
    # A log of earlier actions tells what came of each: "Action | Who | Result" ("Done, held
    # on 5 Nov", "Not done, carried over"), read as the row's status.
    result_col = next(
        (
            i
            for i, c in enumerate(block.header)
            if rows is block.rows
            and i not in roles.values()
            and _RESULT_HEADER.fullmatch(c.strip(" :*_"))
        ),
        None,
    )
    for row in rows:
        cell = _cell(row)
        text = cell(text_col)
        if not text:
            continue
        if "action" not in roles and cell(roles.get("category")).lower() in RISK_TYPES:
            continue  # a tracker's or RAID log's Risk / Dependency row is a risk, not a task
        if is_decision_row(row, text_col):
            continue  # "Decision: …" card, a row in a tracker's Decisions column
        status = cell(roles.get("status", result_col))
        due = cell(roles.get("due")) or None
        if due and re.fullmatch(r"\d[\d\s./-]*\d", due):
            due = re.sub(r"\s+", "", due)  # "2026-1 0-23": a PDF's layout split the cell
        moved = _MOVED_DUE.search(status)
        if moved and find_dates(moved.group(1), ctx.reference, ctx.dayfirst):
            due = moved.group(1)  # "Open - now 4 Nov": the date the row was moved to
        owner_cell = cell(roles.get("owner"))
        owners = [p for p in re.split(r"\s*(?:,|\band\b|&|/|;)\s*", owner_cell) if p.strip()]
        owners = [o for o in owners if o.lower() not in {"-", "n/a", "tbd", "tbc", "none"}]
        found.add(
            text,
            owners=owners or None,
            due=due,
            priority=cell(roles.get("severity")) or None,
            done=is_done_status(status) or bool(_DONE.search(text)),
        )


_RESULT_HEADER = re.compile(r"(?:result|outcome|what happened|update)", re.IGNORECASE)
_ARISING = re.compile(
    r"^(?:action|ai|item)\s*(?:no\.?\s*)?#?\d[\d/.\-]*\s*\((?P<task>[^()]{3,80})\)\s*"
    r"(?:[:\-–—]|\s-)\s*(?P<status>\S.*)$",
    re.IGNORECASE,
)
_ARISING_DONE = re.compile(
    r"^\W*(?:complete[d]?|done|closed|finished|delivered)\b|\b(?:is|was|has been) (?:complete[d]?"
    r"|done|closed)\b",
    re.IGNORECASE,
)
_MOVED_DUE = re.compile(
    r"\b(?:now(?: due)?|moved to|new (?:date|target|due date)|revised(?: to)?|extended to"
    r"|re-?planned (?:for|to))\s*:?\s*(.{3,30})$",
    re.IGNORECASE,
)


_ATTENDANCE = re.compile(
    r"\b(?:present|attend(?:ed|ance|ing)?|apologies|affiliation|organi[sz]ation|company"
    r"|employer|e-?mail|github|handle|voting|quorum)\b",
    re.IGNORECASE,
)


def _cell(row: list[str]):  # type: ignore[no-untyped-def]
    def get(index: int | None) -> str:
        if index is None or index >= len(row):
            return ""
        return row[index].strip()

    return get


def _guess_columns(rows: list[list[str]], ctx: Context) -> dict[str, int]:
    """Column roles of a table without a header, from its cells: dates are the due column,
    names the owner column, the longest remaining text the task."""
    width = min(len(row) for row in rows)
    if width < 3:
        return {}

    def share(test, index: int) -> float:  # type: ignore[no-untyped-def]
        return sum(1 for row in rows if row[index].strip() and test(row[index])) / len(rows)

    roles: dict[str, int] = {}
    dated = [share(lambda v: find_dates(v, ctx.reference, ctx.dayfirst), i) for i in range(width)]
    if max(dated) >= 0.5:
        roles["due"] = dated.index(max(dated))
    named = [
        0.0 if i in roles.values() else share(lambda v: owner_part(v.strip(), ctx, lenient=True), i)
        for i in range(width)
    ]
    if max(named) >= 0.5:
        roles["owner"] = named.index(max(named))
    free = [i for i in range(width) if i not in roles.values()]
    if not free or ("owner" not in roles and "due" not in roles):
        return {}
    roles["text"] = max(free, key=lambda i: sum(len(row[i]) for row in rows))
    return roles
