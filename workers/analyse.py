"""Turn a project document's plain text into a project-management digest.

Rules and statistics only: no network, no model, no clock. The same text (and the same
``reference_date``) always gives the same digest, which keeps re-processing idempotent and the
tests exact.

How each part is found, in short:

* **Structure first.** Lines are re-joined where a PDF wrapped a sentence, headings open
  sections ("Action items", "Risks and issues", "Decisions", "Attendees"...), and lines of the
  form ``a | b | c`` (what ``workers.extract`` makes of DOCX, HTML, Markdown and CSV tables)
  are read as tables with a header row. PDF text has no cell boundaries, so a risk register
  or action log drawn as a table in a PDF is read as prose only (a known limit).
* **Action items**: labelled lines (``Action:``, ``AI:``, ``TODO``, ``- [ ]``), items of an
  actions section, rows of an action table, and sentences whose subject is a person followed by
  "to"/"will" and a verb. Owner from ``Owner:`` fields, a leading name or ``(Name)``; the due
  date from the date after "by"/"due"/"before"...
* **Dates**: absolute dates are always resolved ("12 March 2027", "March 12, 2027",
  "2027-03-12", "12/03/2027" read day-first unless ``dayfirst=False``). Dates without a year and
  relative ones ("by Friday", "end of month") are resolved only against an explicit
  ``reference_date``; without one, ``due_date`` is None and ``due_text`` keeps the words.
* **Risks**: ``Risk:`` lines, items of a risks/issues section, rows of a risk register
  (severity from a severity column, else likelihood x impact), and sentences with risk words.
* **Decisions**: ``Decision:`` lines, a decisions section, and sentences saying something was
  agreed, decided or approved (not "awaiting approval").
* **People**: names from attendee lists, ``Prepared by:``-style fields, owners; a candidate
  word that also appears in lower case in the document ("Finance" / "finance") is not a name.
* **Keywords**: frequent content words and word pairs (stop words removed); **summary**: the
  best-scored sentences by content-word frequency, in document order.

Work is bounded (``MAX_*`` constants) so a 2 MB text is analysed in a few seconds.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_ITEMS", "MAX_LINES", "MAX_SUMMARY_SENTENCES", "WORDS_PER_MINUTE", "analyse"]

#: Longest text looked at; ``workers.extract`` refuses longer ones anyway.
MAX_CHARS = 2_000_000
#: Lines scanned for structure (actions, risks, decisions, people, dates).
MAX_LINES = 60_000
#: Wrapped lines are re-joined up to this length.
MAX_LINE_CHARS = 5_000
#: Content words counted for keywords.
MAX_KEYWORD_WORDS = 200_000
#: Sentences scored for the summary.
MAX_SUMMARY_SENTENCES = 3_000
#: Entries kept per list in the digest.
MAX_ITEMS = 50
MAX_KEY_DATES = 30
MAX_KEYWORDS = 10
#: Longest entry text kept, so one run-on paragraph cannot bloat the digest.
MAX_ENTRY_CHARS = 400
WORDS_PER_MINUTE = 230

_LEVELS = ("low", "medium", "high")

# --------------------------------------------------------------------------------------------
# Vocabulary

_STOPWORDS = frozenset(
    """a about above after again against all also am an and any are aren't as at be because
    been before being below between both but by can cannot could couldn't did didn't do does
    doesn't doing don't down during each either etc few for from further get gets got had hadn't
    has hasn't have haven't having he he'd he'll he's her here here's hers herself him himself
    his how how's however i i'd i'll i'm i've if in into is isn't it it's its itself just let's
    may me might more most must mustn't my myself need needs no nor not now of off on once only
    or other ought our ours ourselves out over own per same shall shan't she she'd she'll she's
    should shouldn't so some such than that that's the their theirs them themselves then there
    there's these they they'd they'll they're they've this those through thus to too under
    until up upon us very via was wasn't we we'd we'll we're we've were weren't what what's when
    when's where where's whether which while who who's whom why why's will with within without
    won't would wouldn't yes yet you you'd you'll you're you've your yours yourself yourselves
    one two three four five six seven eight nine ten first second third next last new many much
    well still already since across around along among able like made make makes across
    """.split()
)
# Words that carry no topic in PM documents: labels, dates, generic verbs.
_PM_NOISE = frozenset(
    """action actions item items owner owners due date dates attendees apologies minutes agenda
    page pages none note notes status update updated updates meeting meetings week weeks month
    months year years day days today tomorrow report reported period version prepared present
    ai todo tbc tbd n/a na ok total include includes including following followed remains
    remain start started end ended per cent percent
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday
    saturday sunday high medium low critical project""".split()
)
# Capitalised words that are never (part of) a person's name in these documents.
_NON_NAME_WORDS = (
    _STOPWORDS
    | _PM_NOISE
    | frozenset(
        """risk risks decision decisions decided agreed approved issue issues project projects
    programme program manager management lead leads director head officer sponsor chair
    chairperson committee steering board team teams group client customer customers vendor
    vendors supplier suppliers contractor finance legal procurement marketing sales engineering
    operations support security infrastructure architect architecture analyst engineer
    developer developers designer tester testing consultant coordinator administrator assistant
    secretary executive president ceo cto cfo coo cio vp pm pmo qa hr it ba
    budget schedule scope plan plans summary overview introduction background purpose
    objectives objective milestones milestone deliverables deliverable stakeholders
    stakeholder governance approval approvals assumptions constraints dependencies next steps
    step progress accomplishments highlights lowlights notes appendix contents register log
    high medium low critical amber red green open closed complete completed done pending
    phase stage release sprint go live golive cutover data system systems crm erp api cloud
    the all everyone others other tbc tbd na owner owners responsible attendee attendees
    please thanks dear hi hello regards kind best mr mrs ms dr prof sir madam
    north south east west central global group ltd inc plc llc company
    """.split()
    )
)
_NAME_PARTICLES = frozenset({"van", "von", "de", "da", "del", "der", "di", "du", "la", "le", "bin"})
_TITLES = re.compile(r"^(?:mr|mrs|ms|miss|dr|prof|sir)\.?\s+", re.IGNORECASE)

_RISK_CATEGORIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "compliance",
        re.compile(
            r"\b(complian\w*|regulat\w*|gdpr|legal|audit\w*|licen[cs]e terms|privacy|"
            r"data protection|statutory|policy breach|sox|hipaa|iso ?27001)\b"
        ),
    ),
    (
        "budget",
        re.compile(
            r"\b(budget\w*|costs?|overspend|overrun|funding|spend|price\w*|expens\w*|"
            r"financ\w*|contingency|£|\$|€)"
        ),
    ),
    (
        "resource",
        re.compile(
            r"\b(resourc\w*|staff\w*|headcount|availab\w*|capacity|attrition|leav\w+|"
            r"recruit\w*|skills?|key person|contractors?|developers?|users? unavailable|"
            r"holidays?|sickness|unavailable|loss of|engineers?|key (?:person|people|staff)|"
            r"single point of failure)\b"
        ),
    ),
    (
        "scope",
        re.compile(r"\b(scope|requirements?|change requests?|creep|feature requests?)\b"),
    ),
    (
        "schedule",
        re.compile(
            r"\b(schedul\w*|delay\w*|late|slip\w*|deadline|timeline|milestone|on time|"
            r"behind|go-live|critical path|postpon\w*)\b"
        ),
    ),
    (
        "technical",
        re.compile(
            r"\b(technical|integration|performance|api|interface|outage|defects?|bugs?|"
            r"architecture|infrastructure|servers?|migration|security|vulnerab\w*|load|"
            r"latency|response times?|database|system|software|hardware|network)\b"
        ),
    ),
)
# When a risk register names its own category, map its words onto ours.
_CATEGORY_ALIASES = {
    "schedule": "schedule",
    "time": "schedule",
    "timeline": "schedule",
    "budget": "budget",
    "cost": "budget",
    "financial": "budget",
    "finance": "budget",
    "resource": "resource",
    "resources": "resource",
    "people": "resource",
    "staffing": "resource",
    "technical": "technical",
    "technology": "technical",
    "security": "technical",
    "quality": "technical",
    "scope": "scope",
    "requirements": "scope",
    "compliance": "compliance",
    "legal": "compliance",
    "regulatory": "compliance",
}

# --------------------------------------------------------------------------------------------
# Dates

_MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}

_WD = r"(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?\.?"
_MON = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DATE_RE = re.compile(
    rf"""
    (?P<dmy>\b(?:{_WD},?\s+)?(?:the\s+)?(?P<d1>[0-3]?\d)(?:st|nd|rd|th)?(?:\s+of)?\s+
        (?P<m1>{_MON})(?:,?\s+(?P<y1>\d{{4}}))?\b)
  | (?P<mdy>\b(?:{_WD},?\s+)?(?P<m2>{_MON})\s+(?P<d2>[0-3]?\d)(?:st|nd|rd|th)?
        (?:,?\s+(?P<y2>\d{{4}}))?\b)
  | (?P<iso>\b(?P<y3>\d{{4}})-(?P<m3>[01]\d)-(?P<d3>[0-3]\d)\b)
  | (?P<num>\b(?P<a4>[0-3]?\d)[/.](?P<b4>[0-3]?\d)[/.](?P<y4>\d{{4}}|\d{{2}})\b)
  | (?P<rel>\b(?:
        (?P<next>next|this|coming)\s+(?P<unit>week|month)
      | (?:(?P<wdq>next|this|coming)\s+)?(?P<wd>monday|tuesday|wednesday|thursday|friday|
            saturday|sunday)
      | (?P<day>today|tomorrow|tonight)
      | (?:the\s+)?end\s+of\s+(?:the\s+)?(?P<eo>day|week|month|quarter|year)
      | (?P<abbr>eod|eow|eom|cob|close\s+of\s+business)
      | (?P<within>in|within)\s+(?P<n>\d{{1,2}}|a|an|one|two|three|four|five|six)\s+
            (?P<nunit>days?|weeks?|months?)
    )\b)
    """,
    re.IGNORECASE | re.VERBOSE,
)
# Words that introduce a deadline; relative dates count only after one of them.
_DUE_MARKER = re.compile(
    r"\b(?:by|due(?:\s+(?:on|by|date))?|before|until|deadline|no later than|nlt|target(?:\s+date)?"
    r"|on|for|at the latest)\s*[:\-]?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class _DateHit:
    start: int
    end: int
    text: str
    date: dt.date | None
    absolute: bool


def _month_number(token: str) -> int | None:
    return _MONTHS.get(token.lower().rstrip(".")[:3])


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _nearest_year(month: int, day: int, reference: dt.date) -> dt.date | None:
    """The occurrence of day/month closest to the reference (minutes look back and ahead)."""
    candidates = [d for d in (_safe_date(reference.year + k, month, day) for k in (-1, 0, 1)) if d]
    if not candidates:
        return None
    return min(candidates, key=lambda d: (abs((d - reference).days), d))


def _resolve_relative(match: re.Match[str], reference: dt.date) -> dt.date | None:
    """Resolve "Friday", "next week", "end of month"... against an explicit reference date."""
    g = match.groupdict()
    if g["wd"]:
        target = _WEEKDAYS.index(g["wd"].lower())
        ahead = (target - reference.weekday()) % 7 or 7
        if (g["wdq"] or "").lower() == "next" and ahead < 7 - reference.weekday():
            ahead += 7  # "next Friday" said on a Monday means the Friday of next week
        return reference + dt.timedelta(days=ahead)
    if g["day"]:
        return reference + dt.timedelta(days=0 if g["day"].lower() != "tomorrow" else 1)
    if g["unit"]:
        if g["unit"].lower() == "week":
            monday = reference - dt.timedelta(days=reference.weekday())
            return monday + dt.timedelta(days=7 + 4)  # Friday of next week
        year, month = divmod(reference.month, 12)
        return _month_end(reference.year + year, month + 1)
    period = (g["eo"] or g["abbr"] or "").lower()
    if period in {"day", "eod", "cob"} or period.startswith("close"):
        return reference
    if period in {"week", "eow"}:
        return reference + dt.timedelta(days=(4 - reference.weekday()) % 7)
    if period in {"month", "eom"}:
        return _month_end(reference.year, reference.month)
    if period == "quarter":
        return _month_end(reference.year, ((reference.month - 1) // 3 + 1) * 3)
    if period == "year":
        return dt.date(reference.year, 12, 31)
    if g["within"]:
        n = int(g["n"]) if g["n"].isdigit() else _NUMBER_WORDS[g["n"].lower()]
        unit = g["nunit"].lower()
        days = n if unit.startswith("day") else n * 7 if unit.startswith("week") else n * 30
        return reference + dt.timedelta(days=days)
    return None


def _month_end(year: int, month: int) -> dt.date:
    first_next = dt.date(year + month // 12, month % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


def _find_dates(text: str, reference: dt.date | None, dayfirst: bool) -> list[_DateHit]:
    """Every date expression in ``text``; ``date`` is None when it cannot be pinned down."""
    hits: list[_DateHit] = []
    for match in _DATE_RE.finditer(text):
        g = match.groupdict()
        date: dt.date | None = None
        absolute = False
        if g["dmy"] or g["mdy"]:
            month_token = g["m1"] or g["m2"]
            if month_token.lower() == "may" and month_token[0] == "m":
                continue  # the modal verb, not the month
            month = _month_number(month_token)
            day = int(g["d1"] or g["d2"])
            year = g["y1"] or g["y2"]
            if month is None:
                continue
            if year:
                date, absolute = _safe_date(int(year), month, day), True
                if date is None:
                    continue
            elif reference:
                date = _nearest_year(month, day, reference)
        elif g["iso"]:
            date = _safe_date(int(g["y3"]), int(g["m3"]), int(g["d3"]))
            absolute = date is not None
            if date is None:
                continue
        elif g["num"]:
            first, second, year = int(g["a4"]), int(g["b4"]), int(g["y4"])
            year += 2000 if year < 100 else 0
            day, month = (first, second) if dayfirst else (second, first)
            if month > 12 >= day:  # unambiguous the other way round
                day, month = month, day
            date = _safe_date(year, month, day)
            absolute = date is not None
            if date is None:
                continue
        elif reference:
            date = _resolve_relative(match, reference)
        hits.append(_DateHit(match.start(), match.end(), match.group(0).strip(), date, absolute))
    return hits


# --------------------------------------------------------------------------------------------
# Lines, sections and tables

_BULLET = re.compile(r"^(?:[-*•·‣◦▪–—+]|\(?\d{1,3}[.)]|\(?[a-z][.)])\s+")
_NUMBERING = re.compile(r"^(?:\d+(?:\.\d+)*[.)]?|[ivx]+[.)]|[a-z][.)])\s+", re.IGNORECASE)
_CHECKBOX = re.compile(r"^(?:[-*•+]\s*)?\[(?P<mark>[ xX✓✔]?)\]\s*(?P<body>.+)$")
_CONNECTOR_END = re.compile(
    r"(?:\b(?:by|to|the|and|or|of|for|on|with|a|an|in|at|from|before|after|that|which|is|are"
    r"|was|were|be|will|our|their|its|than|as)|[,\-–(])$",
    re.IGNORECASE,
)
_TERMINAL = re.compile(r"[.:;!?]$")

_SECTION_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "actions",
        re.compile(
            r"(?:open |new |key |agreed )?(?:action items?|actions?(?: log| list| arising|"
            r" required| and owners)?|next steps?|to-?dos?|to do(?: list)?|follow[- ]?ups?|"
            r"tasks?|action plan)"
        ),
    ),
    (
        "risks",
        re.compile(
            r"(?:key |top |open |main |project )?(?:risks?(?: and issues| & issues| register|"
            r" log| assessment| summary)?|issues(?: and risks| & risks| log)?|raid(?: log)?|"
            r"risks?, (?:assumptions, )?issues(?: and dependencies)?)"
        ),
    ),
    (
        "decisions",
        re.compile(
            r"(?:key )?(?:decisions?(?: made| taken| log| needed| required| needed / made|"
            r" made / needed)?|resolutions?|agreements?)"
        ),
    ),
    (
        "attendees",
        re.compile(
            r"attendees|attendance|in attendance|participants|present|invitees|apologies|"
            r"absent|distribution(?: list)?|attendees and apologies|team members|project team"
        ),
    ),
)


def _logical_lines(text: str) -> list[str]:
    """Split into lines and re-join the ones a PDF wrapped in the middle of a sentence."""
    lines: list[str] = []
    previous_blank = True
    for raw in text.split("\n")[:MAX_LINES]:
        line = " ".join(raw.split())
        if not line:
            previous_blank = True
            continue
        if lines and not previous_blank and _continues(lines[-1], line):
            joiner = "" if lines[-1].endswith("-") and line[:1].islower() else " "
            prev = lines[-1][:-1] if joiner == "" else lines[-1]
            lines[-1] = f"{prev}{joiner}{line}"
        else:
            lines.append(line)
        previous_blank = False
    return lines


def _continues(previous: str, line: str) -> bool:
    """True if ``line`` is the wrapped tail of ``previous`` rather than a line of its own."""
    if len(previous) + len(line) > MAX_LINE_CHARS:
        return False  # also keeps the end-of-line searches below from going quadratic
    tail = previous[-40:]
    if " | " in previous or " | " in line or _TERMINAL.search(tail):
        return False
    if _BULLET.match(line) or _CHECKBOX.match(line) or _label_match(line):
        return False
    if len(previous) < 40:  # short lines are headings or list items, not wrapped prose
        return False
    first = line[0]
    return first.islower() or first in "(&" or bool(_CONNECTOR_END.search(tail))


def _heading_section(line: str) -> str | None:
    """The section a heading line opens ("actions", "risks"...; "other"), None if no heading."""
    if len(line) > 80 or " | " in line or _CHECKBOX.match(line):
        return None
    bare = line.strip()
    numbered = bool(_NUMBERING.match(bare))
    if numbered:
        bare = _NUMBERING.sub("", bare, count=1)
    elif _BULLET.match(bare):
        return None
    had_colon = bare.endswith(":")
    bare = bare.rstrip(":").strip()
    if not bare or ":" in bare or re.search(r"[.!?;,]$", bare):
        return None
    key = bare.lower()
    for section, pattern in _SECTION_PATTERNS:
        if pattern.fullmatch(key):
            return section
    words = bare.split()
    if len(words) > 8 or not bare[0].isupper():
        return None
    title_case = all(w[0].isupper() or len(w) <= 3 or not w[0].isalpha() for w in words)
    if (numbered or had_colon or bare.isupper() or title_case) and not _person_name(bare):
        return "other"
    return None


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


@dataclass
class _Table:
    header: list[str]
    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    start: int = 0


_COLUMN_ROLES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("id", re.compile(r"(?:id|#|no\.?|ref(?:erence)?|risk id|item no\.?)")),
    ("likelihood", re.compile(r".*\b(?:likelihood|probability|prob\.?)\b.*")),
    ("impact", re.compile(r".*\b(?:impact|consequence|effect)\b.*")),
    ("severity", re.compile(r".*\b(?:severity|rating|risk level|score|rag|exposure|priority)\b.*")),
    ("category", re.compile(r"(?:risk )?(?:category|type|area|class)")),
    ("owner", re.compile(r".*\b(?:owner|responsible|assigned(?: to)?|assignee|who|lead)\b.*")),
    ("due", re.compile(r".*\b(?:due|deadline|target date|by when|when|date)\b.*")),
    ("status", re.compile(r"status|state|progress")),
    ("mitigation", re.compile(r".*\b(?:mitigation|response|treatment|contingency)\b.*")),
    (
        "text",
        re.compile(
            r".*\b(?:risks?|descriptions?|issues?|actions?|tasks?|items?|decisions?|titles?|"
            r"details?|milestones?|events?)\b.*"
        ),
    ),
)


def _column_roles(header: list[str]) -> dict[str, int]:
    roles: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = cell.lower().strip(" :*")
        for role, pattern in _COLUMN_ROLES:
            if role not in roles and pattern.fullmatch(name):
                roles[role] = index
                break
    return roles


def _tables(lines: list[str]) -> dict[int, _Table]:
    """Runs of ``a | b`` lines with a consistent width, keyed by the header's line index."""
    tables: dict[int, _Table] = {}
    current: _Table | None = None
    for index, line in enumerate(lines):
        cells = _cells(line) if " | " in line or line.startswith("|") else []
        if len(cells) >= 2:
            if current and abs(len(cells) - len(current.header)) <= 1:
                current.rows.append((index, cells))
                continue
            current = _Table(header=cells, start=index)
            tables[index] = current
        else:
            current = None
    return tables


# --------------------------------------------------------------------------------------------
# Names


def _is_name_token(token: str) -> bool:
    core = token.replace("'", "").replace("’", "").replace("-", "").replace(".", "")
    return (
        len(core) >= 2
        and core.isalpha()
        and token[0].isupper()
        and any(ch.islower() for ch in core)
        and token.lower().strip(".") not in _NON_NAME_WORDS
    )


def _person_name(candidate: str, lower_vocabulary: frozenset[str] | None = None) -> str | None:
    """A cleaned person name from ``candidate``, or None if it does not look like one.

    ``lower_vocabulary`` (words seen in lower case in the document) rejects single words
    such as "Finance" that the document also uses as ordinary words.
    """
    text = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", candidate)
    text = re.split(r"\s+[-–—/]\s+|,|;|\s+\bas\b\s+", text, maxsplit=1)[0]
    text = _TITLES.sub("", text.strip(" .:\t'\"*"))
    tokens = text.split()
    if not 1 <= len(tokens) <= 4:
        return None
    names = [t for t in tokens if t.lower() not in _NAME_PARTICLES]
    if not names or not all(_is_name_token(t) for t in names):
        return None
    if tokens[0].lower() in _NAME_PARTICLES:
        return None
    if len(names) == 1 and lower_vocabulary is not None:
        if names[0].lower() in lower_vocabulary:
            return None
    return " ".join(tokens)


def _split_names(value: str) -> list[str]:
    """Split an attendee-style list: commas, semicolons, "and", "&"."""
    value = re.sub(r"\([^)]*\)", " ", value)
    return [part for part in re.split(r"\s*(?:,|;|\band\b|&|\|)\s*", value) if part.strip()]


_LEADING_OWNER = re.compile(
    r"^(?P<name>[^\W\d_][\w'’\-]*(?:\s+(?:(?:van|von|de|da|del|der|di|du|la|le)\s+)?"
    r"[^\W\d_][\w'’\-]*){0,2}"
    r"(?:\s*(?:,|and|&)\s*[^\W\d_][\w'’\-]*(?:\s+[^\W\d_][\w'’\-]*)?)?)"
    r"\s*(?::\s+|\s+-\s+|\s+(?:to|will|shall|should|must|needs to|is to|has agreed to|agreed to"
    r"|volunteered to|has volunteered to|to please|please)\s+(?P<verb>\w+))"
)
_NON_ACTION_VERBS = frozenset(
    {
        "be",
        "been",
        "being",
        "have",
        "has",
        "had",
        "not",
        "likely",
        "probably",
        "also",
        "remain",
        "continue",
        "still",
        "need",
        "the",
        "a",
        "an",
    }
)
_FIELD = re.compile(
    r"\b(?P<key>owner|responsible|assigned to|assignee|action owner|who|due(?: date)?|deadline"
    r"|target date|priority)\s*[:=]\s*(?P<value>[^,;)|\]]+)",
    re.IGNORECASE,
)
_TRAILING_OWNER = re.compile(
    r"(?:\(\s*(?P<paren>[^()]{2,40})\s*\)|\s[-–—]\s(?P<dash>[^-–—]{2,40}))$"
)
_MENTION = re.compile(r"(?<!\w)@(?P<handle>[A-Za-z][\w.\-]{1,40})")


# --------------------------------------------------------------------------------------------
# Classification patterns

_LABEL = re.compile(
    r"^(?:[-*•+]\s*)?(?P<label>action items?|actions?|ai|todo|to-?do|follow[- ]?up|task"
    r"|risks?|issues?|decisions?|decided|agreed|resolution)"
    r"\s*(?:#?\d+)?\s*(?:\((?P<qual>[^)]{1,40})\)|\[(?P<qual2>[^\]]{1,40})\])?"
    r"\s*(?::|\s[-–—]\s)\s*(?P<body>.+)$",
    re.IGNORECASE,
)
_LABEL_KINDS = {
    "action": "action",
    "actions": "action",
    "action item": "action",
    "action items": "action",
    "ai": "action",
    "todo": "action",
    "to-do": "action",
    "to do": "action",
    "follow-up": "action",
    "follow up": "action",
    "followup": "action",
    "task": "action",
    "risk": "risk",
    "risks": "risk",
    "issue": "risk",
    "issues": "risk",
    "decision": "decision",
    "decisions": "decision",
    "decided": "decision",
    "agreed": "decision",
    "resolution": "decision",
}
_SEVERITY_PREFIX = re.compile(
    r"^(?:[-*•+]\s*)?\(?(?P<level>critical|high|medium|moderate|low|severe|major|minor|red|amber"
    r"|green)\)?\s*(?:risk|severity|impact|priority)?\s*[:\-–—]\s+(?P<body>.+)$",
    re.IGNORECASE,
)
_PEOPLE_FIELD = re.compile(
    r"^(?P<key>attendees|participants|present|in attendance|attendance|invitees|apologies"
    r"|absent|prepared by|author|authors|written by|minutes(?: taken)? by|note ?taker|chair"
    r"|chaired by|chairperson|facilitator|project manager|programme manager|project lead"
    r"|project sponsor|sponsor|executive sponsor|register owner|document owner|reviewed by"
    r"|approved by|distribution|cc|steering committee|project board|team members?"
    r"|stakeholders|owner)\s*:\s*(?P<value>.+)$",
    re.IGNORECASE,
)
# Document metadata ("Next meeting: ...") ends the section above it and is never an item.
_META_LINE = re.compile(
    r"^(?:next meeting|date|time|location|venue|meeting date|next review|reporting period"
    r"|version|last updated|overall status|document status|classification)\s*:",
    re.IGNORECASE,
)
_ACTION_FIELD_LINE = re.compile(
    r"^(?P<key>owner|responsible|assigned to|due(?: date)?|deadline|priority)\s*:\s*(?P<value>.+)$",
    re.IGNORECASE,
)

_RISK_WORDS = re.compile(
    r"\b(?:risks?\b(?! register| log| review| workshop| management| owner)|at risk|threat"
    r"|concern(?:s|ed)?|jeopardi[sz]\w*|blocker|showstopper|may (?:not|delay|slip|miss|exceed"
    r"|fail)|might (?:not|delay|slip|miss|exceed|fail)|could (?:delay|slip|miss|exceed|impact"
    r"|affect|jeopardi[sz]e|fail|prevent)|likely to (?:slip|overrun|be late|miss|exceed)"
    r"|has slipped|is slipping|behind schedule|over budget|overrun)",
    re.IGNORECASE,
)
# Sentences about the risk process itself ("Risks rated high are reviewed weekly").
_NO_RISK = re.compile(
    r"\b(?:no (?:new )?risks?|no concerns|risks? (?:\w+ ){0,3}(?:are|is|were|was|will be) "
    r"(?:reviewed|tracked|logged|managed|escalated|monitored|recorded|discussed|updated))\b",
    re.IGNORECASE,
)
_HIGH_WORDS = re.compile(
    r"\b(?:critical|severe|severity\s*[:=]?\s*high|high(?:\s+|-)(?:risk|severity|impact|"
    r"likelihood|probability)|major|showstopper|blocker|cannot go live|significant)\b",
    re.IGNORECASE,
)
_EXPLICIT_LEVEL = re.compile(
    r"(?:\b(?:severity|impact|rating|risk level|priority|rated|level)\s*(?:is\s*)?[:=\-]?\s*"
    r"(?P<a>critical|high|medium|moderate|low|h|m|l)\b)"
    r"|(?:\b(?P<b>critical|high|medium|moderate|low)[- ](?:risk|severity|impact|priority)\b)"
    r"|(?:[(\[](?P<c>critical|high|medium|moderate|low|h|m|l)[)\]])",
    re.IGNORECASE,
)
_LOW_WORDS = re.compile(r"\b(?:minor|slight|negligible|small|unlikely)\b", re.IGNORECASE)

_DECISION_SENTENCE = re.compile(
    r"\b(?:(?:we|it was|the \w+(?: \w+)?|they|all|everyone)\s+(?:have\s+|has\s+)?"
    r"(?:agreed|decided|resolved|approved|confirmed that)"
    r"|(?:was|were|has been|have been)\s+(?:agreed|decided|approved|signed off|ratified)"
    r"|decision (?:was|has been) (?:made|taken)|signed off|sign-off (?:was )?given"
    r"|agreed (?:to|that|on)|decided (?:to|that|on|against)|will go with|opted (?:to|for))\b",
    re.IGNORECASE,
)
_NOT_DECISION = re.compile(
    r"\b(?:not (?:yet )?(?:been )?(?:agreed|decided|approved)|awaiting|pending|once|if|unless"
    r"|subject to|to be (?:agreed|decided|approved)|needs? (?:to be )?(?:agreed|approved)"
    r"|for approval|seek(?:ing)? approval)\b",
    re.IGNORECASE,
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

_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9£$€])")
_ABBREVIATION_END = re.compile(
    r"(?:\b(?:e\.g|i\.e|etc|vs|approx|incl|no|nos|mr|mrs|ms|dr|prof|st|fig|dept|est|jan|feb"
    r"|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\.|\b[A-Z]\.)$",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W_]+(?:[-'’.][^\W_]+)*")
_CONTENT_WORD = re.compile(r"[^\W\d_][\w\-]*[^\W_]|[^\W\d_]")
_LOWER_WORD = re.compile(r"\b[a-z][a-z'’\-]+\b")


def _label_match(line: str) -> re.Match[str] | None:
    match = _LABEL.match(line)
    if match and match.group("label").lower() == "ai" and match.group("label") != "AI":
        return None  # "ai: ..." in lower case is not the minutes abbreviation
    return match


def _sentences(line: str) -> list[str]:
    parts = _SENTENCE_SPLIT.split(line)
    merged: list[str] = []
    for part in parts:
        if merged and _ABBREVIATION_END.search(merged[-1]):
            merged[-1] = f"{merged[-1]} {part}"
        else:
            merged.append(part)
    return [p.strip() for p in merged if p.strip()]


def _strip_bullet(line: str) -> str:
    return _BULLET.sub("", line, count=1).strip()


def _clip(text: str) -> str:
    text = text.strip()
    if len(text) <= MAX_ENTRY_CHARS:
        return text
    return text[: MAX_ENTRY_CHARS - 1].rsplit(" ", 1)[0] + "…"


def _level(word: str) -> str:
    word = word.lower()
    if word in {"critical", "high", "h", "severe", "major", "red", "very high"}:
        return "high"
    if word in {"low", "l", "minor", "green", "very low", "negligible"}:
        return "low"
    return "medium"


def _numeric_level(value: str) -> int | None:
    """1 (low) to 3 (high) from a register cell: H/M/L words or 1-5 scores."""
    value = value.strip().lower()
    if not value:
        return None
    if value[0].isdigit():
        number = int(re.match(r"\d+", value).group(0))  # type: ignore[union-attr]
        if number > 5:  # a 1-25 score
            return 3 if number >= 15 else 2 if number >= 6 else 1
        return 3 if number >= 4 else 2 if number == 3 else 1
    first = value.split()[0]
    if first in {"very", "extremely"} and len(value.split()) > 1:
        first = value.split()[1]
    if first in {"critical", "high", "h", "severe", "major", "red", "likely", "almost"}:
        return 3
    if first in {"medium", "m", "moderate", "amber", "possible", "med"}:
        return 2
    if first in {"low", "l", "minor", "green", "unlikely", "rare", "negligible"}:
        return 1
    return None


def _risk_category(text: str) -> str:
    lowered = text.lower()
    for category, pattern in _RISK_CATEGORIES:
        if pattern.search(lowered):
            return category
    return "other"


def _risk_severity(text: str) -> str:
    explicit = _EXPLICIT_LEVEL.search(text)
    if explicit:
        return _level(explicit.group("a") or explicit.group("b") or explicit.group("c"))
    if _HIGH_WORDS.search(text):
        return "high"
    if _LOW_WORDS.search(text):
        return "low"
    return "medium"


# --------------------------------------------------------------------------------------------
# The analyser


@dataclass
class _Digest:
    reference: dt.date | None
    dayfirst: bool
    lower_vocabulary: frozenset[str]
    actions: list[dict[str, Any]] = field(default_factory=list)
    risks: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    key_dates: list[dict[str, Any]] = field(default_factory=list)
    _seen: set[tuple[str, str]] = field(default_factory=set)

    def _first_time(self, kind: str, text: str) -> bool:
        key = (kind, re.sub(r"\W+", " ", text.lower()).strip())
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    # -- people -------------------------------------------------------------------------------

    def add_person(self, candidate: str, *, strict: bool = False) -> str | None:
        name = _person_name(candidate, self.lower_vocabulary if strict else None)
        if name and name.lower() not in {p.lower() for p in self.people}:
            if len(self.people) < MAX_ITEMS:
                self.people.append(name)
        return name

    def add_people(self, value: str) -> None:
        for part in _split_names(value):
            self.add_person(part)

    # -- actions ------------------------------------------------------------------------------

    def add_action(
        self,
        body: str,
        *,
        owner: str | None = None,
        due: str | None = None,
        priority: str | None = None,
    ) -> None:
        body = body.strip()
        if len(body) < 3 or len(self.actions) >= MAX_ITEMS or not self._first_time("a", body):
            return
        fields = {m.group("key").lower(): m.group("value").strip() for m in _FIELD.finditer(body)}
        owner = owner or next(
            (v for k, v in fields.items() if not k.startswith(("due", "dead", "target", "prio"))),
            None,
        )
        owner_explicit = owner is not None
        if owner is None:
            owner = self._owner_from_text(body)
        if owner and owner_explicit:
            for part in _split_names(owner):
                self.add_person(part)
        elif owner:
            for part in _split_names(owner):
                self.add_person(part, strict=True)
        due_field = due or next(
            (v for k, v in fields.items() if k.startswith(("due", "dead", "target"))), None
        )
        due_text, due_date = self._due(due_field, body)
        priority_field = priority or fields.get("priority")
        if priority_field:
            level = _level(priority_field.split()[0]) if priority_field.strip() else "medium"
        elif _PRIORITY_HIGH.search(body):
            level = "high"
        elif _PRIORITY_LOW.search(body):
            level = "low"
        else:
            level = "medium"
        self.actions.append(
            {
                "text": _clip(_clean_action_text(body)),
                "owner": owner,
                "due_date": due_date.isoformat() if due_date else None,
                "due_text": due_text,
                "priority": level,
            }
        )

    def _owner_from_text(self, body: str) -> str | None:
        match = _LEADING_OWNER.match(body)
        if match and (match.group("verb") or "").lower() not in _NON_ACTION_VERBS:
            names = [
                _person_name(part, self.lower_vocabulary) or self._known(part)
                for part in _split_names(match.group("name"))
            ]
            if names and all(names):
                return " and ".join(n for n in names if n)
        mention = _MENTION.search(body)
        if mention:
            return mention.group("handle")
        trailing = _TRAILING_OWNER.search(body)
        if trailing:
            candidate = trailing.group("paren") or trailing.group("dash") or ""
            name = self._known(candidate) or (
                _person_name(candidate, self.lower_vocabulary)
                if len(candidate.split()) >= 2
                else None
            )
            if name:
                return name
        return None

    def _known(self, candidate: str) -> str | None:
        """``candidate`` if it names someone already listed (first name or full name)."""
        wanted = candidate.strip().lower()
        for person in self.people:
            lowered = person.lower()
            if wanted and (lowered == wanted or lowered.split()[0] == wanted):
                return candidate.strip()
        return None

    def _due(self, due_field: str | None, body: str) -> tuple[str | None, dt.date | None]:
        if due_field:
            hits = _find_dates(due_field, self.reference, self.dayfirst)
            if hits:
                return hits[0].text, hits[0].date
            return due_field.strip() or None, None
        hits = _find_dates(body, self.reference, self.dayfirst)
        for hit in hits:
            # "within 2 weeks" carries its own deadline word.
            if _DUE_MARKER.search(body[: hit.start]) or hit.text.lower().startswith(
                ("within", "in ")
            ):
                return hit.text, hit.date
        absolute = [hit for hit in hits if hit.absolute]
        if absolute:
            return absolute[0].text, absolute[0].date
        return None, None

    def attach_field(self, key: str, value: str) -> bool:
        """Attach an ``Owner:``/``Due:`` line to the action just above it."""
        if not self.actions:
            return False
        action = self.actions[-1]
        key = key.lower()
        if key.startswith(("owner", "responsible", "assigned")) and not action["owner"]:
            action["owner"] = value.strip()
            self.add_people(value)
            return True
        if key.startswith(("due", "deadline")) and not action["due_text"]:
            text, date = self._due(value, value)
            action["due_text"] = text or value.strip()
            action["due_date"] = date.isoformat() if date else None
            return True
        if key == "priority":
            action["priority"] = _level(value.split()[0]) if value.split() else "medium"
            return True
        return False

    # -- risks and decisions ------------------------------------------------------------------

    def add_risk(
        self, text: str, *, severity: str | None = None, category: str | None = None
    ) -> None:
        text = text.strip()
        if len(text) < 8 or len(self.risks) >= MAX_ITEMS or not self._first_time("r", text):
            return
        for match in _FIELD.finditer(text):
            if match.group("key").lower().startswith(("owner", "responsible", "assign")):
                self.add_people(match.group("value"))
        self.risks.append(
            {
                "text": _clip(text),
                "severity": severity or _risk_severity(text),
                "category": category or _risk_category(text),
            }
        )

    def add_decision(self, text: str) -> None:
        text = text.strip()
        if len(text) < 8 or len(self.decisions) >= MAX_ITEMS or not self._first_time("d", text):
            return
        self.decisions.append(_clip(text))

    # -- dates --------------------------------------------------------------------------------

    def add_key_dates(self, context: str, hits: Iterable[_DateHit]) -> None:
        for hit in hits:
            if hit.date is None or len(self.key_dates) >= MAX_ITEMS * 4:
                continue
            entry = {"text": _clip(context), "date": hit.date.isoformat()}
            if entry not in self.key_dates:
                self.key_dates.append(entry)


def _clean_action_text(body: str) -> str:
    """Drop field-only brackets such as "(Owner: Sam, Due: 3 May)": they become fields."""

    def only_fields(match: re.Match[str]) -> str:
        inner = match.group(1)
        rest = _FIELD.sub("", inner)
        return "" if not re.sub(r"[\s,;]+", "", rest) else match.group(0)

    cleaned = re.sub(r"\s*\(([^()]*)\)", only_fields, body)
    return cleaned.strip(" -–—") or body


def analyse(
    text: str,
    *,
    title: str = "",
    pages: int | None = None,
    reference_date: dt.date | None = None,
    dayfirst: bool = True,
) -> dict[str, Any]:
    """Return the JSON-serialisable project-management digest of ``text`` (see module doc).

    ``reference_date`` (e.g. the meeting or upload date) lets relative and year-less dates be
    resolved; without it they keep only their words. ``dayfirst`` reads 03/04/2027 as 3 April.
    """
    text = text[:MAX_CHARS]
    lines = _logical_lines(text)
    digest = _Digest(
        reference=reference_date,
        dayfirst=dayfirst,
        lower_vocabulary=frozenset(m.lower() for m in _LOWER_WORD.findall(text)),
    )
    tables = _tables(lines)
    table_rows = _read_tables(lines, tables, digest)

    section: str | None = None
    last_was_action = False
    for index, line in enumerate(lines):
        is_action = False
        heading = _heading_section(line)
        if heading is not None:
            section = heading
            last_was_action = False
            digest.add_key_dates(line, _find_dates(line, reference_date, dayfirst))
            continue
        if index in table_rows:
            continue

        people = _PEOPLE_FIELD.match(line)
        field_line = _ACTION_FIELD_LINE.match(line)
        if field_line and last_was_action:
            if digest.attach_field(field_line.group("key"), field_line.group("value")):
                last_was_action = True
                continue
        if people or _META_LINE.match(line):
            if people:
                digest.add_people(people.group("value"))
            else:
                section = None
            digest.add_key_dates(line, _find_dates(line, reference_date, dayfirst))
            continue

        checkbox = _CHECKBOX.match(line)
        label = _label_match(line)
        if checkbox:
            if not checkbox.group("mark").strip():
                digest.add_action(checkbox.group("body"))
                is_action = True
        elif label:
            kind = _LABEL_KINDS.get(re.sub(r"\s+", " ", label.group("label").lower()), "")
            body = label.group("body")
            qualifier = label.group("qual") or label.group("qual2")
            if kind == "action":
                owner = _person_name(qualifier) if qualifier else None
                digest.add_action(body, owner=owner)
                is_action = True
            elif kind == "risk":
                level = _numeric_level(qualifier) if qualifier else None
                digest.add_risk(body, severity=_LEVELS[level - 1] if level else None)
            elif kind == "decision":
                digest.add_decision(body)
        elif section == "actions":
            digest.add_action(_strip_bullet(line))
            is_action = True
        elif section == "risks":
            item = _strip_bullet(line)
            prefix = _SEVERITY_PREFIX.match(item)
            if prefix:
                digest.add_risk(prefix.group("body"), severity=_level(prefix.group("level")))
            else:
                digest.add_risk(item)
        elif section == "decisions":
            digest.add_decision(_strip_bullet(line))
        elif section == "attendees":
            digest.add_people(_strip_bullet(line))
        else:
            for sentence in _sentences(_strip_bullet(line)):
                _classify_sentence(sentence, digest)
        last_was_action = is_action
        digest.add_key_dates(
            _strip_bullet(line) if len(line) <= 200 else _date_sentence(line),
            _find_dates(line, reference_date, dayfirst),
        )

    _merge_first_names(digest)
    key_dates = sorted(enumerate(digest.key_dates), key=lambda pair: (pair[1]["date"], pair[0]))
    words = len(_WORD.findall(text))
    keywords = _keywords(lines, title, set(tables), digest.people)
    return {
        "summary": _summary(lines, table_rows, title, keywords),
        "action_items": digest.actions,
        "risks": digest.risks,
        "decisions": digest.decisions,
        "key_dates": [entry for _, entry in key_dates][:MAX_KEY_DATES],
        "people": digest.people,
        "keywords": keywords,
        "stats": {
            "pages": pages,
            "words": words,
            "reading_minutes": math.ceil(words / WORDS_PER_MINUTE) if words else 0,
        },
    }


def _date_sentence(line: str) -> str:
    for sentence in _sentences(line):
        if _DATE_RE.search(sentence):
            return sentence
    return line


def _classify_sentence(sentence: str, digest: _Digest) -> None:
    """Free prose: a person committing to something, a risk, or a decision."""
    match = _LEADING_OWNER.match(sentence)
    if match and match.group("verb") and match.group("verb").lower() not in _NON_ACTION_VERBS:
        names = [_person_name(p, digest.lower_vocabulary) for p in _split_names(match["name"])]
        if names and all(names):
            digest.add_action(sentence)
            return
    if _RISK_WORDS.search(sentence) and not _NO_RISK.search(sentence):
        digest.add_risk(sentence)
    if _DECISION_SENTENCE.search(sentence) and not _NOT_DECISION.search(sentence):
        if not sentence.endswith("?"):
            digest.add_decision(sentence)


def _read_tables(lines: list[str], tables: dict[int, _Table], digest: _Digest) -> set[int]:
    """Read risk registers, action logs and decision logs; return the line indexes consumed."""
    consumed: set[int] = set()
    for start, table in tables.items():
        if not table.rows:
            continue
        roles = _column_roles(table.header)
        text_col = roles.get("text")
        consumed.add(start)
        consumed.update(index for index, _ in table.rows)
        if text_col is None:
            for _index, row in table.rows:
                _table_row_dates(table, row, roles, digest)
            continue
        heading = table.header[text_col].lower()
        is_risk = bool(re.search(r"\brisk|\bissue", heading)) or (
            "likelihood" in roles or "impact" in roles
        )
        is_decision = "decision" in heading
        is_action = bool(re.search(r"\baction|\btask|\bitem", heading)) and (
            "owner" in roles or "due" in roles
        )
        for _index, row in table.rows:
            cell = _cell_getter(row)
            if "owner" in roles:
                digest.add_people(cell(roles["owner"]))
            text = cell(text_col)
            if not text:
                continue
            if is_risk:
                digest.add_risk(
                    text,
                    severity=_register_severity(cell, roles),
                    category=_CATEGORY_ALIASES.get(cell(roles.get("category")).lower())
                    or _risk_category(text),
                )
            elif is_decision:
                digest.add_decision(text)
            elif is_action:
                status = cell(roles.get("status")).lower()
                if status in {"done", "closed", "complete", "completed", "cancelled"}:
                    continue
                digest.add_action(
                    text,
                    owner=cell(roles.get("owner")) or None,
                    due=cell(roles.get("due")) or None,
                    priority=cell(roles.get("severity")) or None,
                )
            _table_row_dates(table, row, roles, digest)
    return consumed


def _cell_getter(row: list[str]) -> Callable[[int | None], str]:
    def cell(index: int | None) -> str:
        if index is None or index >= len(row):
            return ""
        return row[index]

    return cell


def _register_severity(cell: Callable[[int | None], str], roles: dict[str, int]) -> str | None:
    """Severity column if present, else likelihood x impact on a 1-3 scale."""
    explicit = _numeric_level(cell(roles.get("severity")))
    if explicit:
        return _LEVELS[explicit - 1]
    likelihood = _numeric_level(cell(roles.get("likelihood")))
    impact = _numeric_level(cell(roles.get("impact")))
    if likelihood and impact:
        score = likelihood * impact
        return "high" if score >= 6 else "medium" if score >= 3 else "low"
    if likelihood or impact:
        return _LEVELS[(likelihood or impact or 2) - 1]
    return None


def _table_row_dates(table: _Table, row: list[str], roles: dict[str, int], digest: _Digest) -> None:
    """Key dates from a table row, labelled "<first text cell> (<column>)" when ambiguous."""
    label_index = roles.get("text")
    if label_index is None:
        label_index = next((i for i, c in enumerate(row) if c and i != roles.get("id")), 0)
    label = row[label_index] if label_index < len(row) else ""
    dated = [
        (i, hits)
        for i, value in enumerate(row)
        if i != label_index and (hits := _find_dates(value, digest.reference, digest.dayfirst))
    ]
    for i, hits in dated:
        column = table.header[i] if i < len(table.header) else ""
        context = f"{label} ({column})" if len(dated) > 1 and column else label
        digest.add_key_dates(context or " | ".join(row), hits)


def _merge_first_names(digest: _Digest) -> None:
    """Drop "Maria" from people when exactly one "Maria Lopez" is listed too."""
    full = [p for p in digest.people if " " in p]
    kept = []
    for person in digest.people:
        if " " not in person:
            matches = [f for f in full if f.split()[0].lower() == person.lower()]
            if len(matches) == 1:
                continue
        kept.append(person)
    digest.people = kept


# --------------------------------------------------------------------------------------------
# Keywords and summary


def _content_words(text: str) -> list[str]:
    return [
        w.lower()
        for w in _CONTENT_WORD.findall(text)
        if len(w) > 2 and w.lower() not in _STOPWORDS and w.lower() not in _PM_NOISE
    ]


def _phrases(line: str) -> Iterator[list[str]]:
    """Runs of content words between stop words and punctuation (RAKE-style candidates)."""
    for chunk in re.split(r"[.,;:!?()\[\]|\"“”]+|\s[-–—]\s", line):
        run: list[str] = []
        for token in chunk.split():
            word = token.strip("'’").lower()
            if (
                len(word) > 2
                and _CONTENT_WORD.fullmatch(word)
                and word not in _STOPWORDS
                and word not in _PM_NOISE
            ):
                run.append(word)
            else:
                if run:
                    yield run
                run = []
        if run:
            yield run


def _keywords(lines: list[str], title: str, skip: set[int], people: list[str]) -> list[str]:
    """Top words and 2-3 word phrases by frequency; phrases must recur to count.

    People's names are left out (they have their own list), as are table header rows, whose
    column names ("Likelihood", "Owner") would otherwise dominate every register.
    """
    name_words = {part.lower() for person in people for part in person.split()}
    counts: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    position = 0
    texts = [title, *(line for i, line in enumerate(lines) if i not in skip)]
    for line in texts:
        if position > MAX_KEYWORD_WORDS:
            break
        for run in _phrases(line):
            run = [w for w in run if w not in name_words] if name_words & set(run) else run
            for i in range(len(run)):
                position += 1
                for n in (1, 2, 3):
                    if i + n <= len(run):
                        gram = " ".join(run[i : i + n])
                        counts[gram] += 1
                        first_seen.setdefault(gram, position)
    few_words = sum(1 for gram in counts if " " not in gram) < 30
    scored: list[tuple[float, int, str]] = []
    for gram, count in counts.items():
        size = gram.count(" ") + 1
        if size == 1 and (count >= 2 or few_words):
            scored.append((float(count), first_seen[gram], gram))
        elif size > 1 and count >= 2:
            # A recurring phrase is more specific than its words alone.
            scored.append((count * (1 + 0.5 * (size - 1)), first_seen[gram], gram))
    scored.sort(key=lambda item: (-item[0], item[1], item[2]))
    chosen: list[str] = []
    for _, _, candidate in scored:
        if any(f" {candidate} " in f" {other} " for other in chosen):
            continue  # already covered by a longer phrase
        # A longer phrase replaces the shorter ones it contains.
        chosen = [c for c in chosen if f" {c} " not in f" {candidate} "]
        chosen.append(candidate)
        if len(chosen) >= MAX_KEYWORDS:
            break
    return chosen


def _summary(lines: list[str], skip: set[int], title: str, keywords: list[str]) -> list[str]:
    """A few high-scoring sentences, in the order they appear."""
    candidates: list[str] = []
    for index, line in enumerate(lines):
        if index in skip or _heading_section(line) is not None or _PEOPLE_FIELD.match(line):
            continue
        for sentence in _sentences(_strip_bullet(line)):
            words = sentence.split()
            if 6 <= len(words) <= 60 and not sentence.endswith(":"):
                candidates.append(sentence)
        if len(candidates) >= MAX_SUMMARY_SENTENCES:
            break
    if not candidates:
        return []
    frequency = Counter(w for s in candidates for w in _content_words(s))
    title_words = set(_content_words(title))
    keyword_words = {w for k in keywords for w in k.split()}
    scored = []
    seen: set[str] = set()
    for index, sentence in enumerate(candidates):
        key = sentence.lower()
        if key in seen:
            continue
        seen.add(key)
        words = _content_words(sentence)
        if not words:
            continue
        score = sum(frequency[w] for w in set(words)) / len(words) ** 0.5
        score *= 1 + 0.2 * len(set(words) & (title_words | keyword_words))
        if index < 3:
            score *= 1.25  # openings state the purpose of the document
        scored.append((score, index, sentence))
    total_words = sum(len(s.split()) for s in candidates)
    count = 3 if total_words < 800 else 4 if total_words < 3000 else 5
    best = sorted(scored, key=lambda item: (-item[0], item[1]))[:count]
    return [sentence for _, _, sentence in sorted(best, key=lambda item: item[1])]
