"""Decisions and risks in the layouts real minutes, logs and registers use (issue 10).

Invented snippets only; no database: ``pytest --noconftest tests/test_digest_verdicts.py``.
"""

from __future__ import annotations

import pytest

from workers.analyse import analyse
from workers.digest.blocks import Block, DocumentModel


def _decisions(text: str) -> list[str]:
    return analyse(text)["decisions"]


def _table(header: list[str], rows: list[list[str]], heading: str = "") -> DocumentModel:
    blocks = [Block("heading", heading, 2)] if heading else []
    return DocumentModel(blocks=[*blocks, Block("table", header=header, rows=rows)])


@pytest.mark.parametrize(
    ("text", "decision"),
    [
        # who or where before the label's colon
        (
            "Decided at the retro: pairing stays optional for the next sprint.",
            "pairing stays optional for the next sprint.",
        ),
        (
            "Agreed with the sponsor: the beta moves to the second week of May.",
            "the beta moves to the second week of May.",
        ),
        # a minute's own numbering before its label
        (
            "3.4 RESOLVED: the hosting contract is renewed for one year.",
            "the hosting contract is renewed for one year.",
        ),
        # labels whose word is the decision
        (
            "Dropped: the fortnightly newsletter, nobody read it.",
            "Dropped: the fortnightly newsletter, nobody read it.",
        ),
        (
            "Parked: moving the forum to a new platform.",
            "Parked: moving the forum to a new platform.",
        ),
        # verdict first, condition after
        (
            "Printer fleet: supplier offers a swap on 3 May. Agreed, provided the spares arrive.",
            "Printer fleet: supplier offers a swap on 3 May. Agreed, provided the spares arrive.",
        ),
        # a terse verdict keeps the item it belongs to
        (
            "Pull request 1182 (drop the old parser). Change accepted. It goes into 4.0.",
            "Pull request 1182 (drop the old parser). Change accepted. It goes into 4.0.",
        ),
        (
            "- quiet hours on Friday mornings -> agreed by everyone, from next sprint",
            "quiet hours on Friday mornings -> agreed by everyone, from next sprint",
        ),
        (
            "- Pilot with two wards in June, agreed with the nursing leads",
            "Pilot with two wards in June, agreed with the nursing leads",
        ),
        (
            "Dana Whitfield approved the revised budget on 3 May.",
            "Dana Whitfield approved the revised budget on 3 May.",
        ),
    ],
)
def test_decision_layouts(text, decision):
    assert _decisions(text) == [decision]


@pytest.mark.parametrize(
    "text",
    [
        "Outcome: noted (standard change, pre-approved)",
        "Accepted (supersedes ADR 3)",
        "Approved by Mira Holt (sponsor), 2 February 2026.",
        "Why is there no alert? No answer today.",
        "Did the runbook cover this? Yes: the page was written in March.",
        "Moving the queue was discussed and not agreed; it needs a cost estimate first.",
    ],
)
def test_not_decisions(text):
    assert _decisions(text) == []


def test_a_question_answered_yes_on_the_next_item_is_a_decision():
    text = (
        "## Release review\n\n"
        "- Should the release notes mention the new installer?\n"
        "- Yes.\n"
        "- What else do we need before the review?\n"
    )
    assert _decisions(text) == ["Should the release notes mention the new installer? Yes."]


def test_a_question_answered_no_in_feedback_is_a_decision():
    text = (
        "## Stakeholder feedback\n\n"
        "- Could we skip the second sign-off? Tempting, but no; audit needs it.\n"
        "- More colour in the dashboard, please.\n"
    )
    assert _decisions(text) == [
        "Could we skip the second sign-off? Tempting, but no; audit needs it."
    ]


def test_questions_in_a_questions_section_are_no_decisions():
    text = "## Open questions\n\n- Do we need a second region?\n- No.\n"
    assert _decisions(text) == []


def test_decision_log_pairs_the_topic_with_the_decision_and_skips_open_rows():
    model = _table(
        ["ID", "Decision required", "Decision", "Decided by", "Status"],
        [
            ["D-1", "Database for the new service", "PostgreSQL 16", "Architects", "Approved"],
            ["D-2", "Mobile framework", "", "", "Open - needs a spike"],
            ["D-3", "Keep the old API", "Read-only until June", "Board", "Approved"],
        ],
    )
    assert analyse("", model=model)["decisions"] == [
        "Database for the new service: PostgreSQL 16",
        "Keep the old API: Read-only until June",
    ]


def test_an_outcome_column_gives_verdicts_but_plain_acceptance_is_status():
    model = _table(
        ["Story", "Outcome"],
        [
            ["AB-1 Export to PDF", "Accepted"],
            ["AB-2 Bulk edit", "Not accepted, slow on large lists; back to the backlog"],
            ["AB-3 Dark theme", "Deferred to the next release"],
        ],
    )
    assert analyse("", model=model)["decisions"] == [
        "AB-2 Bulk edit: Not accepted, slow on large lists; back to the backlog",
        "AB-3 Dark theme: Deferred to the next release",
    ]


def test_a_decision_label_in_a_notes_cell():
    model = _table(
        ["Area", "Check", "Owner", "Notes"],
        [
            ["Launch", "Blog post drafted", "Ana", "Decision: no press event; blog only"],
            ["Docs", "Guide published", "Ben", "2 pages left"],
        ],
    )
    assert analyse("", model=model)["decisions"] == ["no press event; blog only"]
