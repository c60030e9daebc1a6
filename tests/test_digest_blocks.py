"""Text → blocks (workers.digest.text) and block refinement (workers.digest.refine).

Inline texts only; no database: ``pytest --noconftest tests/test_digest_blocks.py``.
"""

from __future__ import annotations

from workers.digest.blocks import Block
from workers.digest.refine import refine
from workers.digest.text import blocks_from_text


def _kinds(blocks: list[Block]) -> list[tuple[str, str]]:
    return [(b.kind, b.text) for b in blocks]


def test_markdown_headings_lists_boxes_tables_and_quotes():
    text = (
        "# Sync 2026-03-04\n\n"
        "## Actions\n\n"
        "- [ ] Bob to send the deck\n"
        "- [x] Ana to book the room\n"
        "  - nested detail\n\n"
        "> an old comment\n\n"
        "| What | Who | When |\n|---|---|---|\n| Fix CI | bob | Friday |\n"
    )
    blocks = blocks_from_text(text, markdown=True)
    assert [(b.kind, b.level) for b in blocks[:2]] == [("heading", 1), ("heading", 2)]
    items = [b for b in blocks if b.kind == "list_item"]
    assert [(b.text, b.checked, b.level) for b in items] == [
        ("Bob to send the deck", False, 0),
        ("Ana to book the room", True, 0),
        ("nested detail", None, 1),
    ]
    assert [b.text for b in blocks if b.kind == "quote"] == ["an old comment"]
    table = next(b for b in blocks if b.kind == "table")
    assert table.header == ["What", "Who", "When"] and table.rows == [["Fix CI", "bob", "Friday"]]


def test_markdown_hard_wrapped_paragraph_is_one_block_but_field_lines_stay_apart():
    text = (
        "Date: 4 March 2026\nChair: Ana Silva\n\n"
        "We will use PostgreSQL for the store because it is\nwell supported by the team.\n"
    )
    blocks = blocks_from_text(text, markdown=True)
    assert _kinds(blocks) == [
        ("paragraph", "Date: 4 March 2026"),
        ("paragraph", "Chair: Ana Silva"),
        (
            "paragraph",
            "We will use PostgreSQL for the store because it is well supported by the team.",
        ),
    ]


def test_plain_text_setext_headings_rules_bullets_and_tables():
    text = (
        "Meeting summary\n---------------\n"
        "* Item one\n  * nested item\n\n"
        "----\n\n"
        "Task | Owner | Due\nWrite the plan | Ana | 2026-03-10\n"
    )
    blocks = blocks_from_text(text)
    assert blocks[0].kind == "heading" and blocks[0].text == "Meeting summary"
    assert [(b.text, b.level) for b in blocks if b.kind == "list_item"] == [
        ("Item one", 0),
        ("nested item", 1),
    ]
    assert any(b.kind == "rule" for b in blocks)
    table = next(b for b in blocks if b.kind == "table")
    assert table.header == ["Task", "Owner", "Due"]


def test_a_wrapped_pdf_line_stays_one_item():
    """A line ending "… session on 16" followed by "December 2026." is one item, not two."""
    text = (
        "- Maria Lopez to run the onboarding training for the new support team in the session"
        " on 16\n"
        "December 2026.\n"
        "- Tom to book the room.\n"
    )
    items = [b.text for b in blocks_from_text(text) if b.kind == "list_item"]
    assert items == [
        "Maria Lopez to run the onboarding training for the new support team in the session on "
        "16 December 2026.",
        "Tom to book the room.",
    ]


def test_plain_text_title_like_line_over_a_list_is_a_heading():
    text = "Notes from the call.\nSecure coding course\n- Module 3 is recorded\n"
    blocks = blocks_from_text(text)
    assert ("heading", "Secure coding course") in _kinds(blocks)


def test_speaker_turns_are_refined():
    blocks = refine(
        [
            Block("paragraph", "Priya Natarajan: I will send the figures."),
            Block("paragraph", "**Tom**: will ask around for a room"),
            Block("paragraph", "JL: will check the licence"),
            Block("paragraph", "Date: 4 March 2026"),
            Block("paragraph", "Budget: approved at the last board"),
        ]
    )
    assert [(b.kind, b.speaker, b.text) for b in blocks] == [
        ("speaker", "Priya Natarajan", "I will send the figures."),
        ("speaker", "Tom", "will ask around for a room"),
        ("speaker", "JL", "will check the licence"),
        ("paragraph", None, "Date: 4 March 2026"),
        ("paragraph", None, "Budget: approved at the last board"),
    ]


def test_irc_and_meeting_bot_lines_are_refined():
    blocks = refine(
        [
            Block("paragraph", "[17:02] <mkumar> I can take the release notes"),
            Block("paragraph", "<@nirik> ok"),
            Block("list_item", "ACTION: mkumar to draft the notes (nirik, 17:05:12)"),
            Block("paragraph", "#agreed ship it on Tuesday"),
            Block("paragraph", "-----"),
            Block("list_item", "mkumar (116)"),
        ]
    )
    assert [(b.kind, b.speaker, b.text) for b in blocks] == [
        ("speaker", "mkumar", "I can take the release notes"),
        ("speaker", "nirik", "ok"),
        ("list_item", None, "ACTION: mkumar to draft the notes"),
        ("paragraph", None, "AGREED: ship it on Tuesday"),
        ("rule", None, ""),
        ("quote", "mkumar", "mkumar (116)"),
    ]


def test_known_nick_speaks_in_lower_case():
    blocks = refine(
        [
            Block("paragraph", "<jlee> morning"),
            Block("paragraph", "jlee: will update the wiki"),
            Block("paragraph", "note: nothing else"),
        ]
    )
    assert [(b.kind, b.speaker) for b in blocks] == [
        ("speaker", "jlee"),
        ("speaker", "jlee"),
        ("paragraph", None),
    ]


def test_markdown_html_tables_and_indented_text_are_read_code_and_comments_are_not():
    text = (
        "# Minutes\n\nIntro line.\n\n"
        "    Outcome: the board approved the budget.\n\n"
        "<table><tr><th>Action</th><th>Owner</th></tr>"
        "<tr><td>Send the deck</td><td>Ana</td></tr></table>\n\n"
        "<!-- Action: not a real one -->\n\n```\nAction: code sample\n```\n"
    )
    blocks = blocks_from_text(text, markdown=True)
    assert ("paragraph", "Outcome: the board approved the budget.") in [
        (b.kind, b.text) for b in blocks
    ]
    table = next(b for b in blocks if b.kind == "table")
    assert (table.header, table.rows) == (["Action", "Owner"], [["Send the deck", "Ana"]])
    assert [b.kind for b in blocks if "Action:" in b.text] == ["quote", "quote"]


def test_numbered_titles_without_blank_lines_head_their_minutes_but_a_numbered_list_stays():
    text = (
        "Minutes\n1. Welcome and purpose\nGW welcomed everyone and set out the purpose.\n"
        "2. Risks and issues\n- JP: the portal team is fully booked until August.\n"
        "3. Decisions recorded at the kick-off\n- The pilot runs in the North region only.\n"
    )
    headings = [b.text for b in blocks_from_text(text) if b.kind == "heading"]
    assert headings[-3:] == [
        "Welcome and purpose",
        "Risks and issues",
        "Decisions recorded at the kick-off",
    ]
    agenda = "Agenda\n1. Release status\n2. Docs hosting\n3. AOB\n"
    assert [b.kind for b in blocks_from_text(agenda)][1:] == ["list_item"] * 3


def test_a_title_line_right_above_a_table_row_is_its_heading():
    text = (
        "Previous actions\nRef | Action | Owner\nA-1 | Publish the guideline | CW\n"
        "Submissions\nItem | Summary | Outcome\nOrder split | Split the service | Approved\n"
    )
    assert [b.text for b in blocks_from_text(text) if b.kind == "heading"] == [
        "Previous actions",
        "Submissions",
    ]
