"""Owners: who a task belongs to, as written — names, initials, @handles, nicks, "the DB team".

An owner is taken from the task's own words ("Maria to …", "mkumar will …", "@jlee, @sam to
…", "Assigned to Priya to …", "(Owner: Lena)", "… - Tom Brennan"), from the speaker who
committed ("Priya: I will …"), or from the person a group of items is listed under. A heading
is never an owner: headings do not reach this module.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from workers.digest.dates import find_dates
from workers.digest.words import NON_NAME_WORDS, person_name, split_names


@dataclass(slots=True)
class Context:
    """What every extractor needs to know about the document as a whole."""

    reference: dt.date | None
    dayfirst: bool = True
    lower_vocabulary: frozenset[str] = frozenset()
    #: Nicks and names seen as speakers, in attendee lists or tallies.
    known: set[str] = field(default_factory=set)
    #: The document's author (an e-mail's sender): who "me" / "I" is in a task list.
    author: str | None = None
    #: The next meeting's date, when the document states it.
    next_meeting: dt.date | None = None
    #: One person's several names, as a sign-in list pairs them ("Kai Brenner / @kbrenner",
    #: "Helen Marsh (HM)"): each lower-cased name → one key for that person.
    aliases: dict[str, str] = field(default_factory=dict)

    def person(self, owner: str) -> str:
        """A key that is the same for every name of one person ("Kai", "@kbrenner")."""
        name = owner.strip().lower()
        return (
            self.aliases.get(name)
            or self.aliases.get(name.lstrip("@"))
            or (name.lstrip("@").split()[0] if name.strip("@ ") else name)
        )


_ALIAS = re.compile(
    r"(?P<name>[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+){0,2})\s*(?:/|\(|,|[-–—]|\|)\s*"
    r"(?P<other>@[\w.\-]{2,40}|[A-Z]{2,3}\b)"
)


_INITIALS_FIRST = re.compile(
    r"(?<![\w@])(?P<other>[A-Z]{2,3})\s*\((?P<name>[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+){0,2})\)"
)


def person_aliases(texts: list[str]) -> dict[str, str]:
    """Names paired with a handle or initials in the document ("Lena Moretti / @lmoretti",
    "Tomasz Nowak (TN)", "JT (Jonas)"), each name → the handle or initials it goes with."""
    aliases: dict[str, str] = {}
    for text in texts:
        for match in _INITIALS_FIRST.finditer(text):
            name, other = match.group("name"), match.group("other")
            if person_name(name) and other[0] == name[0]:
                for alias in {name.lower(), name.split()[0].lower(), other.lower()}:
                    aliases.setdefault(alias, other.lower())
        for match in _ALIAS.finditer(text):
            name, other = match.group("name"), match.group("other")
            if not person_name(name) or (other.isupper() and other != _initials(name)):
                continue
            key = other.lower().lstrip("@")
            for alias in {name.lower(), name.split()[0].lower(), other.lower(), key}:
                aliases.setdefault(alias, key)
    return aliases


def _initials(name: str) -> str:
    return "".join(part[0] for part in name.split() if part[:1].isupper())


_TOKEN = (
    r"(?!(?:to|will|shall|should|must|agreed|volunteered|volunteers|offered|has|have|is|are"
    r"|can|please|needs?|promised|takes?|owns)\b)@?[^\W\d_][\w.'’\-]*"
)
_NAME = rf"(?:the\s+)?{_TOKEN}(?:\s+(?:(?:van|von|de|da|del|der|di|du|la|le)\s+)?{_TOKEN}){{0,2}}"
_VERBS = (
    r"to|will|shall|should|must|needs? to|is to|are to|has agreed to|agreed to|have agreed to"
    r"|volunteered to|has volunteered to|volunteers to|offered to|has offered to|to please"
    r"|please|can|'ll|’ll|is going to|are going to|promised to|takes?|owns|is working on"
    r"|asked to|said (?:that )?(?:he|she|they) (?:would|will|can|could)|said (?:he|she|they)"
    r"(?:'d|’d|'ll|’ll)"
    r"|,\s*(?:please|can you|could you|would you)"
)
LEADING_OWNER = re.compile(
    rf"^(?P<name>{_NAME}(?:\s*(?:,|and|&|/|\+)\s*{_NAME}){{0,4}})"
    rf"\s*(?:(?P<colon>:|\s[-–—])\s+|\s*(?P<verbword>{_VERBS})\s+(?P<verb>[\w’'-]+))",
    re.IGNORECASE,
)
_NON_ACTION_VERBS = frozenset(
    """be been being have has had not likely probably also remain continue still need the a an
    is are was were do does get""".split()
)
_INITIALS = re.compile(r"^[A-Z]{2,3}$")
_HANDLE = re.compile(r"^@[\w.\-]{1,40}$")
_NICK = re.compile(r"^[a-z][a-z0-9_\-\[\]|`^]{1,30}$")
_GROUP_WORD = (
    r"[A-Z][\w&/-]*"
    r"|(?!(?:our|whole|entire|same|other|this|that|each|every|new|your)\b)[a-z][\w&/-]{1,15}"
)
# A group that owns a task: "the infra team", "Team Alpha", "QA guild", "platform on-call",
# "Tessellate maintainers", "the release lead".
_TEAM = re.compile(
    rf"^(?:[Tt]he\s+)?(?:{_GROUP_WORD})(?:\s+(?:{_GROUP_WORD})){{0,2}}\s+(?:team|teams|group"
    r"|squad|wg|WG|sig|SIG|working group|committee|guild|maintainers|leads?|Leads?|on-?call"
    r"|crew|council|chapter|Team|Group|Guild|Committee)$"
    r"|^(?:[Tt]eam|SIG|WG|sig|wg)\s+[\w-]+$",
)
#: "Everyone to review the draft": the whole group, on an explicit "to" or an action line.
_GROUPS = frozenset(
    """members attendees participants reviewers maintainers chairs authors editors committers
    volunteers organisers organizers""".split()
    + ["all attendees", "all members", "all participants", "all maintainers", "the chairs"]
)
#: "Chairs will run the call" names who; "everyone will benefit" does not — only "to" does.
_EVERYONE = frozenset({"everyone", "everybody", "all"}) | _GROUPS
_NOT_OWNERS = frozenset(
    """we i you they he she it this that these those everyone everybody someone somebody
    anyone nobody all who which there here one each other others people team folks group
    action actions todo unassigned none tbd tbc n/a na""".split()
)
_FREE = r"(?!(?:to|will|for|by|and)\b)@?[^\W\d_][\w.'’\-]*"
_FREE_NAME = rf"(?:the\s+)?{_FREE}(?:\s+{_FREE}){{0,2}}"
ASSIGNED = re.compile(
    r"\b(?:assigned to|assignee:?|owner:|owned by|responsible:|who:)\s*"
    rf"(?P<names>{_FREE_NAME}(?:\s*(?:,|and|&|/)\s*{_FREE_NAME}){{0,3}})",
    re.IGNORECASE,
)
_TRAILING = re.compile(
    r"(?:\(\s*(?P<paren>[^()]{2,40})\s*\)|\[\s*(?P<brack>[^\[\]]{2,40})\s*\]"
    r"|\s(?:[-–—]|->|→|=>)\s+(?P<dash>[^-–—>→]{2,40})|\s(?P<at>@[\w.\-]{2,40}))"
    r"\s*[.;]?$"
)
# What may close a task after its owner: "(Ana, Ben) - next Monday", "— Ana, by Friday".
_TRAILING_DUE = re.compile(r"[\s,;:\-–—]*(?:(?:by|due|until|before)\s+)?$", re.IGNORECASE)
# "(Rafael): publish the SDK wrapper", "[Priya] send the notes".
_BRACKETED_OWNER = re.compile(
    r"^[(\[]\s*([^()\[\]]{2,40}?)\s*[)\]]"
    r"((?:\s*(?:,|and|&|\+|/)\s*[(\[]\s*[^()\[\]]{2,40}?\s*[)\]]){0,4})\s*[:\-–—]?\s+\S"
)
# A tag for the side or team an item belongs to, before its owner: "[M&P] Callum - …".
ORG_TAG = re.compile(r"^[(\[][^()\[\]]{1,30}[)\]]\s+(?=[A-Z@])")
# A wiki task: a mention of a person by full name, then the task's verb.
_MENTION_TASK = re.compile(r"^(?P<who>@[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+){0,2})\s+(?=[a-z])")
MENTION = re.compile(r"(?<![\w@])@(?P<handle>[A-Za-z][\w.\-]{0,40}[\w])")


def owner_part(part: str, ctx: Context, *, lenient: bool) -> str | None:
    """``part`` as an owner, as written, or None: a name, initials, @handle, nick or team.

    ``lenient`` (an explicit action line, an actions section) also takes a lower-case nick.
    """
    part = part.strip(" .:*'\"")
    if part.lower() in {"me", "i", "myself"} and lenient:
        return ctx.author
    if lenient and part.lower() in _EVERYONE:
        return part
    if not part or part.lower() in _NOT_OWNERS:
        return None
    if part.lower().startswith("the ") and not _TEAM.match(part):
        # "The Clerk to report …", "the Chair will draft …": the office, without its article.
        role = part[4:].strip()
        return role if _ROLE.match(role) else None
    titled = _HONORIFIC.match(part)
    if titled and person_name(titled.group("name"), ctx.lower_vocabulary) == titled.group("name"):
        return part  # "Cllr Mrs Pennick", "Dr Adeyemi": the title stays, as written
    if _CAPS_SURNAME.match(part) and any(
        " " in name and name.split()[-1] == part.title() for name in ctx.known
    ):
        return part  # "VASQUEZ will send …" in minutes that list "Marco Vasquez" as present
    if _HANDLE.match(part) or _TEAM.match(part) or _ROLE.match(part):
        return part
    if lenient and part.lower() in _DEPARTMENTS and part[0].isupper():
        return part  # "Legal to review the DPA", "QA to add regression tests"
    if part in ctx.known:
        return part
    if _INITIALS.match(part) and part.lower() in ctx.aliases:
        return part  # "AS (Amir)" makes "AS to raise …" a person, though "as" is a word
    if _INITIALS.match(part):
        return part if part.lower() not in NON_NAME_WORDS and part not in _NOT_INITIALS else None
    if person_name(part, ctx.lower_vocabulary if not lenient else None) == part:
        return part
    if _NICK.match(part) and part not in NON_NAME_WORDS and len(part) >= 2:
        # A lower-case nick: on an explicit action line, or when it looks like one (gk-ng).
        if lenient or re.search(r"[\d_\-\[\]|`^]", part):
            return part
    return None


_PARTICIPLE = re.compile(r"^[A-Z][a-z]{3,}ed$")
# A name after a title or two: "Cllr Mrs Vass", "Dr Adeyemi", "Prof. Lindqvist".
_HONORIFIC = re.compile(
    r"^(?:(?:Cllr|Councillor|Dr|Prof|Professor|Mr|Mrs|Ms|Miss|Mx|Sir|Dame|Rev|Revd|Fr)\.?\s+)"
    r"{1,2}(?P<name>[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)?)$"
)
# A surname in capitals, as formal minutes write who speaks or acts: "HALVORSEN".
_CAPS_SURNAME = re.compile(r"^[A-Z][A-Z'’-]{3,}$")
# Departments and functions that own tasks in programme minutes ("Procurement to …").
_DEPARTMENTS = frozenset(
    """legal finance procurement security marketing sales engineering operations ops support
    qa hr it design product facilities comms communications infra infrastructure platform
    devops sre data pmo accounts payroll compliance audit research ux documentation docs
    releng""".split()
)
# An office or role that owns a task in formal minutes: "Treasurer: circulate …", "Executive
# Director to …", "Release Manager", "Scrum Master", "the Chair".
_ROLE = re.compile(
    r"^(?:[Tt]he\s+)?(?:[A-Z][\w-]*\s+){0,2}(?:Director|Secretary|Treasurer|Chair(?:person|man"
    r"|woman)?|Co-?[Cc]hairs?|Chairs|Manager|Lead|Owner|Officer|Master|Coordinator|Architect"
    r"|Sponsor|Editor|Liaison|Champion|President|Clerk|Administrator|Engineer|Analyst"
    r"|Counsel|Registrar|Convenor|Convener|Facilitator|Scribe)s?$"
)
_NOT_INITIALS = frozenset("AI QA PM HR IT BA CI CD TBD TBC FYI ETA API PR UI DB OK NB PS".split())


def leading_owners(text: str, ctx: Context, *, lenient: bool) -> tuple[list[str], int] | None:
    """Owners named at the start of a task ("Maria and @sam to …"), with where the task starts.

    None when the start is not an owner followed by "to"/"will"/a colon and a real verb.
    """
    match = LEADING_OWNER.match(text)
    if not match:
        return None
    verb = (match.group("verb") or "").lower()
    if verb in _NON_ACTION_VERBS:
        return None
    if (match.group("verbword") or "").lower() == "to" and match.group("verb")[:1].isupper():
        return None  # "Assigned to Priya …", "Welcome to Berlin"
    if match.group("colon") and not lenient:
        return None
    if (match.group("verbword") or "").lower() == "can" and not lenient:
        return None  # "Inspectors can complete an inspection offline" states an ability
    parts = [p for p in re.split(r"\s*(?:,|\band\b|&|/|\+)\s*", match.group("name")) if p]
    if len(parts) == 1 and _PARTICIPLE.match(parts[0]) and parts[0] not in ctx.known:
        return None  # "Called to order at 17:02", "Limited to members": a verb, not a name
    verbword = (match.group("verbword") or "").lower()
    owners = [
        owner_part(
            p,
            ctx,
            lenient=lenient
            or (verbword == "to" and p.lower() in _EVERYONE)
            or (verbword in {"to", "will", "shall"} and p.lower() in _GROUPS)
            # "Procurement to place the order"; not "Product will launch in May" (a plan).
            or (verbword == "to" and p.lower() in _DEPARTMENTS),
        )
        for p in parts
    ]
    if len(parts) > 1 and any(owners) and not all(owners):
        # "tsoto and gk-ng to …": one nick vouches for its lower-case partner.
        owners = [o or owner_part(p, ctx, lenient=True) for o, p in zip(owners, parts, strict=True)]
    if not owners or not all(owners):
        return None
    start = match.start("verbword") if match.group("verbword") else match.end()
    return [o for o in owners if o], start


# What may follow an owner at the end of a task: a due phrase or a status note
# ("-> Bruno, by next retro", "(Aleks) -> carried over, still open").
_TRAILING_NOTE = re.compile(
    r"(?:,\s*(?:by|before|until|within|due|starts?|from)\s+[^,()]{1,30}"
    r"|\s*(?:->|→|=>|[-–—])\s*(?:carried (?:over|forward)|still open|in progress|ongoing"
    r"|not started|open|on hold)\b[^()]{0,30})$",
    re.IGNORECASE,
)


def _without_trailing_date(text: str, ctx: Context) -> str:
    """``text`` without the date that closes it ("… (Ana, Ben) - next Monday")."""
    text = _TRAILING_NOTE.sub("", text.rstrip(" .;")) or text
    hits = find_dates(text, ctx.reference, ctx.dayfirst)
    if not hits or text[hits[-1].end :].strip(" .)") or hits[-1].start < 8:
        return text
    head = text[: hits[-1].start]
    cut = _TRAILING_DUE.search(head)
    return head[: cut.start()] if cut else head


_CLOSING_PAREN = re.compile(r"\((?P<who>[^(),]{2,40}),\s*(?P<when>[^()]{2,40})\)\s*[.;]?$")
_WHEN_NOTE = re.compile(
    r"(?:by|due|before|until|end of|eo[dwmy]|mid|early|late|next|this|no date|tbd|tbc|asap"
    r"|ongoing|\d|(?:mon|tue|wed|thu|fri|sat|sun)\w*|(?:jan|feb|mar|apr|may|jun|jul|aug|sep"
    r"|oct|nov|dec)\w*)\b",
    re.IGNORECASE,
)


def owners_in(text: str, ctx: Context, *, lenient: bool) -> list[str]:
    """Owners named anywhere in a task: leading name, "assigned to", a field, @mention, a
    trailing "(Name)" / "- Name"."""
    lead = leading_owners(text, ctx, lenient=lenient)
    if lead:
        return lead[0]
    org = ORG_TAG.match(text)
    if org and (inner := leading_owners(text[org.end() :], ctx, lenient=True)):
        return inner[0]  # "[Fernhill] Lena/Rob - draft …": the side's tag, then who
    tagged = _MENTION_TASK.match(text)
    if tagged:
        return [tagged.group("who")]  # "@Noemi Kraus circulate the minutes" (a wiki task list)
    bracketed = _BRACKETED_OWNER.match(text)
    if bracketed:
        # "[GB] + [SF] to agree …": every tag is an owner.
        more = re.findall(r"[(\[]\s*([^()\[\]]{2,40}?)\s*[)\]]", bracketed.group(2) or "")
        tags = [bracketed.group(1), *more]
        names = [owner_part(p, ctx, lenient=True) for t in tags for p in split_names(t)]
        if names and all(names):
            return [n for n in names if n]
    assigned = ASSIGNED.search(text)
    if assigned:
        names = [
            owner_part(p, ctx, lenient=True)
            for p in re.split(r"\s*(?:,|\band\b|&|/)\s*", assigned.group("names"))
        ]
        if names and all(names):
            return [n for n in names if n]
    trailing = _TRAILING.search(_without_trailing_date(text, ctx))
    if trailing:
        candidate = (
            trailing.group("paren")
            or trailing.group("brack")
            or trailing.group("dash")
            or trailing.group("at")
            or ""
        )
        parts = split_names(candidate)
        names = [owner_part(p, ctx, lenient=False) for p in parts]
        if (
            parts
            and all(names)
            and (
                len(candidate.split()) >= 2
                # On an explicit action line ("TODO: … (Ana)") a single name is its owner.
                or (lenient and not trailing.group("at"))
                or any(
                    n in ctx.known or _HANDLE.match(n or "") or _INITIALS.match(n or "")
                    for n in names
                )
            )
        ):
            return [n for n in names if n]
    closing = _CLOSING_PAREN.search(text)
    if closing and _WHEN_NOTE.match(closing.group("when")):
        # "(Ilse and Kofi, by 18 December)", "(Paulina, end of November)", "(support team,
        # no date)": who, then when.
        parts = split_names(closing.group("who"))
        names = [owner_part(p, ctx, lenient=lenient) for p in parts]
        if parts and all(names):
            return [n for n in names if n]
    mentions = [m.group(0) for m in MENTION.finditer(text)]
    if mentions:
        return mentions[:3]
    return []
