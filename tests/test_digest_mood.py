"""Decisions and risks by a sentence's mood and a section's role (issue 10, held-out writers).

A settled "no", a verdict given before its condition, minutes that leave the auxiliary out, a
committee's "Action: Approved", verdict columns; a condition with its harm, something that
cannot happen without another, a gap nobody has filled. Inline texts only, no database:
``pytest --noconftest tests/test_digest_mood.py``.
"""

from __future__ import annotations

import pytest

from workers.analyse import analyse
from workers.digest.blocks import Block, DocumentModel
from workers.digest.sections import heading_role


def _decisions(text: str) -> list[str]:
    return analyse(text)["decisions"]


def _model_decisions(blocks: list[Block]) -> list[str]:
    return analyse("", model=DocumentModel(blocks=blocks))["decisions"]


def _risks(text: str) -> list[str]:
    return [r["text"] for r in analyse(text)["risks"]]


@pytest.mark.parametrize(
    "text",
    [
        # a settled "no"
        "The request for a second tester was not approved.",
        "Not agreed for the spring build: it doubles the cost of the kit.",
        # the verdict first, then its condition or the next step
        "Deferred to the autumn meeting pending the club's accounts.",
        "We agreed to pilot the rota for a month and then decide whether to keep it.",
        "Notes of the March call accepted, subject to item 2 being corrected.",
        # minutes without the auxiliary
        "Minutes of the spring meeting approved without changes.",
        "Agreed with Lena that the kiosks stay out of scope.",
        # a decision for a contingency
        "If the hall is unavailable, the committee agreed that the fair moves to the church.",
        # an authority named in brackets
        "Bakery milestones re-planned (approved by the sponsor on 3 March).",
        # a resolution's mood
        "That the notes of the May meeting be confirmed as a correct record.",
        "any one trustee be authorised to sign the lease on behalf of the charity;",
        # a verdict after its topic
        "Late fee cap: 10% of the invoice - Agreed",
        "Design review moved to the second gate (agreed)",
        "Ship 4.1 on Monday; Android follows in 4.1.1. Approved by consensus.",
        # a group in the plural, and a settled agreement whatever follows it
        "Trustees agreed to accept the gift and to name the room after the donor.",
        "The panel agreed to recommend the budget to the council for approval in May.",
    ],
)
def test_settled_statements_are_decisions(text):
    assert _decisions(text) == [text]


@pytest.mark.parametrize(
    "text",
    [
        "The request has not been approved yet.",
        "Status: accepted",
        "The draft should be approved by Friday.",
        "The report's risks be noted.",
        "The poster designs were signed off by Mira on Monday.",
        "Tom will print the flyers, and Asha agreed to look at whether the kiosk needs power.",
        "Priya asked that the bakery reopen on Sundays, and Tom agreed.",
        "The editor (quill) agreed to send the second draft to the list.",
        "Thanks to all who came; the notes below reflect what we agreed there.",
        "Do we still need the beta banner? (nobody knows, ask design)",
        "As a result the opening moves from 3 May to 17 May.",
        "Beta moved from 2 June to 9 June: the load test failed twice.",
    ],
)
def test_open_taken_or_consequent_statements_are_no_decisions(text):
    assert _decisions(text) == []


def test_a_resolution_with_its_condition_after_the_label():
    text = "RESOLVED: that the lettings policy be approved subject to the change asked for by KO."
    assert _decisions(text) == [
        "that the lettings policy be approved subject to the change asked for by KO."
    ]


def test_a_group_agreeing_stays_a_decision_after_a_comma():
    text = "After a long debate, Members agreed to move the fair to June."
    assert _decisions(text) == [text]


def test_a_date_moved_with_its_reason_stays_a_decision():
    text = "The launch moved from 2 June to 9 June because of the bank holiday."
    assert _decisions(text) == [text]


def test_a_committee_action_line_records_a_verdict():
    text = (
        "GEOG 120, Maps and Power, as proposed by the department. Action: Approved. "
        "HIST 220, Port Cities. Several members asked for a reading list. "
        "Action: Tabled until the author sends a reading list."
    )
    found = _decisions(text)
    assert "HIST 220, Port Cities. Action: Tabled" not in found
    assert any(d.startswith("GEOG 120") and d.endswith("Action: Approved.") for d in found)
    assert "Action: Tabled until the author sends a reading list." in found


def test_an_arrow_before_a_decision_label():
    text = "-> Decision: keep the old parser for one more cycle."
    assert _decisions(text) == ["keep the old parser for one more cycle."]


def test_a_decision_column_of_verdicts_pairs_with_the_topic_and_knows_its_reference():
    blocks = [
        Block("heading", "Change requests", level=2),
        Block(
            "table",
            header=["Ref", "Change", "Cost", "Decision"],
            rows=[
                ["CH-3", "Paint the hall in light grey", "£200", "Approved"],
                ["CH-4", "A second notice board", "£90", "Deferred to May"],
            ],
        ),
        Block("heading", "Discussion", level=2),
        Block("paragraph", "CH-3 hall painting. Approved after a short discussion."),
    ]
    assert _model_decisions(blocks) == [
        "Paint the hall in light grey: Approved",
        "A second notice board: Deferred to May",
    ]


def test_a_timeline_row_can_record_a_decision():
    blocks = [
        Block("heading", "Timeline", level=2),
        Block(
            "table",
            header=["Time", "Event"],
            rows=[
                ["10:02", "Cache hit rate drops to 40 percent"],
                ["10:20", "Decision to keep the cache warm rather than flush it"],
            ],
        ),
    ]
    assert _model_decisions(blocks) == ["Decision to keep the cache warm rather than flush it"]


def test_minutes_approved_under_welcome_and_apologies():
    blocks = [
        Block("heading", "1. Welcome and apologies", level=2),
        Block("list_item", "Apologies: Ines, Bram"),
        Block("paragraph", "1.1 The notes of the June meeting were approved as written."),
    ]
    assert _model_decisions(blocks) == ["The notes of the June meeting were approved as written."]


@pytest.mark.parametrize(
    "text",
    [
        "If the grant lapses, the youth club will have to close early.",
        "Two partners need 2.1 for their survey; if 2.1 slips again they will freeze on 2.0.",
        "If the spring is wet the planting falls back to the second week of May.",
        "Without the keys from the caretaker the shed cannot be opened.",
        "The survey cannot be sent before the mailing list is cleaned.",
        "Nobody has volunteered to run the cake stall.",
        "No parent group has offered yet.",
        "The landlord has not answered.",
        "The fallback route has not been tested.",
        "Ops could not send the data this week because of their own migration.",
    ],
)
def test_threats_by_mood(text):
    assert _risks(text) == [text]


def test_keeping_the_risk_log_is_a_task_not_a_risk():
    assert _risks("I'll update the risk register with the parking risk today.") == []


def test_discussed_and_agreed_is_minuted_discussion():
    assert heading_role("Discussed / agreed") == "notes"
    assert heading_role("After discussion, the board agreed that") == "decisions"
    text = (
        "## Discussed / agreed\n\n"
        "- If the courier misses the 20th, the December issue stays on the old printer.\n"
    )
    assert len(analyse(text)["risks"]) == 1


def test_a_change_log_with_an_impact_column_is_no_risk_register():
    model = DocumentModel(
        blocks=[
            Block("heading", "Change board outcomes", level=2),
            Block(
                "table",
                header=["Ref", "Title", "Cost / schedule impact", "Decision"],
                rows=[
                    ["CH-7", "Add a second loading bay", "+12k, +3 days", "Approved"],
                    ["CH-8", "Swap the label printers", "+4k", "Rejected"],
                ],
            ),
        ]
    )
    assert analyse("", model=model)["risks"] == []


def test_risk_rows_of_another_shape_under_a_risks_title_row():
    model = DocumentModel(
        blocks=[
            Block("heading", "Key risks noted by the committee", level=2),
            Block(
                "table",
                header=["Ref", "Raised", "Action", "Owner"],
                rows=[["R-4", "The hall lease renewal depends on the parish vote in May", "", ""]],
            ),
        ]
    )
    risks = [r["text"] for r in analyse("", model=model)["risks"]]
    assert risks == ["The hall lease renewal depends on the parish vote in May"]


@pytest.mark.parametrize(
    "text",
    [
        "Members present: Ann Grey (AG), Chief Risk Officer; Bo Lind (BL), Treasurer.",
        "BL presented the top risks from the RAID log.",
        "AG added that the Risk Committee will want to see the log in March.",
    ],
)
def test_the_risk_process_and_its_people_are_no_risks(text):
    assert _risks(text) == []


def test_a_threat_in_an_open_tasks_notes_but_not_its_progress_note():
    model = DocumentModel(
        blocks=[
            Block(
                "table",
                header=["Ref", "Action", "Owner", "Due", "Status", "Notes"],
                rows=[
                    [
                        "A-1",
                        "Check the van insurance",
                        "Treasurer",
                        "05/12/2026",
                        "Open",
                        "If drivers are not covered, the food run on 6 Dec cannot go ahead.",
                    ],
                    ["A-2", "Book the hall", "Secretary", "", "Open", "Not booked yet"],
                ],
            )
        ]
    )
    risks = [r["text"] for r in analyse("", model=model)["risks"]]
    assert risks == ["If drivers are not covered, the food run on 6 Dec cannot go ahead."]


@pytest.mark.parametrize(
    "text",
    [
        "Until the retry fix ships, any queue stall will again drop orders silently.",
        "The two surveyors warned that timber prices may rise by the summer.",
        "A late start could use up most of the remaining allowance.",
    ],
)
def test_exposures_and_warnings(text):
    assert _risks(text) == [text]


def test_a_status_column_of_verdicts_records_decisions():
    model = DocumentModel(
        blocks=[
            Block(
                "table",
                header=["CR No", "Description of change", "Cost", "Status", "Decided by"],
                rows=[
                    ["CR-1", "Widen the north gate", "2,000", "Approved", "Client"],
                    ["CR-2", "Swap the floor finish", "900", "Rejected", "Client"],
                    ["CR-3", "Extra bike racks", "400", "Approved", "Client"],
                ],
            )
        ]
    )
    assert analyse("", model=model)["decisions"] == [
        "Widen the north gate: Approved",
        "Swap the floor finish: Rejected",
        "Extra bike racks: Approved",
    ]


def test_an_approved_yes_no_column_pairs_with_the_measure_not_the_level():
    model = DocumentModel(
        blocks=[
            Block(
                "table",
                header=["Ref", "Measure", "Residual risk", "Measure approved"],
                rows=[
                    ["M1", "Mask faces on every export", "Low", "Yes"],
                    ["M2", "Keep clips for seven days only", "Medium", "Yes"],
                ],
            )
        ]
    )
    assert analyse("", model=model)["decisions"] == [
        "Mask faces on every export: Yes",
        "Keep clips for seven days only: Yes",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "The caterer's contract is still not signed.",
        "Report D2.1 is now three weeks late.",
        "Roof works are two weeks behind programme.",
        "Quotes from the electrician: chased 3 times, nothing back yet.",
        "The opening has slipped once already; a further slip would hit the school holidays.",
    ],
)
def test_something_late_or_still_outstanding_is_a_risk(text):
    assert _risks(text) == [text]


def test_late_when_it_shipped_is_history_not_a_risk():
    assert _risks("Version 2 shipped on 3 May, two days late because of a packaging bug.") == []
