"""Risk section roles and risks stated by their consequence (tuner digest6b)."""

from __future__ import annotations

import pytest

from workers.analyse import analyse
from workers.digest.sections import heading_role


def _risks(text: str) -> list[str]:
    return [r["text"] for r in analyse(text, title="notes")["risks"]]


@pytest.mark.parametrize(
    ("heading", "role"),
    [
        ("Minutes of the Finance and Risk Committee", "notes"),
        ("Risk committee", None),
        ("Things keeping me worried", "risks"),
        ("3. Findings", "risks"),
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
