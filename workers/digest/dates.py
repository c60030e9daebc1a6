"""Dates: find them, resolve them against the document's own date, tell deadlines from events.

A small resolver on a fixed vocabulary (absolute dates in the usual English spellings, weekdays,
"next week", "end of next week", "EOM", "in two weeks", "end of March") instead of a general
date parser: the digest runs on every upload and must stay within a few milliseconds, and a
deadline in project minutes is almost always one of these shapes.

Relative and year-less dates need a reference: the caller's ``reference_date`` or else the
document's own date (``document_date``: the format's date, a ``Date:`` line, a dated heading,
the file name or the title). Without one they keep only their words.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from workers.digest.blocks import Block

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
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "couple of": 2,
    "few": 3,
}

_WD = r"(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?\.?"
MON = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
DATE_RE = re.compile(
    rf"""
    (?P<wc>\b(?:w/c|w\.c\.|wc|week\s+(?:commencing|starting|beginning|of))\s+
        (?:{_WD},?\s+)?(?P<wcd>[0-3]?\d)(?:(?:st|nd|rd|th)?(?:\s+of)?\s+(?P<wcm>{MON})
        (?:,?\s+(?P<wcy>\d{{4}}))?\b|/(?P<wcn>[01]?\d)(?![\w/]|\.\d)|(?P<wco>st|nd|rd|th)\b))
  | (?P<dmy>\b(?:{_WD},?\s+)?(?:the\s+)?(?P<d1>[0-3]?\d)(?:st|nd|rd|th)?(?:\s+of)?\s+
        (?P<m1>{MON})(?:,?\s+(?P<y1>\d{{4}}))?\b)
  | (?P<mdy>\b(?:{_WD},?\s+)?(?P<m2>{MON})\s+(?P<d2>[0-3]?\d)(?:st|nd|rd|th)?\b
        (?:,?\s+(?P<y2>\d{{4}})\b)?)
  | (?P<iso>\b(?P<y3>\d{{4}})(?P<sep3>[-/.])(?P<m3>[01]?\d)(?P=sep3)(?P<d3>[0-3]?\d)
        (?:\b|(?=T\d\d:)))
  | (?P<wdo>\b{_WD},?\s+(?:the\s+)?(?P<d11>[0-3]?\d)(?:(?:st|nd|rd|th)\b(?!\s*(?:of\s+)?{MON})
        |/(?P<m11>[01]?\d)(?![\w/]|\.\d)))
  | (?P<dmd>(?<![\w/.-])(?:(?P<d12>[0-3]?\d)-(?P<m12>{MON})(?![\w-])|(?P<m13>{MON})-(?P<d13>[0-3]\d)
        (?![\w-])|(?P<d14>[0-3]\d)\.(?P<m14>[01]\d)\.(?![\w.])))
  | (?P<dmy2>\b(?P<d7>[0-3]?\d)(?P<sep7>[-/])(?P<m7>[a-z]{{3}})(?P=sep7)(?P<y7>\d{{4}}|\d\s?\d)\b)
  | (?P<num>\b(?P<a4>[0-3]?\d)[/.](?P<b4>[0-3]?\d)[/.](?P<y4>\d{{4}}|\d{{2}})\b)
  | (?P<dm>(?<![\w/.])(?P<a5>[0-3]?\d)/(?P<b5>[0-3]?\d)(?![\w/]|\.\d))
  | (?P<my>\b(?P<m6>{MON})\s+(?P<y6>20\d\d)\b)
  | (?P<rel>\b(?:
        (?:(?:the\s+)?end\s+of\s+)?(?P<next>next|this|coming)\s+(?P<unit>week|month)
      | (?:(?P<wdq>next|this|coming)\s+)?(?P<wd>monday|tuesday|wednesday|thursday|friday|
            saturday|sunday|mon|tue|tues|wed|thu|thur|thurs|fri)\.?
      | (?P<day>today|tomorrow|tonight)
      | (?:the\s+)?end\s+of\s+(?:the\s+)?(?P<eo>day|week|month|quarter|year|sprint)
      | (?:within|during)\s+the\s+(?P<eo3>week)
      | (?:the\s+)?(?:end\s+of\s+|end[-\s]+|late\s+)(?P<eom>{MON})(?!\s*\d)
      | (?:(?:the\s+)?end\s+of\s+)?(?P<q>q[1-4])(?:\s+(?P<qy>20\d\d))?
      | (?:the\s+)?(?:(?:mid|middle\s+of)[\s-]*)(?P<mid>{MON})
      | (?:the\s+)?(?P<ord>[0-3]?\d)(?:st|nd|rd|th)(?!\s*(?:of\s+)?{MON})(?![\w-]|\s+[a-z])
      | (?:(?:the\s+)?end\s+of\s+)?(?P<half>h[12])(?:\s+(?P<hy>20\d\d))?
      | (?P<abbr>eod|eow|eom|eoq|cob|close\s+of\s+business)
      | (?P<eo2>week|month|quarter|year)(?:'s|’s)?[\s-]+end
      | (?P<fortnight>in\s+a\s+fortnight)
      | (?P<xmas>christmas|xmas|weihnachten)
      | (?P<kw>kw|cw)\s?(?P<kwn>[1-5]?\d)
      | (?P<within>in|within)\s+(?:the\s+next\s+)?(?P<n>\d{{1,2}}|a|an|one|two|three|four|five|six
            |a\s+couple\s+of|couple\s+of|a\s+few|few)\s*(?P<nunit>(?:working\s+|business\s+)?days?|weeks?|months?|hours?|hrs?
            |h(?![\w-]))
    )\b)
    """,
    re.IGNORECASE | re.VERBOSE,
)
# Words that make the date after them a deadline.
_DUE_MARKER = re.compile(
    r"\b(?:by|due(?:\s+(?:on|by|date))?|before|until|till|deadline|no later than|nlt"
    r"|deadline\s+(?:for|of)\s+[\w\s-]{1,30}?\s+(?:is|was)|(?:is|are)\s+due"
    r"|target(?:\s+date)?|eta|at the latest|for|ending|ends|closing|closes)\s*[:\-]?\s*"
    r"(?:the\s+)?(?:on\s+)?$",
    re.IGNORECASE,
)
# "on <date>" is a deadline unless it follows an event ("at the summit on 1 October").
_ON_MARKER = re.compile(r"\bon\s*$", re.IGNORECASE)
_EVENT_BEFORE = re.compile(
    r"\b(?:meeting|summit|call|session|conference|workshop|demo|sync|stand-?up|review|retro"
    r"|retrospective|offsite|kick-?off|webinar|presentation|event|training|hackathon|party"
    r"|release|launch|planning|office hours|interview|visit|trip|away|leave|holiday|vacation"
    r"|off|out|born|started|happened|held|took place)\b[^.;]{0,30}$",
    re.IGNORECASE,
)
_EVENT_AFTER = re.compile(
    r"^(?:'s|’s)?\s+(?:\w+\s+)?(?:meeting|summit|call|session|conference|workshop|demo|sync"
    r"|stand-?up|review|retro|offsite|kick-?off|webinar|presentation|event|plenary|board)\b",
    re.IGNORECASE,
)
_AS_VERB = re.compile(r"(?:\bto|\bwill|['’]ll|\bshall|^|[:\-–—])\s*$", re.IGNORECASE)
# "by the next steering meeting on 6 March": the deadline is the event's date.
_BY_EVENT = re.compile(
    r"\b(?:by|before|until|ahead of|in time for|ready for|for)\s+(?:the\s+)?(?:next\s+)?"
    r"[\w\s-]{0,30}(?:meeting|call|session|review|sync|plenary|board|summit|workshop|release"
    r"|retro|planning|demo|stand-?up|steering|committee|panel|kick-?off)\s+on\s*$",
    re.IGNORECASE,
)
# "moved the cut-over to Sat 20/03": the date it moved to is the one that holds.
_MOVED_TO = re.compile(
    r"\b(?:mov|push|postpon|reschedul|shift|slipp?|brought|bring)\w*\b[^.;]{0,40}\bto\s*$",
    re.IGNORECASE,
)
# "within two weeks of the survey closing": counted from an event, not from today.
# Counted from the meeting itself ("within 28 days of this meeting / of the decision") it is.
_OF_EVENT = re.compile(
    r"^\s+(?:of|after|from)\b(?!\s+(?:today|now|(?:this|the|today['’]s)\s+(?:meeting|decision"
    r"|call|session|date))\b)",
    re.IGNORECASE,
)
_SELF_DUE = re.compile(
    r"^(?:within|in\s|eod|eow|eom|eoq|cob|close|end\b|the end|next\s|this\s|today|tomorrow"
    r"|tonight|w/c|w\.c\.|wc\s|week\s+(?:commencing|starting|beginning))",
    re.I,
)


@dataclass(frozen=True, slots=True)
class DateHit:
    """A date expression in a text: where, as written, and what day it means (if known)."""

    start: int
    end: int
    text: str
    date: dt.date | None
    absolute: bool


def month_number(token: str) -> int | None:
    return _MONTHS.get(token.lower().rstrip(".")[:3])


def safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def month_end(year: int, month: int) -> dt.date:
    first_next = dt.date(year + month // 12, month % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


def _nearest_year(month: int, day: int, reference: dt.date) -> dt.date | None:
    """The year of a day/month written without one: project documents mostly look ahead, so
    the occurrence from two months before the reference to ten months after it."""
    candidates = [d for d in (safe_date(reference.year + k, month, day) for k in (-1, 0, 1)) if d]
    if not candidates:
        return None
    window = [d for d in candidates if -61 <= (d - reference).days <= 305]
    return min(window or candidates, key=lambda d: (abs((d - reference).days), d))


def weekday_number(word: str) -> int:
    """0 (Monday) to 6 from a weekday's name or its usual abbreviation ("Wed", "Thurs.")."""
    word = word.lower().rstrip(".")
    return next(i for i, name in enumerate(WEEKDAYS) if name.startswith(word[:3]))


def _day_of_month(day: int, reference: dt.date, weekday: int | None) -> dt.date | None:
    """The next day numbered ``day`` from the reference on (this month's while it is ahead),
    the first of the next three whose weekday is ``weekday`` when one is given."""
    found: list[dt.date] = []
    year, month = reference.year, reference.month
    for _ in range(4):
        day_date = safe_date(year, month, day)
        if day_date and day_date >= reference - dt.timedelta(days=7):
            found.append(day_date)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    if weekday is not None:
        return next((d for d in found if d.weekday() == weekday), found[0] if found else None)
    return next((d for d in found if d >= reference), None)


def _add_working_days(day: dt.date, count: int) -> dt.date:
    while count > 0:
        day += dt.timedelta(days=1)
        count -= day.weekday() < 5
    return day


def _friday_of_week(day: dt.date, weeks_ahead: int) -> dt.date:
    monday = day - dt.timedelta(days=day.weekday())
    return monday + dt.timedelta(days=7 * weeks_ahead + 4)


def _resolve_relative(g: dict[str, str | None], reference: dt.date) -> dt.date | None:
    """Resolve "Friday", "next week", "end of month"... against the reference date."""
    if g["wd"]:
        target = weekday_number(g["wd"])
        ahead = (target - reference.weekday()) % 7 or 7
        if (g["wdq"] or "").lower() == "next" and ahead < 7 - reference.weekday():
            ahead += 7  # "next Friday" said on a Monday means the Friday of next week
        return reference + dt.timedelta(days=ahead)
    if g["day"]:
        return reference + dt.timedelta(days=1 if g["day"].lower() == "tomorrow" else 0)
    if g["unit"]:
        this = (g["next"] or "").lower() == "this"
        if g["unit"].lower() == "week":
            return _friday_of_week(reference, 0 if this else 1)
        if this:
            return month_end(reference.year, reference.month)
        year, month = divmod(reference.month, 12)
        return month_end(reference.year + year, month + 1)
    if g["eom"]:
        month = month_number(g["eom"]) or reference.month
        year = reference.year + (1 if month < reference.month - 2 else 0)
        return month_end(year, month)
    if g["q"]:
        quarter = int(g["q"][1])
        if g["qy"]:
            return month_end(int(g["qy"]), quarter * 3)
        year = reference.year + (1 if quarter * 3 < reference.month - 3 else 0)
        return month_end(year, quarter * 3)
    if g["mid"]:
        month = month_number(g["mid"]) or reference.month
        year = reference.year + (1 if month < reference.month - 2 else 0)
        return safe_date(year, month, 15)
    if g["ord"]:
        # "by the 15th": the next 15th of a month, this month's when it is still ahead.
        day = int(g["ord"])
        year, month = reference.year, reference.month
        for _ in range(3):
            found = safe_date(year, month, day)
            if found and found >= reference:
                return found
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return None
    if g["half"]:
        month = 6 if g["half"][1] == "1" else 12
        if g["hy"]:
            return month_end(int(g["hy"]), month)
        return month_end(reference.year + (1 if month < reference.month - 3 else 0), month)
    if g["xmas"]:
        # "before Christmas": Christmas Eve, the last working day people mean.
        return safe_date(reference.year + (reference.month < 2), 12, 24)
    if g["kw"]:
        # "KW 50": the Friday of that ISO week, the year's that is nearest.
        week = int(g["kwn"] or 0)
        options = []
        for year in (reference.year - 1, reference.year, reference.year + 1):
            try:
                options.append(dt.date.fromisocalendar(year, week, 5))
            except ValueError:
                continue
        return min(options, key=lambda d: abs((d - reference).days)) if options else None
    if g["fortnight"]:
        return reference + dt.timedelta(days=14)
    period = (g["eo"] or g["abbr"] or g["eo2"] or g["eo3"] or "").lower()
    if period in {"day", "eod", "cob"} or period.startswith("close"):
        return reference
    if period in {"week", "eow"}:
        return reference + dt.timedelta(days=(4 - reference.weekday()) % 7)
    if period in {"month", "eom"}:
        return month_end(reference.year, reference.month)
    if period in {"quarter", "eoq"}:
        return month_end(reference.year, ((reference.month - 1) // 3 + 1) * 3)
    if period == "year":
        return dt.date(reference.year, 12, 31)
    if g["within"]:
        raw = re.sub(r"\s+", " ", g["n"] or "").lower().removeprefix("a ").strip()
        n = int(raw) if raw.isdigit() else _NUMBER_WORDS.get(raw, 1)
        unit = (g["nunit"] or "").lower()
        if unit.startswith(("working", "business")):
            return _add_working_days(reference, n)
        if unit.startswith("h"):
            days = n // 24  # "within 48 hours": two days; "in 2 hours": today
        else:
            days = n if unit.startswith("day") else n * 7 if unit.startswith("week") else n * 30
        return reference + dt.timedelta(days=days)
    return None


def find_dates(text: str, reference: dt.date | None, dayfirst: bool = True) -> list[DateHit]:
    """Every date expression in ``text``; ``date`` is None when it cannot be pinned down."""
    hits: list[DateHit] = []
    if not _DIGIT.search(text) and not _MAYBE_RELATIVE.search(text):
        return hits
    for match in DATE_RE.finditer(text):
        g = match.groupdict()
        date: dt.date | None = None
        absolute = False
        if g["wc"]:
            # "w/c 14 Dec": the week that starts then; a deadline in it is its working end.
            # "w/c 15/2" (day first, as the British write it), "w/c 23rd" (this month's).
            day = int(g["wcd"] or 0)
            if g["wco"]:
                start = _day_of_month(day, reference, None) if reference else None
                if start is None and reference:
                    continue
            else:
                month = int(g["wcn"]) if g["wcn"] else month_number(g["wcm"] or "")
                if month is None or not 1 <= month <= 12:
                    continue
                if g["wcy"]:
                    start, absolute = safe_date(int(g["wcy"]), month, day), True
                else:
                    start = _nearest_year(month, day, reference) if reference else None
                if start is None and (g["wcy"] or reference):
                    continue
            date = _friday_of_week(start, 0) if start else None
            if start and re.search(r"\bbefore\s*$", text[: match.start()], re.I):
                date = start  # "before w/c 23rd": by the Monday the week starts
        elif g["wdo"]:
            # "Thurs 4th", "Sat 20/03": a weekday with its day of the month names one day.
            if reference is None:
                continue
            day = int(g["d11"] or 0)
            if g["m11"]:
                month = int(g["m11"])
                date = _nearest_year(month, day, reference) if 1 <= month <= 12 else None
            else:
                date = _day_of_month(day, reference, weekday_number(match.group(0).split()[0]))
            if date is None:
                continue
            absolute = True
        elif g["dmd"]:
            # "30-Nov", "Dec-01" (a tracker's dates), "02.12." (day.month. without a year).
            if g["d14"]:
                day, month = int(g["d14"]), int(g["m14"] or 0)
            else:
                day = int(g["d12"] or g["d13"] or 0)
                month = month_number(g["m12"] or g["m13"] or "") or 0
            if reference is None or not 1 <= month <= 12:
                continue
            date = _nearest_year(month, day, reference)
            if date is None:
                continue
        elif g["dm"]:
            # "by 9/4", "(14/12)": a day and month without a year, only where a deadline or a
            # cell of its own says it is a date (not "3/4 of the team", not "2/3 passed").
            before = text[: match.start()]
            if reference is None or not (
                _DUE_MARKER.search(before)
                or _ON_MARKER.search(before)
                or before.rstrip().endswith(("(", "-", "–", "—", ",", ":"))
                or (not before.strip() and not text[match.end() :].strip(" .)"))
            ):
                continue
            first, second = int(g["a5"] or 0), int(g["b5"] or 0)
            day, month = (first, second) if dayfirst else (second, first)
            if month > 12 >= day:
                day, month = month, day
            if not (1 <= month <= 12):
                continue
            date = _nearest_year(month, day, reference)
            if date is None:
                continue
        elif (
            g["wd"]
            and len(g["wd"].rstrip(".")) <= 5
            and not g["wd"][0].isupper()
            and not _DUE_MARKER.search(text[: match.start()])
        ):
            continue  # "wed", "fri" alone are words or nicks; "Wed", "by fri" are weekdays
        elif g["xmas"] and not re.search(
            r"\b(?:before|by|until|till|vor)\s+$", text[: match.start()], re.IGNORECASE
        ):
            continue  # "the Christmas closure", "over Christmas": a season, not a deadline
        elif g["dmy"] or g["mdy"]:
            month_token = g["m1"] or g["m2"] or ""
            if month_token.lower() == "may" and month_token[0] == "m":
                continue  # the modal verb, not the month
            month = month_number(month_token)
            day = int(g["d1"] or g["d2"] or 0)
            year = g["y1"] or g["y2"]
            if month is None:
                continue
            if year:
                date, absolute = safe_date(int(year), month, day), True
                if date is None:
                    continue
            elif reference:
                date = _nearest_year(month, day, reference)
        elif g["dmy2"]:
            # A tracker export's "04/Dec/26": day, month abbreviation, year.
            month = month_number(g["m7"] or "")
            year = int((g["y7"] or "0").replace(" ", ""))  # a PDF's "04/Dec/2 6" too
            date = (
                safe_date(year + (2000 if year < 100 else 0), month, int(g["d7"] or 0))
                if (month)
                else None
            )
            if date is None:
                continue
            absolute = True
        elif g["my"]:
            # "Nov 2026", "due February 2027": a month named with its year ends on its last day.
            month = month_number(g["m6"] or "")
            if month is None or (g["m6"].lower() == "may" and g["m6"][0] == "m"):
                continue
            date, absolute = month_end(int(g["y6"] or 0), month), True
        elif g["iso"]:
            if g["sep3"] == "." and (len(g["m3"] or "") < 2 or len(g["d3"] or "") < 2):
                continue  # "2026.3.1" is a version number
            date = safe_date(int(g["y3"] or 0), int(g["m3"] or 0), int(g["d3"] or 0))
            absolute = date is not None
            if date is None:
                continue
        elif g["num"]:
            first, second, year = int(g["a4"] or 0), int(g["b4"] or 0), int(g["y4"] or 0)
            year += 2000 if year < 100 else 0
            day, month = (first, second) if dayfirst else (second, first)
            if month > 12 >= day:  # unambiguous the other way round
                day, month = month, day
            date = safe_date(year, month, day)
            absolute = date is not None
            if date is None:
                continue
        absolute_kind = (
            g["wc"]
            or g["wdo"]
            or g["dmd"]
            or g["dm"]
            or g["dmy"]
            or g["mdy"]
            or g["iso"]
            or g["num"]
            or g["dmy2"]
        )
        if not (absolute_kind or g["my"]) and reference:
            date = _resolve_relative(g, reference)
        hit = DateHit(match.start(), match.end(), match.group(0).strip(), date, absolute)
        if (
            hits
            and _DAY_END.fullmatch(hits[-1].text)
            and _JUST_BEFORE.fullmatch(text[hits[-1].end : match.start()])
        ):
            # "EOD Thursday", "end of day tomorrow": the day is the one named after it.
            first = hits.pop()
            hit = DateHit(first.start, match.end(), text[first.start : match.end()], date, absolute)
        hits.append(hit)
    return hits


_DAY_END = re.compile(
    r"(?:the\s+)?(?:end\s+of\s+(?:the\s+)?day|eod|cob|close\s+of\s+business)", re.IGNORECASE
)
_JUST_BEFORE = re.compile(r"\s*(?:on\s+|,\s*)?", re.IGNORECASE)


_DIGIT = re.compile(r"\d")
_MAYBE_RELATIVE = re.compile(
    r"day\b|week|month|\beo[dwmq]\b|\bcob\b|tomorrow|tonight|business|quarter|year|sprint"
    r"|\b(?:Mon|Tues?|Wed|Thu|Thurs?|Fri)\b|\b[hH][12]\b"
    r"|fortnight|christmas|xmas|weihnachten|\b[kc]w\s?\d"
    r"|\bq[1-4]\b|\b(?:[0-3]?\d)(?:st|nd|rd|th)\b|" + MON,
    re.IGNORECASE,
)


_WRITTEN_MDY = re.compile(rf"\b{MON}\s+[0-3]?\d(?:st|nd|rd|th)?\b(?!:)", re.IGNORECASE)
_WRITTEN_DMY = re.compile(rf"\b[0-3]?\d(?:st|nd|rd|th)?(?:\s+of)?\s+{MON}(?!\w)", re.IGNORECASE)
_NUMERIC = re.compile(r"(?<![\w/.])([0-3]?\d)[/.]([0-3]?\d)(?:[/.](?:\d{4}|\d{2}))?(?![\w/])")


def day_first(text: str) -> bool:
    """Whether the document writes day before month (3/4 is 3 April), told by its own dates:
    numeric dates that only read one way ("25/11/2026", "11/25"), else its written ones
    ("Aug 27, 2026" against "27 August"). Day-first when nothing tells."""
    sample = text[:200_000]
    votes = 0
    for first, second in _NUMERIC.findall(sample):
        if int(first) > 12 >= int(second):
            votes += 2
        elif int(second) > 12 >= int(first):
            votes -= 2
    if votes:
        return votes > 0
    month_first = sum(
        1
        for m in _WRITTEN_MDY.finditer(sample)
        if not (m.group(0)[:3].lower() == "may" and m.group(0)[0] == "m")
    )
    return month_first <= len(_WRITTEN_DMY.findall(sample))


def deadline(
    text: str,
    reference: dt.date | None,
    dayfirst: bool = True,
    next_meeting: dt.date | None = None,
) -> tuple[str | None, dt.date | None]:
    """The deadline a task states ("by Friday", "due 3 May", "EOM"), not an event's date.

    A date counts when a deadline word comes just before it ("by", "due", "before", "until"),
    when it carries its own ("in two weeks", "end of next week", "EOM"), or after "on" unless
    an event precedes it ("at the summit on 1 October" is when the summit is). "Before the
    next meeting" is the next meeting's date when the document states it (``next_meeting``).
    """
    hits = find_dates(text, reference, dayfirst)
    if reference is not None and not hits and (clock := _BY_CLOCK.search(text)):
        return clock.group(0).strip(), reference  # "answer by 5pm": today, at that hour
    if next_meeting is not None and not hits:
        until = _UNTIL_NEXT_MEETING.search(text)
        if until:
            return until.group(0).strip(), next_meeting
    for hit in hits:
        before = text[: hit.start]
        if _EVENT_AFTER.match(text[hit.end :]):
            continue  # "the 12 May meeting", "Friday's call"
        if _SELF_DUE.match(hit.text) and hit.text[:2].lower() in {"wi", "in"}:
            if _OF_EVENT.match(text[hit.end :]):
                continue  # "within two weeks of X": not a date the text pins down
        if _DUE_MARKER.search(before) or _SELF_DUE.match(hit.text) or _MOVED_TO.search(before):
            return hit.text, hit.date
        event = _EVENT_BEFORE.search(before[:-3])
        if event and _AS_VERB.search(before[: event.start()]):
            event = None  # "JT will demo the export on Friday": the task itself, not an event
        if _ON_MARKER.search(before) and (not event or _BY_EVENT.search(before)):
            return hit.text, hit.date
    for hit in hits:
        # A bare date closing the task ("send the deck - 12 March", "(Friday)") is its deadline.
        tail = text[hit.end :].strip(" .)]")
        before = text[: hit.start].rstrip()
        if re.search(r"\d\s*[-–—]$", before):
            continue  # "cover for 12-13 December": a range of days, when, not by when
        if not tail and before.endswith(("(", "-", "–", "—", ",", ":")):
            return hit.text, hit.date
        if not tail and hit.absolute and not _ON_MARKER.search(before) and before:
            return hit.text, hit.date  # a wiki task's date after its text: "… pack 30 Jun 2026"
        if (
            not tail
            and _WEEKDAY_ONLY.fullmatch(hit.text)
            and hit.text[0].isupper()
            and before
            and not _NOT_BY_WEEKDAY.search(before)
        ):
            return hit.text, hit.date  # "…, demo Wed", "send the form Monday": that day
    return None, None


_BY_CLOCK = re.compile(
    r"\b(?:by|before|until|till|no later than)\s+(?:\d{1,2}(?:[:.]\d\d)?\s?[ap]\.?m\b\.?"
    r"|noon\b|midday\b|lunch(?:time)?\b)",
    re.IGNORECASE,
)
_WEEKDAY_ONLY = re.compile(rf"{_WD}", re.IGNORECASE)
# "every Monday", "since Tuesday", "last Friday", "on Monday" (when, not by when).
_NOT_BY_WEEKDAY = re.compile(
    r"\b(?:every|each|since|last|on|from|after|until|till|per|weekly|at|the|of|than)\s*$",
    re.IGNORECASE,
)
_UNTIL_NEXT_MEETING = re.compile(
    r"\b(?:by|before|ahead of|prior to|until|till|in time for)\s+(?:the\s+)?next\s+"
    r"(?:[\w-]+\s+){0,2}?(?:meeting|call|sync|session|review|standup|stand-up|retro)\b",
    re.IGNORECASE,
)
_NEXT_MEETING = re.compile(
    r"\bnext\s+(?:[\w-]+\s+){0,2}?(?:meeting|call|sync|session)\b", re.IGNORECASE
)


def next_meeting_date(
    blocks: Iterable[Block], reference: dt.date | None, dayfirst: bool = True
) -> dt.date | None:
    """The next meeting's date when the document states it ("Next meeting: 18 March", a
    "Next meeting" heading over a dated line), so "before the next meeting" is a deadline."""
    under_heading = False
    for block in blocks:
        if block.kind == "heading":
            under_heading = bool(_NEXT_MEETING.search(block.text))
            hits = find_dates(block.text, reference, dayfirst) if under_heading else []
        elif block.kind in {"paragraph", "list_item", "speaker"}:
            text = block.text if block.kind != "speaker" else f"{block.speaker}: {block.text}"
            said = _NEXT_MEETING.search(text)
            if said and not _UNTIL_NEXT_MEETING.search(text):
                hits = find_dates(text[said.end() : said.end() + 80], reference, dayfirst)
            elif under_heading:
                hits = find_dates(text[:120], reference, dayfirst)
            else:
                hits = []
        else:
            continue
        dated = [hit.date for hit in hits if hit.date and (not reference or hit.date >= reference)]
        if dated:
            return dated[0]
    return None


# --------------------------------------------------------------------------------------------
# The document's own date

_DATE_LINE = re.compile(
    r"^(?:meeting\s+)?(?:date|dated|when|held on|meeting date|date of meeting|date and time"
    r"|date/time|last updated|status date|report date|as of|week of|sprint end|charter date"
    r"|(?:prepared|approved|issued|written|created|published) on|version date|effective date"
    r"|document date|date (?:issued|approved|prepared))\s*[:\-–]\s*(.+)$",
    re.IGNORECASE,
)
_FILENAME_DATE = re.compile(
    r"(?<!\d)(?P<y>20\d\d)[-_.]?(?P<m>[01]\d)[-_.]?(?P<d>[0-3]\d)(?!\d)"
    r"|(?<!\d)(?P<d2>[0-3]\d)[-_.](?P<m2>[01]\d)[-_.](?P<y2>20\d\d)(?!\d)"
)


def _absolute(text: str, dayfirst: bool) -> dt.date | None:
    for hit in find_dates(text, None, dayfirst):
        if hit.absolute and hit.date:
            return hit.date
    return None


def date_from_name(name: str) -> dt.date | None:
    """A date written in a file name or title: 2026-03-04, 20260304, 04-03-2026."""
    match = _FILENAME_DATE.search(name or "")
    if not match:
        return None
    if match.group("y"):
        return safe_date(int(match.group("y")), int(match.group("m")), int(match.group("d")))
    return safe_date(int(match.group("y2")), int(match.group("m2")), int(match.group("d2")))


def document_date(
    blocks: Iterable[Block],
    *,
    model_date: dt.date | None = None,
    model_date_sent: bool = False,
    filename: str = "",
    title: str = "",
    dayfirst: bool = True,
    look_at: int = 40,
) -> dt.date | None:
    """The date the document is about: a ``Date:`` line, a dated heading, a dated line under
    the title, a date in the file name, the format's date, a date in the title, in that
    order."""
    heading_date: dt.date | None = None
    early_date: dt.date | None = None
    first_date: dt.date | None = None  # any written date near the top, the last resort
    for index, block in enumerate(blocks):
        if index >= look_at:
            break
        if first_date is None and index < 10 and block.kind in {"paragraph", "list_item"}:
            first_date = _absolute(block.text[:300], dayfirst)
        if block.kind == "paragraph" and early_date is None and index < 8:
            # "Thursday 20 August 2026 · 45 minutes" under the title.
            first = next(iter(find_dates(block.text[:120], None, dayfirst)), None)
            if first and first.absolute and (first.start < 15 or len(block.text) <= 80):
                early_date = first.date
        if block.kind in {"paragraph", "list_item", "speaker"}:
            text = block.text if block.kind != "speaker" else f"{block.speaker}: {block.text}"
            for line in text.split("\n"):
                match = _DATE_LINE.match(line.strip().lstrip("*_ "))
                if match:
                    found = _absolute(match.group(1), dayfirst)
                    if found:
                        return found
        elif block.kind == "heading" and heading_date is None:
            heading_date = _absolute(block.text, dayfirst) or date_from_name(block.text)
        elif block.kind == "table" and block.header:
            # A key/value table under the title: "Date | 4 March 2026".
            for row in [block.header, *block.rows][:12]:
                if len(row) >= 2 and (match := _DATE_LINE.match(f"{row[0]}: {row[1]}")):
                    if found := _absolute(match.group(1), dayfirst):
                        return found
                if first_date is None and index < 10 and len(row) == 2:
                    first_date = _absolute(row[1][:300], dayfirst)  # "Charter | 1.2, 12 Jan"
            for i, cell in enumerate(block.header):
                if _DATE_COLUMN.fullmatch(cell) and block.rows:
                    row = block.rows[0]
                    if i < len(row) and (found := _absolute(row[i], dayfirst)):
                        return found
    # The format's own date (e-mail header, file metadata) after what the text itself says
    # and after a date someone wrote in the file name: metadata is often the day the file was
    # saved or printed, not the day of the meeting.
    # A file's own date (PDF/DOCX properties) is when it was saved or exported, often well
    # after the meeting; a date written near the top of the text is the better guess then.
    return (
        heading_date
        or early_date
        or date_from_name(filename)
        or (model_date if model_date_sent else None)
        or date_from_name(title)
        or first_date
        or model_date
    )


# A page's metadata column: "Created | Status" over "2026-02-03 | Accepted".
_DATE_COLUMN = re.compile(
    r"\W*(?:(?:meeting |report |status |document |review )?date|created|created on|updated"
    r"|last updated|modified|last modified|published|issued|as of|date of meeting)\W*",
    re.IGNORECASE,
)


# --------------------------------------------------------------------------------------------
# Superseded dates

# "go-live moved from 3 March to 17 March", "slipped from ... to ...", "(was 3 March)".
_SUPERSEDE = re.compile(
    r"\b(?:mov\w*|slip\w*|push\w*|postpon\w*|delay\w*|chang\w*|reschedul\w*|shift\w*"
    r"|brought forward|bring forward|revised|re-?planned|updated|extended|deferred|defer)"
    r"\b[^.;]{0,40}?\bfrom\s+(?P<old>[^.;]{3,40}?)\s+(?:to|until|till|->|→)\s+",
    re.IGNORECASE,
)
_WAS = re.compile(
    r"\((?:was|previously|originally|formerly)\s+(?P<old>[^)]{3,40})\)"
    r"|\b(?:previously|originally|instead of|rather than|no longer)\s+(?P<old2>[^.;,)]{3,40})"
    r"|~~(?P<old3>[^~]{3,40})~~",
    re.IGNORECASE,
)


def superseded_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of ``text`` that hold a date replaced by another one."""
    spans: list[tuple[int, int]] = []
    for match in _SUPERSEDE.finditer(text):
        spans.append(match.span("old"))
    for match in _WAS.finditer(text):
        name = "old" if match.group("old") else "old2" if match.group("old2") else "old3"
        spans.append(match.span(name))
    return spans


def is_superseded(hit: DateHit, spans: list[tuple[int, int]]) -> bool:
    return any(start <= hit.start < end for start, end in spans)
