"""Dates: the document's own date, relative deadlines, events, superseded dates.

Inline texts only; no database: ``pytest --noconftest tests/test_digest_dates.py``.
"""

from __future__ import annotations

import datetime as dt

import pytest

from workers.analyse import analyse
from workers.digest.blocks import Block, DocumentModel
from workers.digest.dates import deadline, document_date

WEDNESDAY = dt.date(2026, 3, 4)


@pytest.mark.parametrize(
    ("phrase", "due"),
    [
        ("by Friday", "2026-03-06"),
        ("by next Wednesday", "2026-03-11"),
        ("by end of next week", "2026-03-13"),
        ("by the end of the week", "2026-03-06"),
        ("by EOM", "2026-03-31"),
        ("by end of March", "2026-03-31"),
        ("in two weeks", "2026-03-18"),
        ("within 3 days", "2026-03-07"),
        ("by 16 December", "2026-12-16"),
        ("by 16 Dec 2026", "2026-12-16"),
        ("before 2026-04-01", "2026-04-01"),
        ("due tomorrow", "2026-03-05"),
        ("by next week", "2026-03-13"),
        ("by end of Q2", "2026-06-30"),
        ("within the week", "2026-03-06"),
        ("by June 2027", "2027-06-30"),
    ],
)
def test_relative_deadlines_resolve_against_the_reference(phrase, due):
    text, date = deadline(f"Ana to send the report {phrase}", WEDNESDAY)
    assert date is not None and date.isoformat() == due, text


@pytest.mark.parametrize(
    "sentence",
    [
        "Ana to present the roadmap at the summit on 1 October",
        "Ana to demo the prototype at the community call on Thursday",
        "Ana to prepare slides for the 12 May meeting",
    ],
)
def test_an_event_date_is_not_a_deadline(sentence):
    assert deadline(sentence, WEDNESDAY) == (None, None)


def test_a_deadline_after_on_is_a_deadline():
    assert deadline("Ana to send the draft on Friday", WEDNESDAY)[1] == dt.date(2026, 3, 6)


@pytest.mark.parametrize(
    ("blocks", "kwargs", "expected"),
    [
        ([Block("paragraph", "Date: 4 March 2026")], {}, WEDNESDAY),
        ([Block("paragraph", "**Meeting date** - 2026-03-04")], {}, WEDNESDAY),
        ([Block("heading", "TSC meeting 2026-03-04", 1)], {}, WEDNESDAY),
        (
            [Block("heading", "Minutes", 1), Block("paragraph", "Wednesday 4 March 2026")],
            {},
            WEDNESDAY,
        ),
        ([Block("paragraph", "Notes")], {"filename": "tsc-2026-03-04.md"}, WEDNESDAY),
        ([Block("paragraph", "Notes")], {"title": "Sync 20260304"}, WEDNESDAY),
        ([Block("paragraph", "Notes")], {"model_date": WEDNESDAY}, WEDNESDAY),
        (
            [Block("paragraph", "Date: 5 March 2026")],
            {"model_date": dt.date(2026, 12, 1)},
            dt.date(2026, 3, 5),
        ),
        ([Block("paragraph", "Notes")], {}, None),
    ],
)
def test_the_document_date(blocks, kwargs, expected):
    assert document_date(blocks, **kwargs) == expected


def test_relative_due_dates_use_the_document_date_line():
    text = "Date: 4 March 2026\n\n## Actions\n\n- Ana to send the report by Friday\n"
    assert analyse(text)["action_items"][0]["due_date"] == "2026-03-06"
    assert analyse(text)["document_date"] == "2026-03-04"


def test_relative_due_dates_use_the_filename_date():
    text = "## Actions\n\n- Ana to send the report by next Wednesday\n"
    digest = analyse(text, filename="wg-minutes-2026-03-04.md")
    assert digest["action_items"][0]["due_date"] == "2026-03-11"


def test_relative_due_dates_use_the_model_date():
    model = DocumentModel(
        blocks=[Block("list_item", "Ana to send the report in two weeks")], date=WEDNESDAY
    )
    digest = analyse("", model=model)
    assert digest["action_items"][0]["due_date"] == "2026-03-18"


def test_a_superseded_date_is_marked_and_is_not_a_key_date():
    text = "Date: 4 March 2026\n\nGo-live moved from 3 March to 17 March 2026.\n"
    digest = analyse(text)
    assert [d["date"] for d in digest["superseded_dates"]] == ["2026-03-03"]
    assert digest["superseded_dates"][0]["superseded"] is True
    assert "2026-03-03" not in {d["date"] for d in digest["key_dates"]}
    assert "2026-03-17" in {d["date"] for d in digest["key_dates"]}


@pytest.mark.parametrize(
    "line",
    [
        "Cut-over weekend: 26 September (was 12 September)",
        "Launch slipped from 12 September to 26 September",
        "Release postponed from 12 September to 26 September.",
    ],
)
def test_superseded_wordings(line):
    digest = analyse(f"Date: 4 March 2026\n\n{line}\n")
    assert {d["date"] for d in digest["superseded_dates"]} == {"2026-09-12"}
    assert "2026-09-26" in {d["date"] for d in digest["key_dates"]}


@pytest.mark.parametrize(
    ("sentence", "due"),
    [
        (
            "Ana to turn the notes into a draft by the next steering meeting on 6 March",
            "2026-03-06",
        ),
        ("Yusuf will pull the report and share it next Tuesday", "2026-03-10"),
        ("Kowalczyk to send the template this week", "2026-03-06"),
    ],
)
def test_more_deadline_wordings(sentence, due):
    date = deadline(sentence, WEDNESDAY)[1]
    assert date is not None and date.isoformat() == due


def test_a_key_value_table_gives_the_document_date():
    blocks = [Block("table", header=["Item", "Detail"], rows=[["Charter date", "12 January 2026"]])]
    assert document_date(blocks) == dt.date(2026, 1, 12)


@pytest.mark.parametrize(
    ("phrase", "due"),
    [
        ("by Q3", "2026-09-30"),
        ("by Q1 2027", "2027-03-31"),
        ("by the 15th", "2026-03-15"),
        ("by the 2nd", "2026-04-02"),
        ("by mid-April", "2026-04-15"),
    ],
)
def test_quarters_ordinal_days_and_mid_month_resolve(phrase, due):
    date = deadline(f"Ana to send the report {phrase}", WEDNESDAY)[1]
    assert date is not None and date.isoformat() == due


def test_before_the_next_meeting_is_its_date_when_the_document_states_it():
    text = "Next meeting: 18 March 2026\n\nJo to circulate the minutes before the next meeting."
    action = analyse(text, reference_date=WEDNESDAY)["action_items"][0]
    assert action["due_date"] == "2026-03-18"
    assert "next meeting" in action["due_text"]


def test_before_the_next_meeting_without_its_date_has_no_due_date():
    text = "Jo to circulate the minutes before the next meeting."
    assert analyse(text, reference_date=WEDNESDAY)["action_items"][0]["due_date"] is None


def test_a_date_anywhere_near_the_top_is_the_last_resort():
    blocks = [
        Block("heading", "Planning outcomes", 1),
        Block("paragraph", "Planning event held 6-7 July 2026 (this page last edited by Hana)."),
    ]
    assert document_date(blocks) == dt.date(2026, 7, 7)


def test_a_date_in_the_file_name_beats_the_files_metadata():
    blocks = [Block("paragraph", "Notes")]
    found = document_date(blocks, model_date=dt.date(2026, 12, 1), filename="tc-2026-03-11.pdf")
    assert found == dt.date(2026, 3, 11)


# --- Conventions added for documents the tuning set did not show (issue 10, digest3) ---------


@pytest.mark.parametrize(
    ("phrase", "due"),
    [
        # Retro and stand-up boards abbreviate weekdays: "(Wed)", "by Thurs.", "by fri".
        ("(Wed)", "2026-03-11"),
        ("by Thurs.", "2026-03-05"),
        ("by fri", "2026-03-06"),
        # UK plans: "w/c 16 Mar" / "week commencing 16 March" is due by that week's Friday.
        ("w/c 16 Mar", "2026-03-20"),
        ("week commencing 16 March", "2026-03-20"),
        # A day and month without a year after a deadline word ("by 9/4"), day first here.
        ("by 20/3", "2026-03-20"),
        # An ordinal without "the": "by 14th" is this month's 14th, or next month's.
        ("by 14th", "2026-03-14"),
        # Half-years: "end of H2" is 31 December.
        ("by end of H2", "2026-12-31"),
        # Incident follow-ups count hours; some teams write dates year/month/day.
        ("within 48 hours", "2026-03-06"),
        ("by 2026/03/20", "2026-03-20"),
    ],
)
def test_more_deadline_shapes_resolve_against_the_reference(phrase, due):
    text, date = deadline(f"Ana to send the report {phrase}", WEDNESDAY)
    assert date is not None and date.isoformat() == due, text


@pytest.mark.parametrize(
    "text",
    [
        "3/4 of the team voted for it",  # a fraction, no deadline word
        "the wed group meets later",  # a lower-case word, not a weekday
        "hire a 3rd party auditor",  # an ordinal before a word
        "ship version 2026.3.1 to users",  # a version number
        "confirm weekend cover for 12-13 March",  # a range of days: when, not by when
    ],
)
def test_fractions_words_and_ordinals_are_no_dates(text):
    assert deadline(text, WEDNESDAY) == (None, None)


def test_month_first_documents_read_numeric_dates_month_first():
    from workers.digest.dates import day_first

    us = "Weaver community meeting: Thursday, Aug 27, 2026\n- Lena to send the survey by 9/4"
    assert day_first(us) is False
    assert day_first("Review of 27 August 2026. Sign-off by 9/4.") is True
    assert day_first("Dates: 25/11/2026 and 4/12/2026") is True  # 25 cannot be a month
    digest = analyse(us + "\n")
    assert digest["action_items"][0]["due_date"] == "2026-09-04"


def test_a_written_date_beats_the_file_s_metadata_but_not_the_mail_date_header():
    blocks = [
        Block("heading", "Project charter", 1),
        Block(
            "table", header=["Item", "Detail"], rows=[["Version", "1.2, approved 12 January 2026"]]
        ),
    ]
    saved = dt.date(2026, 12, 1)
    assert document_date(blocks, model_date=saved) == dt.date(2026, 1, 12)
    assert document_date(blocks, model_date=saved, model_date_sent=True) == saved
    # A page's metadata table: "Created | Status" over its values.
    meta = [Block("table", header=["Created", "Status"], rows=[["2026-02-03", "Accepted"]])]
    assert document_date(meta, model_date=saved) == dt.date(2026, 2, 3)


def test_a_due_cell_with_a_month_and_year_or_a_split_iso_date():
    # A plan's due column: "Nov 2026" ends with its month; a PDF may split "2026-1 0-23".
    text = (
        "# Follow-ups\n\n| # | Action | Owner | Due |\n|---|---|---|---|\n"
        "| 1 | Rewire the lab bench | Ola | Nov 2026 (was Sep 2026) |\n"
        "| 2 | Order the spare fans | Ben | 2026-1 0-23 |\n"
    )
    digest = analyse(text, reference_date=dt.date(2026, 10, 1))
    assert [a["due_date"] for a in digest["action_items"]] == ["2026-11-30", "2026-10-23"]


def test_tracker_export_dates_in_a_due_column():
    # Jira writes "04/Dec/26"; Trello an ISO timestamp "2026-12-04T17:00:00.000Z".
    text = (
        "Summary | Assignee | Due date\n"
        "Add retries to the mailer | Ana Costa | 04/Dec/26\n"
        "Rotate the signing key | Ben Ode | 2026-12-09T17:00:00.000Z\n"
    )
    digest = analyse(text, reference_date=dt.date(2026, 11, 30), filename="export.csv")
    assert [(a["owners"], a["due_date"]) for a in digest["action_items"]] == [
        (["Ana Costa"], "2026-12-04"),
        (["Ben Ode"], "2026-12-09"),
    ]


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("Kim to ring the printers w/c 16/3", "2026-03-20"),  # day first; the week's Friday
        ("swap the rota notes before w/c 23rd", "2026-03-23"),  # before the week starts
        ("stage walk-through Mon 9th", "2026-03-09"),  # a weekday with its day of the month
        ("pilot build for the trial on 27-Mar.", "2026-03-27"),
        ("return the signed form, due Apr-02", "2026-04-02"),
        ("mail me the torque sheet until 18.03.", "2026-03-18"),
    ],
)
def test_week_commencing_numbers_weekday_ordinals_and_tracker_day_months(text, due):
    assert str(deadline(text, WEDNESDAY)[1]) == due


@pytest.mark.parametrize("text", ["raise the limit from 2.5 to 3.5.", "pin version 1.2.3"])
def test_short_decimals_are_no_dotted_dates(text):
    assert deadline(text, WEDNESDAY) == (None, None)


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("Lou to answer the query within 5 working days", "2026-03-11"),
        ("collect the ballots within 10 days of this meeting", "2026-03-14"),
        ("the budget note - deadline for submissions is Friday 13 March", "2026-03-13"),
        ("the orchard survey is due Monday", "2026-03-09"),
        ("Ravi moved the kiln firing to Thu 12/03 so it misses the fair", "2026-03-12"),
        ("draft the seating plan, ready for review on 20 March", "2026-03-20"),
        ("tidy the backlog before sprint planning on Monday", "2026-03-09"),
        ("order the lanterns before Christmas", "2026-12-24"),
        ("ship the parts by KW 14", "2026-04-03"),
        ("export 05/Mar/2 6 | open", None),
    ],
)
def test_working_days_due_phrases_moved_dates_and_event_on_dates(text, due):
    found = deadline(text, WEDNESDAY)[1]
    assert (str(found) if found else None) == due


def test_within_a_span_of_an_undated_event_is_no_date():
    assert deadline("send the notes within two weeks of the survey closing", WEDNESDAY) == (
        None,
        None,
    )


def test_a_pdf_s_split_year_in_a_tracker_date():
    from workers.digest.dates import find_dates

    assert [h.date for h in find_dates("05/Mar/2 6", WEDNESDAY)] == [dt.date(2026, 3, 5)]


def test_christmas_as_a_season_is_no_deadline():
    assert deadline("plan the rota for the Christmas closure", WEDNESDAY) == (None, None)


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("Noor to send the float count by 4pm", "2026-03-04"),
        ("price the scaffold, answer by noon", "2026-03-04"),
        ("tidy the loading bay, inspect Thu", "2026-03-05"),
        ("Ivo to return the keys Friday", "2026-03-06"),
        ("the choir rehearses every Friday", None),
        ("move the stock count to the Monday instead of the Thursday", None),
    ],
)
def test_clock_deadlines_are_today_and_a_closing_weekday_is_the_day(text, due):
    found = deadline(text, WEDNESDAY)[1]
    assert (str(found) if found else None) == due
