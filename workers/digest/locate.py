"""Where each action came from: the line (text formats) or page (PDF, scans) of its block.

A separate pass after the extractors, so they stay unaware of it: an action's words are
looked for among the blocks, and the block holding most of them (first in reading order)
gives its ``line`` and ``page``. Both stay ``None`` when no block holds enough of them.
"""

from __future__ import annotations

import re
from typing import Any

from workers.digest.blocks import Block

_WORD = re.compile(r"[^\W_]{2,}")
# Share of an action's words its block must hold (labels and owner prefixes are dropped
# from an action's text, never added).
ENOUGH = 0.6


def _words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower()))


def _block_texts(block: Block) -> list[str]:
    if block.kind == "table":
        return [" ".join(row) for row in block.rows]
    if block.kind == "speaker":
        return [f"{block.speaker} {block.text}"]
    return [block.text]


def locate(actions: list[dict[str, Any]], blocks: list[Block]) -> None:
    """Add ``line`` and ``page`` to each action (in place); existing fields are untouched.

    Only blocks holding one of an action's rarest words are compared: a block lacking all of
    its ``floor((1 - ENOUGH) * n) + 1`` rarest words holds less than ``ENOUGH`` of them, so
    the result is that of comparing every block, at the cost of one pass over the blocks.
    """
    indexed: list[tuple[Block, frozenset[str]]] = []
    postings: dict[str, list[int]] = {}
    for block in blocks:
        if block.kind in {"heading", "rule", "quote"}:
            continue
        for text in _block_texts(block):
            words = _words(text)
            for word in words:
                postings.setdefault(word, []).append(len(indexed))
            indexed.append((block, words))
    for action in actions:
        wanted = _words(action.get("text") or "")
        rarest = sorted(wanted, key=lambda w: len(postings.get(w, ())))
        needed = int((1 - ENOUGH) * len(wanted)) + 1
        candidates = sorted({i for w in rarest[:needed] for i in postings.get(w, ())})
        best: Block | None = None
        best_share = 0.0
        for index in candidates:
            block, words = indexed[index]
            share = len(wanted & words) / len(wanted)
            if share >= ENOUGH and share > best_share:
                best, best_share = block, share
                if share == 1.0:
                    break
        action["line"] = best.line if best is not None else None
        action["page"] = best.page if best is not None else None
