"""Where each action came from (workers/digest/locate.py): the line or page of its block."""

from __future__ import annotations

import random

from tests.conftest import FIXTURES
from workers.analyse import analyse
from workers.digest.blocks import Block, DocumentModel
from workers.digest.locate import ENOUGH, _words, locate


def test_each_action_of_a_text_document_gets_its_line():
    text = (FIXTURES / "meeting_minutes.txt").read_text()
    lines = text.split("\n")
    digest = analyse(text, filename="minutes.txt")
    assert digest["action_items"]
    for action in digest["action_items"]:
        assert action["page"] is None
        line = lines[action["line"] - 1]
        assert action["text"].split()[-1].strip(".") in line, (action, line)


def test_a_pdf_like_model_gives_pages_and_an_unknown_action_nothing():
    model = DocumentModel(
        blocks=[
            Block("heading", "Actions", level=1, page=1),
            Block("paragraph", "Welcome to the review.", page=1),
            Block("list_item", "ACTION: Ana to renew the hosting contract by 3 May", page=2),
        ]
    )
    actions = [{"text": "Ana to renew the hosting contract by 3 May"}, {"text": "Unrelated"}]
    locate(actions, model.blocks)
    assert (actions[0]["line"], actions[0]["page"]) == (None, 2)
    assert (actions[1]["line"], actions[1]["page"]) == (None, None)


def test_pruned_search_finds_what_comparing_every_block_finds():
    """The rarest-words shortcut must give the same block as the brute force."""
    rng = random.Random(7)
    vocabulary = [f"w{i}" for i in range(60)] + ["the", "to", "and"] * 20
    blocks = [
        Block("paragraph", " ".join(rng.choice(vocabulary) for _ in range(8)), line=n)
        for n in range(1, 400)
    ]
    actions = [
        {"text": " ".join(rng.choice(vocabulary) for _ in range(rng.randint(2, 7)))}
        for _ in range(200)
    ]
    locate(actions, blocks)
    for action in actions:
        wanted = _words(action["text"])
        best, best_share = None, 0.0
        for block in blocks:
            share = len(wanted & _words(block.text)) / len(wanted)
            if share >= ENOUGH and share > best_share:
                best, best_share = block, share
        assert action["line"] == (best.line if best else None), action
