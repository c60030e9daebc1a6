"""Tables, trackers and registers (workers.digest.tables): column roles from the header and
the cells, spreadsheets read as text, several tables stacked in one sheet.

Inline texts only; no database: ``pytest --noconftest tests/test_digest_tables.py``.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from workers.analyse import analyse
from workers.digest.tables import column_roles, split_stacked, table_roles

DATE = dt.date(2026, 5, 4)


def _csv_digest(source: str) -> dict[str, Any]:
    from workers.extract import extract_text

    extracted = extract_text(io.BytesIO(source.encode()), "csv")
    return analyse(extracted.text, model=extracted.model, reference_date=DATE)


def test_a_kind_of_action_is_the_registers_task_column():
    roles = column_roles(["Ref", "Finding", "Remedial action", "Owner", "Target date", "Status"])
    assert roles["text"] == 1
    assert roles["action"] == 2
    assert column_roles(["No.", "Topic", "Resp.", "Target"])["owner"] == 2
    assert column_roles(["Item", "PIC", "Deadline"])["owner"] == 1


def test_a_finding_log_gives_its_remedial_actions_with_owner_due_and_state():
    digest = _csv_digest(
        "Ref,Opened,Finding,Remedial action,Owner,Target date,Status\n"
        "F-1,02/03/2026,Spare keys not logged,Start a key register at reception,Ines,"
        "29/05/2026,Open\n"
        "F-2,09/03/2026,Fire door wedged open,Fit a magnetic door holder,Bram,15/04/2026,Closed\n"
    )
    assert [(a["text"], a["owners"], a["due_date"]) for a in digest["action_items"]] == [
        ("Start a key register at reception", ["Ines"], "2026-05-29")
    ]
    assert [a["text"] for a in digest["done_actions"]] == ["Fit a magnetic door holder"]


def test_roles_from_the_cells_when_the_header_does_not_say():
    header = ["Code", "Job", "Helpers", "Progress %", "State", "Due"]
    rows = [
        ["k1", "Kitchen shelves", "@ola; @tim", "40", "in progress", "12/05"],
        ["k2", "Garden gate", "@mo", "100", "done", ""],
        ["k3", "Shed roof", "@tim", "0", "not started", "30/05"],
    ]
    roles = table_roles(header, rows)
    assert roles["status"] == 4
    assert roles["due"] == 5
    assert roles["owner"] == 2  # a column of @handles
    assert roles["text"] == 1  # the first column of words, not the short code


def test_a_tracker_without_a_task_column_gives_one_item_per_open_row():
    digest = _csv_digest(
        "Code,Job,Helpers,Progress %,State,Due\n"
        "k1,Kitchen shelves,@ola; @tim,40,in progress,12/05/2026\n"
        "k2,Garden gate,@mo,100,done,\n"
        "k3,Shed roof,@tim,0,not started,30/05/2026\n"
    )
    assert [(a["text"], a["due_date"]) for a in digest["action_items"]] == [
        ("Kitchen shelves", "2026-05-12"),
        ("Shed roof", "2026-05-30"),
    ]
    assert digest["action_items"][0]["owners"][:1] == ["@ola"]
    assert [a["text"] for a in digest["done_actions"]] == ["Garden gate"]


def test_a_sheet_with_a_second_table_and_a_note_is_cut_into_parts():
    parts = split_stacked(
        ["Entry", "Region", "Points", "Verdict", "Prize", "Notes"],
        [
            ["E1", "North", "8", "Winner", "300", ""],
            ["Judges agreed to publish every score online.", "", "", "", "", ""],
            ["Next step", "Who", "By", "Status", "", ""],
            ["Post the scores online", "Rosa", "12/05/2026", "open", "", ""],
        ],
    )
    assert parts == [
        (
            "table",
            (
                ["Entry", "Region", "Points", "Verdict", "Prize", "Notes"],
                [["E1", "North", "8", "Winner", "300", ""]],
            ),
        ),
        ("para", "Judges agreed to publish every score online."),
        (
            "table",
            (
                ["Next step", "Who", "By", "Status"],
                [["Post the scores online", "Rosa", "12/05/2026", "open"]],
            ),
        ),
    ]


def test_a_stacked_follow_up_table_gives_its_actions():
    digest = _csv_digest(
        "Entry,Region,Points,Verdict,Prize,Notes\n"
        "E1,North,8,Winner,300,\n"
        "E2,South,5,Runner-up,100,\n"
        ",,,,,\n"
        "Next step,Who,By,Status,,\n"
        "Post the scores online,Rosa,12/05/2026,open,,\n"
        "Book the prize venue,Omar,20/05/2026,done,,\n"
    )
    assert [(a["text"], a["owners"], a["due_date"]) for a in digest["action_items"]] == [
        ("Post the scores online", ["Rosa"], "2026-05-12")
    ]
    assert [a["text"] for a in digest["done_actions"]] == ["Book the prize venue"]


def test_a_spreadsheet_read_as_text_keeps_its_table():
    # Quoted title lines of one cell make the file fail the CSV sniffing: it arrives as text.
    text = (
        '"Allotment society - repairs log"\n'
        '"Log as at 04/05/2026"\n'
        '""\n'
        "No,Logged,Problem,Corrective action,Owner,Due,Status\n"
        "R1,01/04/2026,Tap leaking,Replace the tap washer,Gus,15/05/2026,Open\n"
        "R2,03/04/2026,Gate hinge loose,Tighten the hinge bolts,Vera,20/04/2026,Closed\n"
        '""\n'
        '"Agreed: repairs over 50 pounds go to the committee."\n'
    )
    digest = analyse(text, reference_date=DATE, filename="repairs.csv")
    assert [(a["text"], a["owners"], a["due_date"]) for a in digest["action_items"]] == [
        ("Replace the tap washer", ["Gus"], "2026-05-15")
    ]
    assert [a["text"] for a in digest["done_actions"]] == ["Tighten the hinge bolts"]
    assert not any('"' in d for d in digest["decisions"])


def test_a_trackers_open_row_notes_give_its_risks_and_done_rows_none():
    digest = _csv_digest(
        "Ref,Issue,Owner,Action,Due,Status,Latest update\n"
        "P1,Pump seal leaking,Ines,Order a new seal,29/05/2026,Open,"
        "Supplier cannot deliver until June - may miss the commissioning date\n"
        "P2,Valve sticking,Bram,Service the valve,15/04/2026,Complete,"
        "Serviced; the old valve may miss nothing now\n"
        "P3,Gauge unreadable,Bram,Replace the gauge,15/05/2026,Cancelled - duplicate,\n"
    )
    risks = [r["text"] for r in digest["risks"]]
    assert "Supplier cannot deliver until June - may miss the commissioning date" in risks
    assert not any("old valve" in r for r in risks)
    assert "Valve sticking" not in risks  # a completed row is no open risk
    assert "Gauge unreadable" not in risks  # nor a cancelled one
    assert "Pump seal leaking" in risks


def test_prose_with_commas_is_not_a_spreadsheet():
    from workers.digest.tables import delimiter_of

    prose = [
        "Hi Tom,",
        "We met on Monday, as planned, and went through the plan.",
        "Rosa, Omar and I agreed, after some debate, to keep the date.",
        "The hall, the caterer, and the band are booked.",
    ]
    assert delimiter_of(prose) is None
    rows = ["Step,Who,Due", "Book hall,Rosa,12/05", "Order food,Omar,14/05", "Hire band,Omar,"]
    assert delimiter_of(rows) == ","


def test_one_cell_sentences_under_a_register_are_notes_not_titles():
    digest = _csv_digest(
        "Ref,Problem,Corrective action,Owner,Target date,Status\n"
        "R1,Tap leaking,Replace the tap washer,Gus,15/05/2026,Open\n"
        "R2,Gate loose,Tighten the hinge bolts,Vera,20/05/2026,Open\n"
        ",,,,,\n"
        "Committee review 04/05/2026,,,,,\n"
        "Agreed: repairs over 50 pounds go to the full committee.,,,,,\n"
        "Vera to price a new gate by Fri 08/05,,,,,\n"
    )
    assert digest["decisions"] == ["repairs over 50 pounds go to the full committee."]
    assert [
        (a["owners"], a["due_date"])
        for a in digest["action_items"]
        if "price a new gate" in a["text"]
    ] == [(["Vera"], "2026-05-08")]


def test_a_register_row_whose_status_is_a_verdict_is_a_decision():
    digest = _csv_digest(
        "No,Item,Position,Status\n"
        "1,Opening hours,Seven days a week from June,Agreed\n"
        "2,Deposit,Landlord wants three months; we offer one,Open - landlord to revert\n"
        "3,Signage,Tenant's own sign on the facade,Rejected\n"
    )
    assert digest["decisions"] == ["Opening hours: Agreed", "Signage: Rejected"]


def test_a_column_of_references_that_look_like_dates_is_not_the_due_date():
    header = ["AP", "Action", "State"]
    rows = [
        ["03/02-01", "Fix the gate", "in progress"],
        ["03/02-02", "Paint the shed", "done"],
    ]
    assert "due" not in table_roles(header, rows)


def test_a_column_of_initials_is_the_owner_and_accepted_is_no_verdict():
    header = ["No", "Item", "Crew", "Due", "Status"]
    rows = [
        ["4.1", "Send the drawings", "KM", "02/06", "Open"],
        ["4.2", "Book the crane", "RT / KM", "05/06", "Accepted"],
    ]
    roles = table_roles(header, rows)
    assert (roles["owner"], roles["due"], roles["status"]) == (2, 3, 4)
    from workers.digest.tables import status_verdict

    assert status_verdict("Accepted") is None  # a lifecycle state, not a decision
    assert status_verdict("Agreed") == "Agreed"
