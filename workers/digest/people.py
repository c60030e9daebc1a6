"""People and keywords: who the document names, and what it is about.

People come from attendee lists and fields ("Attendees:", "Prepared by:"), attendee sections,
owners and speakers that look like names, and owner columns of tables; a first name is dropped
when exactly one full name starts with it. Keywords are frequent content words and recurring
2-3 word phrases (stop words, PM labels and people's names left out).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator

from workers.digest.blocks import Block
from workers.digest.sections import Section
from workers.digest.tables import column_roles
from workers.digest.words import (
    CONTENT_WORD,
    NON_NAME_WORDS,
    PM_NOISE,
    STOPWORDS,
    person_name,
    split_names,
)

MAX_PEOPLE = 50
MAX_KEYWORDS = 10
#: Content words counted for keywords.
MAX_KEYWORD_WORDS = 200_000

PEOPLE_FIELD = re.compile(
    r"^(?P<key>attendees|participants|present|in attendance|attendance|invitees|apologies"
    r"|absent|regrets|prepared by|author|authors|written by|minutes(?: taken)? by|note ?taker"
    r"|scribe|chair|chaired by|chairperson|facilitator|project manager|programme manager"
    r"|project lead|project sponsor|sponsor|executive sponsor|register owner|document owner"
    r"|reviewed by|approved by|distribution|cc|steering committee|project board"
    r"|team members?|stakeholders|owner|deciders)\s*:\s*(?P<value>.+)$",
    re.IGNORECASE,
)


_NICK_TURN = re.compile(r"^(?P<nick>[a-z][a-z0-9_\-]{1,20}):\s+\S")
_NICK_TAG = re.compile(r"\((?P<nick>[a-z][a-z0-9_\-]{1,20})\)\s*$")


def nicks_in_turns(blocks: Iterable[Block]) -> set[str]:
    """Lower-case nicks that speak in list items ("* tamio: what about …") and, in a
    document written so, the nicks that tag its headings ("[Bug #12] … (pmerle)")."""
    turns: set[str] = set()
    tags: set[str] = set()
    for block in blocks:
        if block.kind in {"list_item", "paragraph"}:
            if (turn := _NICK_TURN.match(block.text)) and turn["nick"] not in NON_NAME_WORDS:
                turns.add(turn["nick"])
        elif block.kind == "heading" and (tag := _NICK_TAG.search(block.text)):
            if tag["nick"] not in NON_NAME_WORDS:
                tags.add(tag["nick"])
    return turns | tags if len(turns) >= 2 else set()


class People:
    """Names in the order first seen, without duplicates."""

    def __init__(self, lower_vocabulary: frozenset[str]) -> None:
        self.lower_vocabulary = lower_vocabulary
        self.names: list[str] = []

    def add(self, candidate: str, *, strict: bool = False) -> None:
        name = person_name(candidate, self.lower_vocabulary if strict else None)
        if name and name.lower() not in {p.lower() for p in self.names}:
            if len(self.names) < MAX_PEOPLE:
                self.names.append(name)

    def add_list(self, value: str, *, strict: bool = False) -> None:
        for part in split_names(value):
            self.add(part, strict=strict)

    def merged(self) -> list[str]:
        """Drop "Maria" when exactly one "Maria Lopez" is listed too."""
        full = [p for p in self.names if " " in p]
        kept = []
        for person in self.names:
            if " " not in person:
                matches = [f for f in full if f.split()[0].lower() == person.lower()]
                if len(matches) == 1:
                    continue
            kept.append(person)
        return kept


def collect_people(
    sections: list[Section],
    owners: Iterable[tuple[list[str], bool]],
    lower_vocabulary: frozenset[str],
) -> list[str]:
    """People named by the document (see module doc). ``owners``: (names, explicit?)."""
    people = People(lower_vocabulary)
    for section in sections:
        for block in section.blocks:
            _block_people(block, section.role, people)
    for names, explicit in owners:
        for name in names:
            people.add(name, strict=not explicit)
    for section in sections:
        for block in section.blocks:
            if block.kind == "speaker" and block.speaker:
                people.add(block.speaker, strict=True)
    return people.merged()


def _block_people(block: Block, role: str, people: People) -> None:
    if block.kind == "table":
        roles = column_roles(block.header)
        if "owner" in roles:
            for row in block.rows:
                if roles["owner"] < len(row):
                    people.add_list(row[roles["owner"]])
        return
    if block.kind not in {"paragraph", "list_item"}:
        return
    field = PEOPLE_FIELD.match(block.text.strip())
    if field:
        people.add_list(field.group("value"))
    elif role == "attendees":
        people.add_list(block.text)


def content_words(text: str) -> list[str]:
    return [
        w.lower()
        for w in CONTENT_WORD.findall(text)
        if len(w) > 2 and w.lower() not in STOPWORDS and w.lower() not in PM_NOISE
    ]


def _phrases(line: str) -> Iterator[list[str]]:
    """Runs of content words between stop words and punctuation (RAKE-style candidates)."""
    for chunk in re.split(r"[.,;:!?()\[\]|\"“”]+|\s[-–—]\s", line):
        run: list[str] = []
        for token in chunk.split():
            word = token.strip("'’").lower()
            if (
                len(word) > 2
                and CONTENT_WORD.fullmatch(word)
                and word not in STOPWORDS
                and word not in PM_NOISE
            ):
                run.append(word)
            else:
                if run:
                    yield run
                run = []
        if run:
            yield run


def keywords(lines: list[str], title: str, people: list[str]) -> list[str]:
    """Top words and 2-3 word phrases by frequency; phrases must recur to count.

    People's names are left out (they have their own list), as are table header rows, whose
    column names ("Likelihood", "Owner") would otherwise dominate every register.
    """
    name_words = {part.lower() for person in people for part in person.split()}
    counts: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    position = 0
    texts = [title, *lines]
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
