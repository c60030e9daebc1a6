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
    return frozenset(w.lower() for w in _WORD.findall(text))


def _block_texts(block: Block) -> list[str]:
    if block.kind == "table":
        return [" ".join(row) for row in block.rows]
    if block.kind == "speaker":
        return [f"{block.speaker} {block.text}"]
    return [block.text]


def locate(actions: list[dict[str, Any]], blocks: list[Block]) -> None:
    """Add ``line`` and ``page`` to each action (in place); existing fields are untouched."""
    indexed = [
        (block, _words(text))
        for block in blocks
        if block.kind not in {"heading", "rule", "quote"}
        for text in _block_texts(block)
    ]
    for action in actions:
        wanted = _words(action.get("text") or "")
        best: Block | None = None
        best_share = ENOUGH
        for block, words in indexed if wanted else ():
            share = len(wanted & words) / len(wanted)
            if share > best_share or (best is None and share >= ENOUGH):
                best, best_share = block, share
                if share == 1.0:
                    break
        action["line"] = best.line if best is not None else None
        action["page"] = best.page if best is not None else None
