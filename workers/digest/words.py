"""Shared vocabulary and small text helpers: stop words, name tests, sentences, clipping.

Every extractor needs the same notion of "a word", "a sentence" and "a person's name"; they
live here so the extractors agree with each other.
"""

from __future__ import annotations

import re

#: Longest entry text kept, so one run-on paragraph cannot bloat the digest.
MAX_ENTRY_CHARS = 400

STOPWORDS = frozenset(
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
PM_NOISE = frozenset(
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
NON_NAME_WORDS = (
    STOPWORDS
    | PM_NOISE
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
    feedback consequences consequence drawbacks drawback grouped topics topic sprint agenda
    context discussion discussions minutes outcome outcomes options option chosen pros cons
    retro retrospective kudos went wrong improve improvements questions question answers
    blockers blocker concerns concern dependencies dependency impediments updates review
    reviews proposal proposals motion vote votes result results welcome intro announcements
    misc miscellaneous aob other business round table roundtable general info information
    problem problems solution solutions goals goal scope requirements rationale alternatives
    consideration considerations positive negative neutral good bad ugly started stopped
    continue keep stop start more less unassigned none present absent people lines said
    meeting summary log logs chair secretary yes no ok okay thanks thank agreed accepted
    rejected resolved approved done todo wip blocked waiting pending ongoing new old assigned
    welcome thanks congratulations reminder
    """.split()
    )
)
NAME_PARTICLES = frozenset({"van", "von", "de", "da", "del", "der", "di", "du", "la", "le", "bin"})
TITLES = re.compile(r"^(?:mr|mrs|ms|miss|dr|prof|sir)\.?\s+", re.IGNORECASE)


def is_name_token(token: str) -> bool:
    core = token.replace("'", "").replace("’", "").replace("-", "").replace(".", "")
    return (
        len(core) >= 2
        and core.isalpha()
        and token[0].isupper()
        and any(ch.islower() for ch in core)
        and token.lower().strip(".") not in NON_NAME_WORDS
    )


_INITIAL = re.compile(r"^[A-Z]\.$")


def person_name(candidate: str, lower_vocabulary: frozenset[str] | None = None) -> str | None:
    """A cleaned person name from ``candidate``, or None if it does not look like one.

    ``lower_vocabulary`` (words seen in lower case in the document) rejects single words
    such as "Finance" that the document also uses as ordinary words.
    """
    text = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", candidate)
    text = re.split(r"\s+[-–—/]\s+|,|;|\s+\bas\b\s+", text, maxsplit=1)[0]
    text = TITLES.sub("", text.strip(" .:\t'\"*"))
    tokens = text.split()
    if not 1 <= len(tokens) <= 4:
        return None
    names = [t for t in tokens if t.lower() not in NAME_PARTICLES]
    # "D. Kowalski", "J. R. Smith": initials before a surname.
    full = [t for t in names if not _INITIAL.match(t)]
    if not full or not all(is_name_token(t) for t in full) or names[-1] not in full:
        return None
    if tokens[0].lower() in NAME_PARTICLES:
        return None
    if len(names) == 1 and lower_vocabulary is not None:
        if names[0].lower() in lower_vocabulary:
            return None
    return " ".join(tokens)


def split_names(value: str) -> list[str]:
    """Split an attendee-style list: commas, semicolons, "and", "&"."""
    value = re.sub(r"\([^)]*\)", " ", value)
    return [part for part in re.split(r"\s*(?:,|;|\band\b|&|\||\+)\s*", value) if part.strip()]


SENTENCE_SPLIT = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9£$€@])")
ABBREVIATION_END = re.compile(
    r"(?:\b(?:e\.g|i\.e|etc|vs|approx|incl|no|nos|mr|mrs|ms|dr|prof|st|fig|dept|est|jan|feb"
    r"|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\.|\b[A-Z]\.)$",
    re.IGNORECASE,
)
WORD = re.compile(r"[^\W_]+(?:[-'’.][^\W_]+)*")
CONTENT_WORD = re.compile(r"[^\W\d_][\w\-]*[^\W_]|[^\W\d_]")
LOWER_WORD = re.compile(r"\b[a-z][a-z'’\-]+\b")


def sentences(line: str) -> list[str]:
    parts = SENTENCE_SPLIT.split(line)
    merged: list[str] = []
    for part in parts:
        if merged and ABBREVIATION_END.search(merged[-1]):
            merged[-1] = f"{merged[-1]} {part}"
        else:
            merged.append(part)
    return [p.strip() for p in merged if p.strip()]


BULLET = re.compile(r"^(?:[-*•·‣◦▪–—+]|\(?\d{1,3}[.)]|\(?[a-z][.)])\s+")


def strip_bullet(line: str) -> str:
    return BULLET.sub("", line, count=1).strip()


def clip(text: str) -> str:
    text = text.strip()
    if len(text) <= MAX_ENTRY_CHARS:
        return text
    return text[: MAX_ENTRY_CHARS - 1].rsplit(" ", 1)[0] + "…"


def level_word(word: str) -> str:
    word = word.lower()
    if word in {"critical", "high", "h", "severe", "major", "red", "very high"}:
        return "high"
    if word in {"low", "l", "minor", "green", "very low", "negligible"}:
        return "low"
    return "medium"


def numeric_level(value: str) -> int | None:
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


# Document metadata ("Last updated: …", "Register owner: …"): never an item of its section.
META_LINE = re.compile(
    r"^(?:next (?:meeting|call|retro|sync|review|session|check-?in)|date|dated|time|location"
    r"|(?:next (?:week|meeting|call)(?:'s|’s)?\s+)?(?:discussion|topic)s?|fyi|note|reminder"
    r"|venue|meeting date|next review|reporting period"
    r"|version|last updated|last reviewed|overall status|document status|classification"
    r"|prepared by|author|authors|written by|register owner|document owner|chair|chaired by"
    r"|facilitator|scribe|note ?taker|minutes(?: taken)? by|attendees|present|apologies"
    r"|absent|regrets|participants|status|deciders|technical story|reviewed by|approved by"
    r"|distribution|cc|project|programme|sponsor|project manager|period|sprint|week)\s*:",
    re.IGNORECASE,
)

# Footers of generated minutes and links: never an item.
BOILERPLATE = re.compile(
    r"\b(?:generated by|formatted by|scribe\.perl|meetbot|logs? (?:are )?available at"
    r"|full logs?|minutes manually created|meeting (?:started|ended) (?:by|at))\b"
    r"|^(?:https?://\S+|\[\d+\]\s*https?://\S+)$",
    re.IGNORECASE,
)


def field_line(text: str) -> bool:
    """A ``Key: value`` line whose value is only a name or a date ("Shepherd: Kwame Mensah",
    "Review period: 23 April 2026 - 7 May 2026"): metadata, not an item of its section."""
    match = re.match(r"^([\w][\w /&'’-]{1,30}):\s+(.+)$", text)
    if not match:
        return False
    value = re.sub(r"\([^)]*\)", "", match.group(2)).strip(" .")
    if re.match(r"^(?:\w+day,?\s+)?\d{1,4}(?:[-/. ]\w+){1,3}\b", value):
        return True
    parts = split_names(value)
    return bool(parts) and len(value.split()) <= 8 and all(person_name(p) for p in parts)


def topic_tokens(text: str) -> frozenset[str]:
    """The words that carry an item's content (lower case, no stop words, 3+ letters)."""
    return frozenset(
        w for w in re.findall(r"[a-z0-9][a-z0-9'’-]+", text.lower()) if w not in STOPWORDS
    )


def restates(tokens: frozenset[str], earlier: list[frozenset[str]]) -> bool:
    """``tokens`` say again what one of ``earlier`` said (a summary repeating a decision, a
    register row repeated in prose): 80 % of the shorter side's words are in the other."""
    if len(tokens) < 3:
        return False
    for other in earlier:
        if len(other) < 3:
            continue
        shared = len(tokens & other)
        if shared >= 0.8 * min(len(tokens), len(other)):
            return True
    return False
