"""Risk section roles and risks stated by their consequence (tuner digest6b)."""

from __future__ import annotations

import pytest

from workers.analyse import analyse
from workers.digest.blocks import Block
from workers.digest.risks import is_risk_sentence
from workers.digest.sections import heading_role, split_sections


def _risks(text: str) -> list[str]:
    return [r["text"] for r in analyse(text, title="notes")["risks"]]


@pytest.mark.parametrize(
    ("heading", "role"),
    [
        ("Minutes of the Finance and Risk Committee", "notes"),
        ("Risk committee", None),
        ("Things keeping me worried", "risks"),
        ("NC-04 - Major nonconformity - stock records", "risks"),
        ("Risks", "risks"),
    ],
)
def test_risk_headings_and_committee_names(heading, role):
    assert heading_role(heading) == role


def test_a_committee_title_does_not_make_its_minutes_a_risk_list():
    text = (
        "# Minutes of the Audit and Risk Committee\n\n"
        "The Chair opened the meeting at ten and welcomed the two new members.\n\n"
        "Marta Lind presented the treasury report for the quarter.\n"
    )
    assert _risks(text) == []


@pytest.mark.parametrize(
    "sentence",
    [
        "Moving to the new charting library might break the export screen.",
        "The cheaper tier may cannibalise our yearly subscriptions.",
        "If the parts are not here by Friday, the pilot must be postponed.",
        "At this rate the travel budget will be exhausted by March.",
        "The revised date leaves only one week of buffer before launch.",
        "The kiosk lease is still with the council's lawyers, no feedback since May.",
        "Valve shipment delayed by customs; new arrival date unknown.",
        "Ingrid flagged that the trailer is too wide for the gate.",
        "Board concerned the reserve is at 12%.",
        "Cooling headroom is too small for the summer peak.",
        "If Omar's leave starts early we have nobody on payroll.",
        "The cheaper tier will cannibalise our yearly subscriptions.",
        "Only 3 volunteers can open the hall on Sundays.",
        "Petra is our only tester and she leaves in May.",
    ],
)
def test_risks_told_by_their_consequence(sentence):
    assert is_risk_sentence(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "Chase the landlord again, escalate if there is no answer by Friday.",
        "Uploads were delayed by up to two hours during the outage.",
        "Dark mode for the settings page -- no owner yet.",
        "Release dates have slipped before and nobody minded.",
    ],
)
def test_history_and_unowned_ideas_are_no_risks(sentence):
    assert not is_risk_sentence(sentence)


def test_ai_alone_is_an_action_heading_but_not_inside_a_topic():
    assert heading_role("AI") == "actions"
    assert heading_role("A.I.:") == "actions"
    assert heading_role("AI assistants for support") is None


def test_a_no_report_heading_stays_inside_its_section():
    blocks = [
        Block("heading", "Risks", level=2),
        Block("list_item", "Sensor batch B may be late from the supplier"),
        Block("heading", "No report", level=3),
        Block("list_item", "The spare cooling unit is one of a kind and has no backup"),
    ]
    sections = split_sections(blocks)
    assert [(s.heading, s.role) for s in sections] == [("Risks", "risks")]
    assert [b.kind for b in sections[0].blocks] == ["list_item", "paragraph", "list_item"]


def test_a_heading_that_states_a_risk_is_a_risk():
    text = (
        "# Concern: two of the five pumps have no spare parts on site\n\n"
        "Stock list reviewed with the stores team.\n\n"
        "# Crane hire not confirmed - the lift could slip by three weeks\n\n"
        "Mira is calling the hire firm.\n\n"
        "# Risks for the next quarter and how we assess them\n\n"
        "We score each one by likelihood and impact.\n"
    )
    found = _risks(text)
    assert "two of the five pumps have no spare parts on site" in found
    assert "Crane hire not confirmed - the lift could slip by three weeks" in found
    assert not any("next quarter" in r for r in found)


def test_a_change_log_rating_its_changes_is_no_risk_register():
    text = (
        "## Changes for approval\n\n"
        "| Change | Description / risk | Outcome |\n"
        "|---|---|---|\n"
        "| CH-71 | Ledger service patch to 3.2. Risk: High. Window Sat 02:00. | Approved |\n"
        "| CH-72 | Kiosk font update. Risk: Low. | Approved |\n"
    )
    assert _risks(text) == []
    assert not is_risk_sentence("Ledger service patch to 3.2. Risk: High. Window Sat 02:00.")
    assert is_risk_sentence("Risk: the ledger patch may not finish inside the window.")


def test_progress_against_agreed_targets_is_a_status_heading():
    assert heading_role("2. Progress against agreed outcomes") == "notes"
    assert heading_role("Agreed outcomes") == "decisions"


def test_a_layout_table_minute_saying_resolved_still_states_its_risk():
    text = (
        "| Item | Minute |\n"
        "|---|---|\n"
        "| 4 | RESOLVED that the report be noted. Members raised concern that repair"
        " times would not meet the new legal deadline from October. |\n"
        "| 5 | Kitchen refit | Done |\n"
    )
    found = _risks(text)
    assert any("repair times would not meet" in r for r in found)
