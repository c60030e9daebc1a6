"""The summary: a few sentences of the document, leading with what changed.

First the sentences that say something changed — a date moved ("go-live moved from 3 March to
17 March"), a decision, a blocker — then the best-scored other sentences (content-word
frequency, title and keyword overlap, a bonus for the opening). Sentences are quoted as
written; each group keeps document order.
"""

from __future__ import annotations

import re
from collections import Counter

from workers.digest.decisions import is_decision_sentence
from workers.digest.people import content_words
from workers.digest.words import sentences

MAX_SUMMARY_SENTENCES = 3_000
#: At most this many "what changed" sentences lead the summary.
MAX_LEADS = 2

_SLIP = re.compile(
    r"\b(?:moved|slipped|slips|pushed|postponed|delayed|rescheduled|deferred|brought forward)"
    r"\b[^.;]{0,60}\b(?:from|to|until|by)\b|\b(?:blocked (?:on|by)|blocker|cannot go live"
    r"|at risk|behind schedule)\b",
    re.IGNORECASE,
)


def summarise(texts: list[str], title: str, keywords: list[str]) -> list[str]:
    """Up to 3-5 sentences (by document length) from ``texts`` (the document's prose)."""
    candidates: list[str] = []
    for text in texts:
        for sentence in sentences(text):
            words = sentence.split()
            if 6 <= len(words) <= 60 and not sentence.endswith(":"):
                candidates.append(sentence)
        if len(candidates) >= MAX_SUMMARY_SENTENCES:
            break
    if not candidates:
        return []
    frequency = Counter(w for s in candidates for w in content_words(s))
    title_words = set(content_words(title))
    keyword_words = {w for k in keywords for w in k.split()}
    scored = []
    seen: set[str] = set()
    leads: list[tuple[int, str]] = []
    for index, sentence in enumerate(candidates):
        key = sentence.lower()
        if key in seen:
            continue
        seen.add(key)
        words = content_words(sentence)
        if not words:
            continue
        if len(leads) < MAX_LEADS and (_SLIP.search(sentence) or is_decision_sentence(sentence)):
            leads.append((index, sentence))
            continue
        score = sum(frequency[w] for w in set(words)) / len(words) ** 0.5
        score *= 1 + 0.2 * len(set(words) & (title_words | keyword_words))
        if index < 3:
            score *= 1.25  # openings state the purpose of the document
        scored.append((score, index, sentence))
    total_words = sum(len(s.split()) for s in candidates)
    count = 3 if total_words < 800 else 4 if total_words < 3000 else 5
    best = sorted(scored, key=lambda item: (-item[0], item[1]))[: max(count - len(leads), 1)]
    rest = [sentence for _, _, sentence in sorted(best, key=lambda item: item[1])]
    return ([sentence for _, sentence in leads] + rest)[:count]
