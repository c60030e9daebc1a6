"""Matching and scoring for ``bench/digest_quality.py`` (pure functions, no project imports).

The rule, in full (the bench's docstring repeats it):

* **Tokens.** A text is lower-cased, apostrophes are dropped ("we've" -> "weve"), every other
  non-alphanumeric character separates words, and the words of ``STOP_WORDS`` are removed. A
  text is compared as the *set* of its remaining tokens.
* **A pair matches** when the Jaccard index of the two sets is >= ``JACCARD_MIN`` (0.3), or when
  >= ``CONTAINMENT_MIN`` (60 %) of the shorter side's tokens are in the other side. The
  containment rule needs at least ``CONTAINMENT_MIN_TOKENS`` (2) tokens on the shorter side, so
  a one-word output ("budget") does not match every label that says "budget"; two one-word
  texts still match through Jaccard. A pair's score is the larger of the two ratios (Jaccard
  breaks ties).
* **Pairing is one-to-one and greedy**: all matching (label, output) pairs sorted by score, best
  first, each taken when neither side is paired yet. Unpaired outputs are false positives (so a
  duplicate of a found item counts as one), unpaired labels false negatives.
* **Owners.** An owner string is normalised (lower-case, leading ``@`` dropped, punctuation
  stripped, spaces collapsed); two owners are the same person when they are equal or the words of
  one are a subset of the other's ("Priya" / "Priya Shah", "DB team" / "the DB team"). An
  output's owners are its ``owners`` list when it has one, else its ``owner`` string split on
  ``,`` ``;`` ``/`` ``&`` ``+`` and "and". **Owner right** (per matched action): the labelled
  owners and the output's owners share a person, or both are empty. **Owner exact**: every
  labelled owner is found and every output owner is labelled (both empty counts).
* **Due right** (per matched action whose label has a due date): the output's ``due_date`` is
  the same ISO date. Matched actions whose label has no due date but whose output has one are
  counted apart as ``due_spurious``.
* **Done reported open**: the outputs left unpaired after the open-action pairing are paired
  (same rule) with the label's ``done_actions``; each pair is a done item reported as open.
  Outputs marked ``"done": true`` are not open actions and are left out of all of this.

Totals are micro-averaged: true/false positives and false negatives are summed over documents
before precision, recall and F1 are computed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

JACCARD_MIN = 0.3
CONTAINMENT_MIN = 0.6
CONTAINMENT_MIN_TOKENS = 2

# Function words only: content words (verbs, nouns, names) carry the match.
STOP_WORDS = frozenset(
    """
    a an the and or but of to in on at by for with from as into about over
    is are was were be been being am do does did has have had
    will shall would should can could may might must
    we i you he she they it its this that these those our your their his her them us me my
    there here so than then also just very all any some each
    """.split()
)

_APOSTROPHES = re.compile(r"['\u2019\u2018`]")
_WORD = re.compile(r"[^\W_]+")


def tokens(text: str) -> frozenset[str]:
    """The normalised word tokens of ``text`` (see the module docstring)."""
    words = _WORD.findall(_APOSTROPHES.sub("", text.lower()))
    return frozenset(word for word in words if word not in STOP_WORDS)


def similarity(a: frozenset[str], b: frozenset[str]) -> float | None:
    """The pair's score when ``a`` and ``b`` match under the rule, else None."""
    if not a or not b:
        return None
    common = len(a & b)
    if not common:
        return None
    jaccard = common / len(a | b)
    shorter = min(len(a), len(b))
    containment = common / shorter if shorter >= CONTAINMENT_MIN_TOKENS else 0.0
    if jaccard >= JACCARD_MIN or containment >= CONTAINMENT_MIN:
        return max(jaccard, containment)
    return None


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 0.0


def match_pairs(labels: Sequence[str], outputs: Sequence[str]) -> list[tuple[int, int]]:
    """One-to-one greedy pairing, best score first: ``(label index, output index)`` pairs."""
    label_tokens = [tokens(text) for text in labels]
    output_tokens = [tokens(text) for text in outputs]
    candidates = []
    for i, a in enumerate(label_tokens):
        for j, b in enumerate(output_tokens):
            score = similarity(a, b)
            if score is not None:
                candidates.append((-score, -_jaccard(a, b), i, j))
    candidates.sort()
    used_labels: set[int] = set()
    used_outputs: set[int] = set()
    pairs = []
    for _, _, i, j in candidates:
        if i in used_labels or j in used_outputs:
            continue
        used_labels.add(i)
        used_outputs.add(j)
        pairs.append((i, j))
    return sorted(pairs)


# --------------------------------------------------------------------------------------------
# Owners and dates

_OWNER_SPLIT = re.compile(r"\s*(?:[,;/&+]|\band\b)\s*", re.IGNORECASE)
_OWNER_PUNCT = re.compile(r"[^\w\s.-]+")


def owner_key(owner: str) -> str:
    """``" @JLee: "`` -> ``"jlee"``: the comparable form of one owner string."""
    text = owner.strip().lower().lstrip("@")
    text = _OWNER_PUNCT.sub(" ", text)
    return " ".join(text.strip(" .-").split())


def same_owner(a: str, b: str) -> bool:
    """Equal after normalisation, or the words of one are a subset of the other's."""
    ka, kb = owner_key(a), owner_key(b)
    if not ka or not kb:
        return False
    if ka == kb:
        return True
    wa, wb = set(ka.split()), set(kb.split())
    return wa <= wb or wb <= wa


def output_owners(action: dict[str, Any]) -> list[str]:
    """The owners an analyser (or the baseline) gave an action, as a list of strings."""
    owners = action.get("owners")
    if isinstance(owners, list) and owners:
        found = [str(owner) for owner in owners if str(owner).strip()]
    else:
        owner = action.get("owner")
        found = [part for part in _OWNER_SPLIT.split(str(owner))] if owner else []
    return [owner for owner in found if owner_key(owner)]


def owner_right(labelled: Sequence[str], given: Sequence[str]) -> bool:
    """The two owner lists share a person, or both are empty."""
    if not labelled or not given:
        return not labelled and not given
    return any(same_owner(a, b) for a in labelled for b in given)


def owner_exact(labelled: Sequence[str], given: Sequence[str]) -> bool:
    """Every labelled owner is given and every given owner is labelled (both empty counts)."""
    if not labelled or not given:
        return not labelled and not given
    return all(any(same_owner(a, b) for b in given) for a in labelled) and all(
        any(same_owner(a, b) for a in labelled) for b in given
    )


def output_due(action: dict[str, Any]) -> str | None:
    """The output's due date as an ISO string, when it has a valid one."""
    for key in ("due_date", "due"):
        value = action.get(key)
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip()).isoformat()
            except ValueError:
                continue
    return None


def item_text(item: Any) -> str:
    """Decisions may be strings or dicts; actions and risks are dicts with ``text``."""
    if isinstance(item, dict):
        return str(item.get("text") or "")
    return str(item or "")


# --------------------------------------------------------------------------------------------
# Scores


@dataclass(slots=True)
class Counts:
    """True positives, false positives and false negatives of one kind of item."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: Counts) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        """None when there was nothing to find and nothing was reported."""
        if not (self.tp + self.fp + self.fn):
            return None
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "labelled": self.tp + self.fn,
            "reported": self.tp + self.fp,
            "precision": _round(self.precision),
            "recall": _round(self.recall),
            "f1": _round(self.f1),
        }


@dataclass(slots=True)
class Score:
    """Everything the bench counts for one system on one document (or summed over many)."""

    actions: Counts = field(default_factory=Counts)
    decisions: Counts = field(default_factory=Counts)
    risks: Counts = field(default_factory=Counts)
    matched_actions: int = 0
    owner_right: int = 0
    owner_exact: int = 0
    due_labelled: int = 0
    due_right: int = 0
    due_spurious: int = 0
    done_labelled: int = 0
    done_reported_open: int = 0

    def add(self, other: Score) -> None:
        self.actions.add(other.actions)
        self.decisions.add(other.decisions)
        self.risks.add(other.risks)
        for name in (
            "matched_actions",
            "owner_right",
            "owner_exact",
            "due_labelled",
            "due_right",
            "due_spurious",
            "done_labelled",
            "done_reported_open",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def owner_accuracy(self) -> float | None:
        return self.owner_right / self.matched_actions if self.matched_actions else None

    @property
    def owner_exact_accuracy(self) -> float | None:
        return self.owner_exact / self.matched_actions if self.matched_actions else None

    @property
    def due_accuracy(self) -> float | None:
        return self.due_right / self.due_labelled if self.due_labelled else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "actions": self.actions.as_dict(),
            "decisions": self.decisions.as_dict(),
            "risks": self.risks.as_dict(),
            "matched_actions": self.matched_actions,
            "owner_right": self.owner_right,
            "owner_accuracy": _round(self.owner_accuracy),
            "owner_exact": self.owner_exact,
            "owner_exact_accuracy": _round(self.owner_exact_accuracy),
            "due_labelled": self.due_labelled,
            "due_right": self.due_right,
            "due_accuracy": _round(self.due_accuracy),
            "due_spurious": self.due_spurious,
            "done_labelled": self.done_labelled,
            "done_reported_open": self.done_reported_open,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _counts(labels: Sequence[str], outputs: Sequence[str]) -> tuple[Counts, list[tuple[int, int]]]:
    pairs = match_pairs(labels, outputs)
    return Counts(tp=len(pairs), fp=len(outputs) - len(pairs), fn=len(labels) - len(pairs)), pairs


def score_document(label: dict[str, Any], digest: dict[str, Any]) -> Score:
    """Score one digest (``action_items``, ``decisions``, ``risks``) against one label."""
    score = Score()
    actions = [a for a in digest.get("action_items") or [] if not (a or {}).get("done")]
    label_actions = label.get("actions") or []
    score.actions, pairs = _counts(
        [item_text(a) for a in label_actions], [item_text(a) for a in actions]
    )
    for i, j in pairs:
        labelled, given = label_actions[i], actions[j]
        owners = [str(owner) for owner in labelled.get("owners") or []]
        found = output_owners(given)
        score.matched_actions += 1
        score.owner_right += owner_right(owners, found)
        score.owner_exact += owner_exact(owners, found)
        due = output_due(given)
        if labelled.get("due"):
            score.due_labelled += 1
            score.due_right += due == labelled["due"]
        elif due:
            score.due_spurious += 1

    paired = {j for _, j in pairs}
    leftovers = [item_text(a) for j, a in enumerate(actions) if j not in paired]
    done = [item_text(a) for a in label.get("done_actions") or []]
    score.done_labelled = len(done)
    score.done_reported_open = len(match_pairs(done, leftovers))

    score.decisions, _ = _counts(
        [item_text(d) for d in label.get("decisions") or []],
        [item_text(d) for d in digest.get("decisions") or []],
    )
    score.risks, _ = _counts(
        [item_text(r) for r in label.get("risks") or []],
        [item_text(r) for r in digest.get("risks") or []],
    )
    return score


# --------------------------------------------------------------------------------------------
# The keyword baseline

BASELINE_ACTION = re.compile(
    r"\b(?:actions?|todos?|to-do|will|must|should|assigned|follow(?:[- ]?up|ing up))\b",
    re.IGNORECASE,
)
BASELINE_DECISION = re.compile(
    r"\b(?:decided|agreed|approved|resolved|accepted|rejected|decisions?)\b", re.IGNORECASE
)
BASELINE_RISK = re.compile(
    r"\b(?:risks?|blockers?|blocked|concerns?|issues?|depends|delay(?:s|ed)?)\b", re.IGNORECASE
)
_OWNER_BEFORE = re.compile(r"\b(?:to|will)\b", re.IGNORECASE)
_CAPITALISED = re.compile(r"@[\w.-]+|\b[A-Z][\w'.-]*")
_NOT_OWNER = frozenset({"action", "actions", "todo", "todos", "ai", "assigned", "follow"})
_LINE_MARKUP = re.compile(r"^(?:\s*(?:[-*+\u2022>]|\d+[.)]|#+|\[[ xX]\])\s+)+")

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = "(?P<{}>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DATE_PATTERNS = [
    re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b"),
    re.compile(
        r"\b(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH.format("mon") + r",?\s+(?P<y>\d{4})\b",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b" + _MONTH.format("mon") + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})\b",
        re.IGNORECASE,
    ),
    re.compile(r"\b(?P<d>\d{1,2})[/.](?P<m>\d{1,2})[/.](?P<y>\d{4})\b"),
]


def first_date(line: str) -> str | None:
    """The first absolute date (with a year) in ``line``, ISO; day-first for 03/04/2027."""
    found: list[tuple[int, str]] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(line):
            parts = match.groupdict()
            month = _MONTHS[parts["mon"].lower()] if parts.get("mon") else int(parts["m"])
            try:
                date = dt.date(int(parts["y"]), month, int(parts["d"]))
            except ValueError:
                continue
            found.append((match.start(), date.isoformat()))
            break
    return min(found)[1] if found else None


def baseline_owner(line: str) -> str | None:
    """The first capitalised word or @handle before the first 'to'/'will' of the line."""
    before = _OWNER_BEFORE.search(line)
    if not before:
        return None
    for word in _CAPITALISED.findall(line[: before.start()]):
        word = word.rstrip(".:,-'")
        if word and word.lower().lstrip("@") not in _NOT_OWNER:
            return word
    return None


def keyword_baseline(text: str) -> dict[str, list[Any]]:
    """The trivial digest: keyword lines as actions, decisions and risks (same shape as analyse).

    A line may land in several lists. Exact repeats of a line are reported once per list.
    """
    digest: dict[str, list[Any]] = {"action_items": [], "decisions": [], "risks": []}
    seen: dict[str, set[str]] = {key: set() for key in digest}

    def add(key: str, line: str, item: Any) -> None:
        if line not in seen[key]:
            seen[key].add(line)
            digest[key].append(item)

    for raw in text.splitlines():
        line = " ".join(_LINE_MARKUP.sub("", raw).split())
        if len(line) < 3:
            continue
        if BASELINE_ACTION.search(line):
            owner = baseline_owner(line)
            add("action_items", line, {"text": line, "owner": owner, "due_date": first_date(line)})
        if BASELINE_DECISION.search(line):
            add("decisions", line, line)
        if BASELINE_RISK.search(line):
            add("risks", line, {"text": line})
    return digest


def f1_difference(system: float | None, baseline: float | None) -> float | None:
    """System minus baseline, None when either is undefined."""
    if system is None or baseline is None:
        return None
    return round(system - baseline, 4)


def median(values: Iterable[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
