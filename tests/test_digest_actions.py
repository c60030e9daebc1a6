"""Sections with roles and action items (workers.digest.sections / actions / owners).

Inline texts only; no database: ``pytest --noconftest tests/test_digest_actions.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from workers.analyse import analyse
from workers.digest.blocks import Block, DocumentModel
from workers.digest.sections import heading_role, split_sections

DATE = dt.date(2026, 3, 4)  # a Wednesday


def _actions(text: str, **kwargs: Any) -> list[dict[str, Any]]:
    return analyse(text, reference_date=kwargs.pop("reference_date", DATE), **kwargs)[
        "action_items"
    ]


def _one(text: str, **kwargs: Any) -> dict[str, Any]:
    actions = _actions(text, **kwargs)
    assert len(actions) == 1, actions
    return actions[0]


@pytest.mark.parametrize(
    ("heading", "role"),
    [
        ("Action items", "actions"),
        ("Action Items, by person", "actions"),
        ("Next steps", "actions"),
        ("Next sprint", "actions"),
        ("Decisions", "decisions"),
        ("Decision Outcome", "decisions"),
        ("Risks and issues", "risks"),
        ("Blockers", "risks"),
        ("People Present (lines said)", "attendees"),
        ("Agenda", "agenda"),
        ("Feedback", "feedback"),
        ("What went well", "feedback"),
        ("Grouped topics", "feedback"),
        ("Consequences", "consequences"),
        ("Drawbacks", "consequences"),
        ("Context and Problem Statement", "background"),
        ("Open questions", "questions"),
        ("3. Notes", "notes"),
        ("Infrastructure", None),
    ],
)
def test_heading_roles(heading, role):
    assert heading_role(heading) == role


def test_an_unnamed_sub_heading_inherits_its_parents_role():
    blocks = [
        Block("heading", "Action items", 2),
        Block("heading", "Infra", 3),
        Block("list_item", "Set up the runner"),
        Block("heading", "Risks", 2),
    ]
    sections = split_sections(blocks)
    assert [(s.heading, s.role) for s in sections] == [
        ("Action items", "actions"),
        ("Infra", "actions"),
        ("Risks", "risks"),
    ]


@pytest.mark.parametrize(
    "heading", ["Feedback", "Consequences", "Drawbacks", "Grouped topics", "Next sprint"]
)
def test_a_heading_is_never_a_person_risk_or_action(heading):
    text = f"# Retro\n\n## {heading}\n\n- The pipeline was slow this sprint\n"
    digest = analyse(text)
    assert heading not in digest["people"]
    assert all(heading not in r["text"] for r in digest["risks"])
    assert all(heading not in a["text"] for a in digest["action_items"])
    assert all(heading not in (a["owner"] or "") for a in digest["action_items"])


@pytest.mark.parametrize(
    ("line", "owners", "task"),
    [
        ("Maria to send the revised budget.", ["Maria"], "revised budget"),
        ("Tom Brennan will book the cutover weekend.", ["Tom Brennan"], "cutover weekend"),
        ("@jlee to review the pull request.", ["@jlee"], "pull request"),
        ("Maria and @sam to draft the release notes.", ["Maria", "@sam"], "release notes"),
        ("The DB team to rotate the credentials.", ["The DB team"], "rotate"),
        ("ACTION: Priya to update the wiki page", ["Priya"], "wiki page"),
        ("AI: Chen Wei - update the RAID log", ["Chen Wei"], "RAID log"),
        ("**[Action Item]** Omar to file the ticket", ["Omar"], "ticket"),
        ("Action (Lena): confirm the venue", ["Lena"], "venue"),
        ("Assigned to Priya to chase the vendor contract.", ["Priya"], "vendor contract"),
        ("Check the backup restore times (todo)", [], "backup restore"),
        ("TODO: book the training room", [], "training room"),
        ("- [ ] Review the vendor contract (Owner: Lena Fischer)", ["Lena Fischer"], "vendor"),
    ],
)
def test_action_markers_and_owners(line, owners, task):
    action = _one(line)
    assert action["owners"] == owners
    assert task in action["text"]
    assert action["done"] is False


@pytest.mark.parametrize(
    ("text", "owner", "task"),
    [
        ("Priya: I will ping you about the budget.", "Priya", "ping you"),
        ("Sam Okoro: will send an email to the vendor.", "Sam Okoro", "send an email"),
        ("JL: will ask around for a volunteer.", "JL", "ask around"),
        ("**Maria**: I'll draft the proposal.", "Maria", "draft the proposal"),
    ],
)
def test_spoken_commitments_are_actions_of_the_speaker(text, owner, task):
    action = _one(text)
    assert action["owners"] == [owner]
    assert task in action["text"]


def test_a_speaker_musing_is_not_an_action():
    assert _actions("Priya: I think the numbers look fine.") == []


def test_lower_case_nicks_own_meeting_bot_actions_and_repeats_count_once():
    """Meeting-bot minutes list each action up to three times; the chair is not its owner."""
    text = (
        "Meeting summary\n---------------\n"
        "* Release planning  (nirik, 17:00:16)\n"
        "  * ACTION: mkumar to draft the release notes  (nirik, 17:05:12)\n"
        "  * ACTION: zbyszek and jlee to test the installer  (nirik, 17:06:40)\n\n"
        "Action Items\n------------\n"
        "* mkumar to draft the release notes\n"
        "* zbyszek and jlee to test the installer\n\n"
        "Action Items, by person\n-----------------------\n"
        "* mkumar\n  * mkumar to draft the release notes\n"
        "* **UNASSIGNED**\n  * (none)\n\n"
        "People Present (lines said)\n---------------------------\n"
        "* nirik (116)\n* mkumar (40)\n"
    )
    actions = _actions(text)
    assert [(a["owners"], a["text"]) for a in actions] == [
        (["mkumar"], "mkumar to draft the release notes"),
        (["zbyszek", "jlee"], "zbyszek and jlee to test the installer"),
    ]


def test_items_under_a_person_in_an_actions_section_belong_to_that_person():
    text = "## Action items\n\n- Hamid\n  - prepare the demo for the next call\n"
    assert _one(text)["owners"] == ["Hamid"]


@pytest.mark.parametrize(
    "header",
    [
        "What | Who | When",
        "Item | Assignee | Deadline",
        "Task | Owner | Due",
        "Next step | Responsible | Date",
    ],
)
def test_action_tables_with_any_reasonable_header(header):
    text = f"{header}\nPublish the schedule | Ana Silva | 2026-03-20\nBook rooms | bob | Friday\n"
    actions = _actions(text)
    assert [(a["text"], a["owners"], a["due_date"]) for a in actions] == [
        ("Publish the schedule", ["Ana Silva"], "2026-03-20"),
        ("Book rooms", ["bob"], "2026-03-06"),
    ]


def test_action_table_status_done_is_not_open():
    text = "Task | Owner | Status\nShip it | Ana | Done\nTest it | Bob | Open\n"
    digest = analyse(text)
    assert [a["text"] for a in digest["action_items"]] == ["Test it"]
    assert [(a["text"], a["done"]) for a in digest["done_actions"]] == [("Ship it", True)]


@pytest.mark.parametrize(
    "line",
    [
        "- [x] Maria to send the minutes",
        "- Maria to send the minutes (done)",
        "- DONE: Maria to send the minutes",
        "- Maria to send the minutes - completed",
    ],
)
def test_done_items_are_kept_marked_done_and_are_not_open(line):
    digest = analyse(f"## Action items\n\n{line}\n- Tom to book the room\n")
    assert [a["text"] for a in digest["action_items"]] == ["Tom to book the room"]
    assert len(digest["done_actions"]) == 1
    assert digest["done_actions"][0]["done"] is True
    assert "send the minutes" in digest["done_actions"][0]["text"]


@pytest.mark.parametrize(
    "text",
    [
        "## Action items\n\n- Improvements to issues?\n",
        "- [ ] Should we move the meeting?\n",
        "Maria to check whether the venue is free?\n",
    ],
)
def test_questions_are_not_actions(text):
    assert _actions(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "## Agenda\n\n- Maria to present the roadmap\n",
        "## Consequences\n\n- Teams will need to migrate their configs.\n",
        "The system will support single sign-on for all users.",
        "We will review progress at the next meeting.",
    ],
)
def test_not_actions(text):
    assert _actions(text) == []


def test_owner_and_due_lines_attach_to_the_task_above():
    text = "## Actions\n\n- Update the project plan\n  Owner: Tom Brennan\n  Due: 20 March 2026\n"
    action = _one(text)
    assert action["owners"] == ["Tom Brennan"]
    assert action["due_date"] == "2026-03-20"


def test_a_registers_action_column_gives_tasks_with_owner_and_target_date():
    """A RAID log export: title rows above the header, a type column, an action column."""
    model = DocumentModel(
        blocks=[
            Block(
                "table",
                header=["Portal RAID log", "", "", "", "", ""],
                rows=[
                    ["Exported 2026-05-18", "", "", "", "", ""],
                    ["Type", "Description", "Action", "Action owner", "Target date", "Status"],
                    [
                        "Risk",
                        "Drafts may not migrate",
                        "Run a trial migration",
                        "Ama",
                        "2026-05-29",
                        "Open",
                    ],
                    [
                        "Issue",
                        "Staging was down",
                        "Ask for a report",
                        "Leo",
                        "2026-05-11",
                        "Closed",
                    ],
                    ["Assumption", "Budget holds", "", "", "", "Open"],
                ],
            )
        ]
    )
    digest = analyse("", model=model)
    assert [(a["text"], a["owners"], a["due_date"]) for a in digest["action_items"]] == [
        ("Run a trial migration", ["Ama"], "2026-05-29")
    ]
    assert [a["text"] for a in digest["done_actions"]] == ["Ask for a report"]
    assert [r["text"] for r in digest["risks"]] == ["Drafts may not migrate"]


def test_boxes_of_a_form_and_a_sign_off_list_are_not_tasks():
    text = (
        "## How would you assess the maturity?\n\n"
        "- [ ] Initial setup\n- [x] Working towards first release\n\n"
        "## Signed-off-by:\n\n"
        "- [ ] (aldermoor) Carmen Ortiz\n"
    )
    digest = analyse(text)
    assert digest["action_items"] == [] and digest["done_actions"] == []


def test_a_label_inside_a_paragraph_and_glued_speaker_turns():
    model = DocumentModel(
        blocks=[
            Block("heading", "Discussion", 2),
            Block(
                "paragraph", "Builds were slow again. [Action Item] Nnamdi: add the old devices."
            ),
            Block("heading", "Next steps", 2),
            Block("paragraph", "Haruto: Send the draft by Friday Beatriz: Book the room"),
        ],
        date=DATE,
    )
    actions = analyse("", model=model)["action_items"]
    assert [(a["owners"], a["due_date"]) for a in actions] == [
        (["Nnamdi"], None),
        (["Haruto"], "2026-03-06"),
        (["Beatriz"], None),
    ]


def test_a_request_by_name_and_me_in_a_mail_are_owned():
    model = DocumentModel(
        blocks=[
            Block("paragraph", "Dieter, please confirm the new schedule by Friday."),
            Block("heading", "Actions", 3),
            Block("list_item", "me: move the Tuesday meetings"),
        ],
        date=DATE,
        author="Ingrid Solberg <ingrid@example.org>",
    )
    actions = analyse("", model=model)["action_items"]
    assert [(a["owners"], a["due_date"]) for a in actions] == [
        (["Dieter"], "2026-03-06"),
        (["Ingrid Solberg"], None),
    ]


def test_lower_case_nicks_in_prose_when_one_looks_like_a_nick():
    action = _one("- tsoto and gk-ng to send the updated proposal by next Tuesday\n")
    assert action["owners"] == ["tsoto", "gk-ng"]
    assert action["due_date"] == "2026-03-10"
    assert _actions("- docs and tests to be updated\n") == []


def test_owner_in_brackets_and_fields_after_a_full_stop():
    first = _one("## Next steps\n\n- (Rafael): publish the SDK wrapper by 27 February.\n")
    assert (first["owners"], first["due_date"]) == (["Rafael"], "2026-02-27")
    second = _one("## Actions\n\n- Add expiry alerts. Owner: k.lam. Due: 2026-07-24.\n")
    assert (second["owners"], second["due_date"]) == (["k.lam"], "2026-07-24")


@pytest.mark.parametrize(
    ("line", "owners"),
    [
        ("The infra team will rotate the keys by Q3.", ["The infra team"]),
        ("Team Alpha to prepare the demo.", ["Team Alpha"]),
        ("Everyone to review the draft before Friday.", ["Everyone"]),
        ("QA guild to write the smoke tests.", ["QA guild"]),
        ("Ana and the docs team will update the guide.", ["Ana", "the docs team"]),
    ],
)
def test_groups_own_tasks(line, owners):
    assert _one(line)["owners"] == owners


def test_everyone_will_in_prose_is_not_a_task():
    assert _actions("Everyone will benefit from the faster builds.") == []


def test_a_single_name_after_an_explicit_action_label_owns_it():
    assert _one("TODO: migrate the docs site (Ana)")["owners"] == ["Ana"]


def test_a_lower_case_nick_committing_with_a_colon_is_the_owner():
    action = _one("- kbrown: will look into the timeout")
    assert action["owners"] == ["kbrown"]


def test_a_space_aligned_text_table_gives_its_rows():
    text = (
        "Action items\n\n"
        "No  Action                   Owner    Due\n"
        "--  -----------------------  -------  --------\n"
        "1   Update the install docs  Ana      Friday\n"
        "2   Fix the nightly build    Ben      EOM\n"
        "    and the release job\n"
    )
    actions = _actions(text)
    assert [(a["text"], a["owners"], a["due_date"]) for a in actions] == [
        ("Update the install docs", ["Ana"], "2026-03-06"),
        ("Fix the nightly build and the release job", ["Ben"], "2026-03-31"),
    ]


def test_prose_with_wide_spaces_is_not_a_table():
    text = "Notes\n\nThe owner  and the due date  were discussed at length.\nNothing else.\n"
    digest = analyse(text, reference_date=DATE)
    assert digest["action_items"] == []


def test_several_fields_on_one_line_under_a_task():
    text = (
        "Corrective actions\n\n"
        "1. Add expiry alerts for every public hostname.\n"
        "   Owner: k.lam. Due: 2026-07-24.\n"
        "2. Build an inventory of API tokens.\n"
        "   Owner: d.huang (security). Due: end of Q3.\n"
    )
    actions = _actions(text)
    assert [(a["owners"], a["due_date"]) for a in actions] == [
        (["k.lam"], "2026-07-24"),
        (["d.huang"], "2026-09-30"),
    ]


@pytest.mark.parametrize(
    ("line", "owners", "due"),
    [
        ("- Update the changelog (Ana, Ben) - next Monday", ["Ana", "Ben"], "2026-03-09"),
        ("- Update the changelog [Ana]", ["Ana"], None),
        ("- Update the changelog -> Ana", ["Ana"], None),
        ("- Update the changelog — Ana, by Friday", ["Ana"], "2026-03-06"),
        ("- Send the notes by EOD Thursday (Ana)", ["Ana"], "2026-03-05"),
        ("- Send the notes by end of day tomorrow (Ana)", ["Ana"], "2026-03-05"),
        ("- Send the notes by month end (Ana)", ["Ana"], "2026-03-31"),
        ("- Send the notes in a fortnight (Ana)", ["Ana"], "2026-03-18"),
    ],
)
def test_trailing_owners_and_deadlines_in_an_actions_section(line, owners, due):
    action = _one(f"## Action items\n\n{line}")
    assert (action["owners"], action["due_date"]) == (owners, due)


def test_a_decision_making_section_is_a_process_not_decisions():
    text = "# Charter\n\n## Decision making\n\nLazy consensus; the chair decides after a week."
    assert analyse(text, reference_date=DATE)["decisions"] == []


CHAT = """#infra (chat export, Tue 14 Apr 2026)

Kim Osei  9:02 AM
morning, the staging build is red again
    :eyes: 2

Jo Lind  9:06 AM
@Kim Osei can you rerun the image job today?

Kim Osei  9:07 AM
yep, will do by EOD

Ravi Nair  9:20 AM
ok. then someone needs to rewrite the cache step

Ada Berg  9:31 AM
I can take that, should have a PR by Thursday

Jo Lind  10:02 AM
can someone update the quota docs?

Jo Lind  11:20 AM
I'll write the release notes before rc2
"""


def test_a_chat_export_gives_turns_and_requests_are_owned_by_who_takes_them():
    actions = analyse(CHAT)["action_items"]
    assert [(a["owners"], a["due_date"]) for a in actions] == [
        (["Kim Osei"], "2026-04-14"),
        (["Ada Berg"], "2026-04-16"),
        (["Jo Lind"], None),
    ]
    assert actions[0]["text"].startswith("rerun the image job today")
    assert actions[1]["text"].startswith("rewrite the cache step")
    # A request nobody took ("can someone update the quota docs?") is no task.
    assert not any("quota" in a["text"] for a in actions)


def test_an_acceptance_without_a_request_is_still_the_speakers_task():
    assert _one("Ana: I can take that.")["owners"] == ["Ana"]


@pytest.mark.parametrize(
    ("heading", "role"),
    [
        ("Next week (plan, not commitments)", "notes"),
        ("Proposals (not decided)", "notes"),
        ("Milestones (as agreed today)", None),
    ],
)
def test_a_heading_that_disclaims_its_role(heading, role):
    assert heading_role(heading) == role


def test_bracketed_tags_own_the_task_and_stay_one_line_each():
    text = (
        "ACTIONS\n\n"
        "[MK] to book the change window for the staging cut-over by Monday please\n"
        "[GB] + [SF] to agree the pilot team list with the sponsors, by next Friday\n"
        "Ana to chase audit for sign-off on the access review of the finance apps\n"
        "Ben will send the revised date to the steering group\n"
    )
    actions = _actions(text)
    assert [(a["owners"], a["due_date"]) for a in actions] == [
        (["MK"], "2026-03-09"),
        (["GB", "SF"], "2026-03-13"),
        (["Ana"], None),
        (["Ben"], None),
    ]


ACTION_LOG = (
    "Ref,Raised,Action,Owner(s),Target,Status,Update\n"
    "A-1,02/09/2026,Confirm the diversion costs,JP,30/09/2026,Closed,Quote received\n"
    "A-2,16/09/2026,Arrange a site visit,Programme Office,ASAP,Open,Waiting on the chair's diary\n"
    "A-3,30/09/2026,Set up a monthly call,RK,,Superseded,Replaced by A-4\n"
    "A-4,14/10/2026,Write to the council about the timetable,Chair,end Oct,Open,New\n"
    ",,,,,,\n"
    "Decisions recorded at the 14 October meeting,,,,,,\n"
    "D-1,14/10/2026,Approved the drawdown of 150k from contingency,,,,\n"
)


def test_an_action_log_with_a_title_row_statuses_and_waits():
    import io

    from workers.extract import extract_text

    extracted = extract_text(io.BytesIO(ACTION_LOG.encode()), "csv")
    digest = analyse(extracted.text, model=extracted.model, reference_date=dt.date(2026, 10, 14))
    open_tasks = [(a["text"], a["due_date"]) for a in digest["action_items"]]
    assert open_tasks == [
        ("Arrange a site visit", None),
        ("Write to the council about the timetable", "2026-10-31"),
    ]
    assert digest["decisions"] == ["Approved the drawdown of 150k from contingency"]
    assert [r["text"] for r in digest["risks"]] == ["Waiting on the chair's diary"]


def test_a_group_of_members_to_do_something_owns_it():
    action = _one("AOB\n\nAB asked about training. Members to check with their teams.")
    assert action["owners"] == ["Members"]


def test_numbered_clauses_keep_their_labels():
    digest = analyse("Minutes\n\n4.2 RESOLVED: the import will be fixed before go-live.\n")
    assert digest["decisions"] == ["the import will be fixed before go-live."]


def test_the_same_owners_task_written_twice_is_one_task():
    text = (
        "## Mentoring\n\n- Possible mentors:\n  - Paul to ping former mentors from 2024\n\n"
        "## Action items\n\n- Paul to ping the former mentors about the summer round\n"
        "- Paul to update the docs for the website\n- Paul to update the docs for the API\n"
    )
    assert len(_actions(text)) == 3


def test_a_discussion_topic_line_in_an_action_list_is_not_a_task():
    text = "## Action items\n\n- Ben to invite the maintainers\n- Next week's discussion: reviews\n"
    assert [a["owners"] for a in _actions(text)] == [["Ben"]]


def test_a_policy_heading_is_a_topic_not_a_list_of_blockers():
    assert heading_role("Release blockers policy") is None


def test_for_the_next_meeting_is_no_deadline_but_before_it_is():
    text = "Next meeting: 2 November 2026\n\nKP to model the impact for the next meeting."
    assert _one(text, reference_date=dt.date(2026, 10, 5))["due_date"] is None


def _csv_digest(source: str, reference: dt.date) -> dict[str, Any]:
    import io

    from workers.extract import extract_text

    extracted = extract_text(io.BytesIO(source.encode()), "csv")
    return analyse(extracted.text, model=extracted.model, reference_date=reference)


def test_a_decision_log_gives_question_and_answer_and_its_follow_up_actions():
    digest = _csv_digest(
        "ID,Raised,Decision required,Decision,Date decided,Status,Follow-up action,Owner,Due\n"
        "D1,2026-03-02,Hosting,Managed service,2026-03-16,Approved,Sign the contract,Sipho,"
        "2026-04-30\n"
        "D2,2026-03-20,Mobile app,,,Pending,Produce the cost comparison,Ana Lima,2026-04-10\n",
        dt.date(2026, 4, 22),
    )
    assert digest["decisions"] == ["Hosting: Managed service"]
    assert [(a["text"], a["due_date"]) for a in digest["action_items"]] == [
        ("Sign the contract", "2026-04-30"),
        ("Produce the cost comparison", "2026-04-10"),
    ]


def test_a_checklist_with_owner_due_and_emoji_states():
    digest = _csv_digest(
        "Area,Check,Owner,Due,State,Notes\n"
        "Eng,All P1 bugs closed,Arjun,2026-09-08,⏳ in progress,3 left\n"
        "Eng,Perf suite green,Arjun,2026-09-04,✅ done,\n"
        "Legal,Licence audit,Legal,2026-09-07,❌ blocked,Depends on the final dependency list\n"
        "Mkt,Blog post drafted,Tomas,2026-09-11,⏳,Decision: no press release for 3.0\n",
        dt.date(2026, 9, 2),
    )
    assert [a["text"] for a in digest["action_items"]] == [
        "All P1 bugs closed",
        "Licence audit",
        "Blog post drafted",
    ]
    assert [a["text"] for a in digest["done_actions"]] == ["Perf suite green"]
    assert digest["decisions"] == ["no press release for 3.0"]
    assert [r["text"] for r in digest["risks"]] == ["Depends on the final dependency list"]


def test_a_registers_action_and_by_when_column():
    digest = _csv_digest(
        "Risk,ROAM,Owner,Action / by when\n"
        'Vendor rate limit is lower,Owned,Kasia,"Negotiate a higher limit, by 24 July"\n',
        dt.date(2026, 7, 7),
    )
    assert [(a["owners"], a["due_date"]) for a in digest["action_items"]] == [
        (["Kasia"], "2026-07-24")
    ]


SAILBOAT = """RETRO - Sprint 24 - Fri 29 May 2026

ROCKS (risks ahead)
- the payments SDK v4 deprecation lands in August and we have not started

WHAT WE'LL TRY
1. quarantine flaky e2e tests automatically -> Bruno, by next retro
2. no-meeting Wednesday afternoons -> agreed by everyone, starts next week
3. escalate the queue quota -> Oksana, tomorrow
4. spike on the SDK v4 migration -> Priyanka + Dev, within two weeks

LAST RETRO'S ITEMS
[x] staging data refresh script (Dev)
[ ] write the onboarding checklist (Aleks) -> carried over, still open
[-] dropped: weekly demo recording, nobody watched them
"""


def test_a_retro_board_with_arrows_boxes_and_explained_headings():
    digest = analyse(SAILBOAT)
    assert [(a["owners"], a["due_date"]) for a in digest["action_items"]] == [
        (["Bruno"], None),
        (["Oksana"], "2026-05-30"),
        (["Priyanka", "Dev"], "2026-06-12"),
        (["Aleks"], None),
    ]
    assert len(digest["decisions"]) == 2  # agreed by everyone; dropped: …
    assert [r["text"] for r in digest["risks"]] == [
        "the payments SDK v4 deprecation lands in August and we have not started"
    ]


@pytest.mark.parametrize(
    ("heading", "role"),
    [("Doing", "actions"), ("In progress", "actions"), ("What we'll try", "actions")],
)
def test_board_and_retro_headings(heading, role):
    assert heading_role(heading) == role


def test_a_decision_with_a_qualifier_before_its_colon():
    digest = analyse("Board\n\nDecided at stand-up: bulk delete waits until the audit release.")
    assert digest["decisions"] == ["bulk delete waits until the audit release."]


@pytest.mark.parametrize(
    ("heading", "role"),
    [
        ("Issues", "risks"),
        ("Votes", "decisions"),
        ("iv) Risks", "risks"),
        ("12.1 Actions", "actions"),
    ],
)
def test_numbering_is_stripped_but_not_a_words_first_letter(heading, role):
    assert heading_role(heading) == role


def test_a_sentence_like_title_over_a_list_names_its_role_but_a_field_does_not():
    text = (
        "Hi all,\n\nAttendees: Ola, Bea\n- Bea will publish the style guide.\n\n"
        "What we decided\n- No meetings on Tuesday mornings from next sprint.\n"
    )
    digest = analyse(text, reference_date=DATE)
    assert digest["decisions"] == ["No meetings on Tuesday mornings from next sprint."]
    assert [a["owners"] for a in digest["action_items"]] == [["Bea"]]


def test_a_headerless_space_aligned_action_list_in_a_text_file():
    import io

    from workers.extract import extract_text

    source = (
        b"ACTIONS\n-------\n"
        b"A1  D. Kowalski   backout plan attached to CHG0041872    Thu 9 Jul 17:00\n"
        b"A2  J. Oyelaran   customer notice for the DC2 work       Wed 8 Jul\n"
        b"A3  U. Brenner    update the CAB terms of reference      end of July\n"
        b"                  (standard changes list)\n"
    )
    extracted = extract_text(io.BytesIO(source), "txt")
    actions = analyse(extracted.text, reference_date=dt.date(2026, 7, 7))["action_items"]
    assert [(a["owners"], a["due_date"]) for a in actions] == [
        (["D. Kowalski"], "2026-07-09"),
        (["J. Oyelaran"], "2026-07-08"),
        (["U. Brenner"], "2026-07-31"),
    ]
    assert actions[2]["text"] == "update the CAB terms of reference (standard changes list)"


def test_a_topic_then_a_commitment_and_open_items():
    text = (
        "## Plans for Q4\n\n- Mentorship: Ruth Adler will recruit three mentees by 30 October.\n"
        "- Ship 2.5 with the new sampling API.\n\n"
        "## Open items\n\n- Website accessibility audit: still not started, no owner.\n"
        "- Risk: two providers still pin the old runtime.\n"
    )
    actions = _actions(text, reference_date=dt.date(2026, 10, 7))
    assert [(a["owners"], a["due_date"]) for a in actions] == [
        (["Ruth Adler"], "2026-10-30"),
        ([], None),
    ]


def test_an_ability_and_a_half_done_item_are_no_tasks_and_not_done():
    assert _actions("Goal\n\nInspectors can complete an inspection offline.") == []
    action = _one("## Action items\n\n- Photo compression on Android, about 60% done, Pia keeps it")
    assert action["done"] is False


def test_one_label_two_owners_and_a_resolution_someone_will_carry_out():
    text = (
        "## Drafts\n\n- Action: authors to publish -05 with the new text; chairs to start WGLC"
        " once -05 is out.\n- Resolution: chairs will run a two-week adoption call on the list,"
        " ending 31 March 2026.\n"
    )
    actions = _actions(text)
    assert [(a["owners"], a["due_date"]) for a in actions] == [
        (["authors"], None),
        (["chairs"], None),
        (["chairs"], "2026-03-31"),
    ]
    assert "chairs will run" in " ".join(analyse(text)["decisions"])


def test_a_release_table_of_milestones_keeps_each_row():
    text = (
        "## Schedule\n\n| What | Who | When |\n|---|---|---|\n"
        "| v3.2.0-beta.0 released | Release Lead | Tuesday 30 June 2026 |\n"
        "| v3.2.0-rc.0 released | Release Lead | Tuesday 21 July 2026 |\n"
    )
    assert len(_actions(text)) == 2


def test_a_wiki_task_list_with_full_name_mentions_and_trailing_dates():
    text = (
        "## Action items\n\n- @Noemi Kraus confirm the pilot store list 24 Jun 2026\n"
        "- @Ayo Bello draft the store communications pack\n"
    )
    assert [(a["owners"], a["due_date"]) for a in _actions(text)] == [
        (["@Noemi Kraus"], "2026-06-24"),
        (["@Ayo Bello"], None),
    ]


def test_numbered_section_headings_read_as_list_items_and_scan_fragments():
    text = (
        "Weekly review\n\n"
        "1. Discussion\n"
        "   - Peak staffing: the agency can only commit 60 % of the temps. Concern for July.\n"
        "   - WMS upgrade: vendor proposes 6 June. Agreed, provided the rollback test passes.\n"
        "2. New actions\n\n"
        "# Action Owner | Due Status\n\n"
        "Confirm the rollback test date with the vendor (TA)\n\n"
        "vendor May\n"
    )
    digest = analyse(text, reference_date=dt.date(2026, 5, 20))
    assert [a["text"] for a in digest["action_items"]] == [
        "Confirm the rollback test date with the vendor (TA)"
    ]
    assert len(digest["decisions"]) == 1 and "Agreed" in digest["decisions"][0]


# --- Conventions added for documents the tuning set did not show (issue 10, digest3) ---------


def test_meetbot_action_names_its_nick_first_without_to():
    text = (
        "16:00:31 <kb_lee> hi\n16:00:35 <mzt> o/\n"
        "16:05:30 <ferns> #action kb_lee write a test for the locale workaround by Thursday\n"
    )
    action = _one(text)
    assert action["owners"] == ["kb_lee"]
    assert action["text"] == "write a test for the locale workaround by Thursday"
    assert action["due_date"] == "2026-0305"[:0] + "2026-03-05"


def test_a_nick_first_needs_a_known_participant():
    # "Release notes" is no nick: nobody of that name took part.
    assert _actions("ACTION: release notes need a new section")[0]["owners"] == []


def test_a_spoken_commitment_and_the_list_entry_for_it_are_one_task_in_the_list_s_words():
    text = (
        "16:06:30 <mzt> i can resize it tomorrow\n"
        "16:06:45 <ferns> #action mzt resize the Sydney mirror\n"
    )
    action = _one(text)
    assert (action["text"], action["owners"], action["due_date"]) == (
        "resize the Sydney mirror",
        ["mzt"],
        "2026-03-05",
    )


def test_notes_then_a_summary_table_with_other_words_are_one_task_each():
    text = (
        "# Call\n\n## Notes\n\n"
        "**Priya**: I'll ping their maintainers again today.\n\n"
        "**Dana**: fine.\n\n"
        "- Dana will ask the foundation.\n\n"
        "## Action items\n\n"
        "| Item | Owner | Due |\n|---|---|---|\n"
        "| Ping the font library maintainers about the tag | Priya | today |\n"
        "| Ask the foundation about the custom domain | Dana | 10 Mar |\n"
    )
    actions = _actions(text, filename="call.md")
    assert [(a["text"], a["owners"]) for a in actions] == [
        ("Ping the font library maintainers about the tag", ["Priya"]),
        ("Ask the foundation about the custom domain", ["Dana"]),
    ]


def test_a_sign_in_list_pairs_a_name_with_a_handle():
    text = (
        "# Weekly call\n\n## Attendees\n\n- Kai Brenner / @kbrenner / independent\n\n"
        "## Notes\n\n- Kai will open an issue with the per-job cost breakdown\n\n"
        "## Action items\n\n- [ ] @kbrenner issue with the per-job cost breakdown\n"
    )
    action = _one(text, filename="call.md")
    assert action["owners"] == ["@kbrenner"]


def test_a_taking_followed_by_what_is_taken():
    action = _one("Ben: I can take that. I'll tag every flaky test by Friday.")
    assert (action["text"], action["owners"], action["due_date"]) == (
        "tag every flaky test by Friday.",
        ["Ben"],
        "2026-03-06",
    )


def test_bold_speaker_names_make_turns_even_for_a_single_line():
    text = (
        "# Retro\n\n## Discussion\n\n"
        "**Marta**: Who wants the flaky tests?\n"
        "**Ravi**: Worry: the certification window closes on 15 March.\n"
    )
    digest = analyse(text, reference_date=DATE, filename="retro.md")
    assert [r["text"] for r in digest["risks"]] == ["the certification window closes on 15 March."]


def test_an_office_owns_a_task_in_formal_minutes():
    text = (
        "## Action items\n\n"
        "- Executive Director: renewal reminder to the two gold members\n"
        "- Secretary: publish these minutes on the website within 14 days\n"
    )
    assert [a["owners"] for a in _actions(text, filename="m.md")] == [
        ["Executive Director"],
        ["Secretary"],
    ]


def test_initials_that_spell_a_word_are_a_person_when_the_document_says_whose():
    text = "AS (Amir)\n  Blockers: staging down\n\nFollow-ups\n- AS to raise the outage.\n"
    assert _one(text)["owners"] == ["AS"]


@pytest.mark.parametrize(
    "item",
    [
        "Release 2.3 is still planned for 25 Mar.",  # a status fact
        "Who owns the flaky e2e suite? Nobody right now, raise at retro.",  # nobody took it
    ],
)
def test_status_facts_and_unanswered_questions_in_an_action_list_are_no_tasks(item):
    assert _actions(f"## Follow-ups\n\n- {item}\n", filename="n.md") == []


def test_a_past_participle_is_no_owner():
    assert _actions("Called to order at 17:02 UTC by the Chair, Oluwaseun Adeyemi.") == []


def test_a_status_cell_that_moves_the_date_gives_the_due_date():
    text = (
        "| Ref | Action | Owner | Due | Status |\n|---|---|---|---|---|\n"
        "| A-42 | Cost estimate for the second region | DR | 2 Mar | Open - now 16 Mar |\n"
    )
    assert _one(text, filename="a.md")["due_date"] == "2026-03-16"


def test_a_task_that_is_itself_a_demo_is_due_on_its_day():
    assert _one("JT will demo the export to Lucia on Friday.")["due_date"] == "2026-03-06"


def test_a_heading_that_names_whose_items_they_are():
    text = (
        "HANDOVER ITEMS FOR TARIQ\n"
        "1. Renew the status page certificate before it expires.\n"
        "2. Chase finance about the capacity request on Monday.\n"
    )
    assert [a["owners"] for a in _actions(text)] == [["Tariq"], ["Tariq"]]


def test_a_tracker_s_risk_rows_are_no_tasks():
    text = (
        "Issue Type | Summary | Assignee | Due Date | Status\n"
        "Task | Migrate nightly backups | Leila Haddad | 20/03/2026 | In Progress\n"
        "Risk | Storage contract ends and renewal is not signed | Owen Price | | Open\n"
    )
    assert [a["text"] for a in _actions(text)] == ["Migrate nightly backups"]


def test_tasks_written_among_the_conclusions_are_tasks_not_decisions():
    text = (
        "Attendees: Chen Wei (CW), Greta Olsen (GO)\n\n## Logging proposal\n\n### Conclusion\n\n"
        "- Consensus to advance the logging proposal to draft stage.\n"
        "- CW to write the constrained-profile annex before the next plenary.\n"
        "- No consensus on the deprecation. GO will collect usage data from the vendors.\n"
    )
    digest = analyse(text, reference_date=DATE, filename="notes.md")
    assert digest["decisions"] == ["Consensus to advance the logging proposal to draft stage."]
    assert [a["owners"] for a in digest["action_items"]] == [["CW"], ["GO"]]


def test_matters_arising_name_the_task_in_brackets_and_give_its_status():
    text = (
        "1. Matters arising\n"
        "Action 07 (vendor contract review) - complete.\n"
        "Action 09 (capacity forecast) - half done; carried forward, now due 26 Mar.\n"
        "ACTION 10: AB to circulate the pen test report by Monday.\n"
    )
    digest = analyse(text, reference_date=DATE)
    assert [(a["text"], a["due_date"]) for a in digest["action_items"]] == [
        ("capacity forecast", "2026-03-26"),
        ("AB to circulate the pen test report by Monday.", "2026-03-09"),
    ]
    assert [a["text"] for a in digest["done_actions"]] == ["vendor contract review"]


def test_a_carried_over_item_s_status_is_no_part_of_its_task():
    text = (
        "## Last retro's action items\n\n"
        "- [ ] @sam.w document the release checklist — not started, carrying over\n\n"
        "## Action items\n\n- [ ] @sam.w document the release checklist by 20 Mar 2026\n"
    )
    action = _one(text, filename="retro.md")
    assert (action["text"], action["due_date"]) == (
        "@sam.w document the release checklist",
        "2026-03-20",
    )


@pytest.mark.parametrize(
    "item",
    [
        "Ben to book the venue: completed 3 March",
        "Chloe to update the wiki (landed in #412)",
        "Dev to fix the CI cache - merged",
        "Finn to publish the notes -- done.",
        "Jo to write the ADR — superseded by ADR 12",  # closed, not open
        "~~Mo to set up the mailing list~~ (not needed)",
        "Kai sent the invitation last week",  # a report in the past tense
    ],
)
def test_statuses_written_after_a_previous_action_close_it(item):
    digest = analyse(
        f"## Review of previous actions\n\n- {item}\n", reference_date=DATE, filename="m.md"
    )
    assert digest["action_items"] == []
    assert len(digest["done_actions"]) == 1


def test_an_open_item_with_a_status_word_inside_stays_open():
    text = (
        "## Actions\n\n- Ivan to chase the vendor - ongoing\n"
        "- Ana to review the contract, sent by legal\n"
    )
    assert len(_actions(text, filename="m.md")) == 2


def test_departments_several_owners_before_a_colon_and_semicolon_fields():
    text = (
        "## Action items\n\n"
        "- Procurement to place the tablet order\n"
        "- QA to add regression tests\n"
        "- Jane, Raj, Sofia: prepare the demo\n"
        "- Draft the FAQ; owner Raj; due Friday\n"
    )
    assert [(a["owners"], a["due_date"]) for a in _actions(text, filename="m.md")] == [
        (["Procurement"], None),
        (["QA"], None),
        (["Jane", "Raj", "Sofia"], None),
        (["Raj"], "2026-03-06"),
    ]


def test_a_title_over_an_attendance_table_ends_the_action_list():
    blocks = [
        Block("heading", "Actions/On-going", 1),
        Block("list_item", "ACTION: Noor Rahimi to start an email vote."),
        Block("paragraph", "TSC Members"),
        Block("table", header=["Name", "Present"], rows=[["Anika Brandt", "Yes"]]),
    ]
    digest = analyse("", reference_date=DATE, model=DocumentModel(blocks=blocks))
    assert [a["owners"] for a in digest["action_items"]] == [["Noor Rahimi"]]


def test_in_a_transcript_a_name_seen_once_speaks_too():
    text = (
        "Marta: Who wants it?\nBen: I can take that.\nMarta: Thanks.\nBen: Sure.\n"
        "Ravi: Worry: the certification window closes on 15 March.\n"
    )
    assert [r["text"] for r in analyse(text, reference_date=DATE)["risks"]] == [
        "the certification window closes on 15 March."
    ]


def test_turns_and_tasks_run_together_by_a_lost_line_break_are_each_a_task():
    blocks = [
        Block("heading", "Actions", 2),
        Block(
            "paragraph",
            "Pete: will send the project plan to everyone by Friday. Yusuf: will pull the "
            "duplicate-account report next Tuesday. Hana to ask the IT director for an SSO "
            "contact.",
        ),
    ]
    digest = analyse("", reference_date=DATE, model=DocumentModel(blocks=blocks))
    assert [a["owners"] for a in digest["action_items"]] == [["Pete"], ["Yusuf"], ["Hana"]]


def test_a_document_typed_without_styles_is_read_from_its_typed_lines():
    # Minutes typed in Word as plain paragraphs: the title, "ACTIONS" and "- " are only text.
    lines = [
        "ORCHARD STEERING GROUP - MINUTES",
        "Date: 4 March 2026",
        "Present: Helen Marsh, Tomasz Nowak",
        "The group reviewed the plan.",
        "ACTIONS",
        "- Helen to circulate the pen test report by Friday",
        "- [x] Tomasz booked the room",
        "DECISIONS",
        "- Go-live stays on 7 April.",
    ]
    model = DocumentModel(blocks=[Block("paragraph", line) for line in lines])
    digest = analyse("", model=model)
    assert [(a["owners"], a["due_date"]) for a in digest["action_items"]] == [
        (["Helen"], "2026-03-06")
    ]
    assert [a["text"] for a in digest["done_actions"]] == ["Tomasz booked the room"]
    assert digest["decisions"] == ["Go-live stays on 7 April."]


def test_a_styled_document_keeps_its_blocks():
    from workers.digest.digest import unstyled

    blocks = [Block("heading", "Notes", 1)] + [Block("paragraph", f"- line {i}") for i in range(5)]
    assert unstyled(blocks) is blocks


def test_a_timed_agenda_slot_is_minuted_even_with_a_background_word():
    # "Governance (7:15-7:45)" is a slot of the meeting: its commitments are actions, whereas
    # an ADR's "Governance" section explains how decisions are made.
    text = "# Planning session\n\n### Governance (7:15-7:45)\n- Halvard will add Jo to the alias\n"
    assert [a["owners"] for a in _actions(text)] == [["Halvard"]]
    assert heading_role("Governance (7:15-7:45)") is None
    assert heading_role("Governance (20 min)") is None
    assert heading_role("Governance") == "background"


def test_a_sub_heading_under_attendees_is_not_a_name_list():
    # "### Recap" under "## Attendees": the minutes, not more names; without a role it reads
    # as notes, so the commitments in it and in the sections after it are found.
    text = (
        "# Planning session\n\n## Attendees\n- **Halvard**\n- **Jo**\n\n"
        "### Recap\n- Jo will ask the library about July 18\n"
    )
    assert [a["owners"] for a in _actions(text)] == [["Jo"]]


def test_a_previous_actions_log_with_a_result_column_reports_done_rows_done():
    # "Action | Who | Result": what came of last time's actions; "Done, …" rows are done,
    # "Not done, carried over" stays open. A bare "By" column is the due date.
    text = (
        "# Retro\n\n## Previous actions\n\n| Action | Who | Result |\n|---|---|---|\n"
        "| Split the checkout epic | PR | Done, five slices |\n"
        "| Automate the release notes | YK | Not done, carried over |\n\n"
        "## Actions\n\n| Action | Who | By |\n|---|---|---|\n"
        "| Raise staging stability at the sync | EN | Tue 17 Nov |\n"
    )
    digest = analyse(text, reference_date=dt.date(2026, 11, 13))
    assert [a["text"] for a in digest["action_items"]] == [
        "Automate the release notes",
        "Raise staging stability at the sync",
    ]
    assert digest["action_items"][1]["due_date"] == "2026-11-17"
    assert [a["text"] for a in digest["done_actions"]] == ["Split the checkout epic"]


def test_an_action_schedule_by_column_beside_a_due_column_is_the_owner():
    # Construction minutes: "Action | By | Due" — "By" is who, "Due" is when.
    text = (
        "# Site meeting\n\n## Action schedule\n\n| Ref | Action | By | Due | Status |\n"
        "|---|---|---|---|---|\n| 12/5.2 | Respond to RFI-071 | GH | 20 Nov | New |\n"
    )
    action = _one(text, reference_date=dt.date(2026, 11, 13))
    assert action["owners"] == ["GH"]
    assert action["due_date"] == "2026-11-20"


def test_a_box_drawn_as_a_character_and_who_then_when_in_closing_brackets():
    # "⬜ task (Name and Name, by date)": an open box, its owners, then its due date.
    text = (
        "# Follow-ups\n\n"
        "- ⬜ Weekly restore test for every schema (Ilse and Kofi, by 18 December)\n"
        "- ⬜ Contract test against the staging tenant (Paulina, end of November)\n"
        "- ✅ Rotate the partner keys (Kofi, 2 Nov)\n"
    )
    digest = analyse(text, reference_date=dt.date(2026, 11, 10))
    assert [(a["text"][:14], a["owners"], a["due_date"]) for a in digest["action_items"]] == [
        ("Weekly restore", ["Ilse", "Kofi"], "2026-12-18"),
        ("Contract test ", ["Paulina"], "2026-11-30"),
    ]
    assert [a["text"][:10] for a in digest["done_actions"]] == ["Rotate the"]


def test_a_bilingual_status_column_marks_done_rows():
    text = (
        "# Comité / Committee\n\n## Suivis / Follow-ups\n\n"
        "| Action | Responsable / Lead | Échéance / Due | Statut / Status |\n|---|---|---|---|\n"
        "| Send the audit report to the architect | Nadia Boucher | 2026-04-17 | Terminé / Done |\n"
        "| Prepare the draft resolution | Karen O'Donnell | 2026-05-04 | En cours / Open |\n"
    )
    digest = analyse(text, reference_date=dt.date(2026, 4, 22))
    assert [a["text"] for a in digest["action_items"]] == ["Prepare the draft resolution"]
    assert [a["text"] for a in digest["done_actions"]] == ["Send the audit report to the architect"]


def test_an_office_with_its_article_and_a_titled_name_own_tasks_in_formal_minutes():
    # "The Secretary will …", "Dr Marlowe to …": the office without its article, the title kept.
    text = (
        "Rowing club committee\n\n"
        "4. Boathouse roof\n"
        "The quote was discussed at length. The Secretary will request a second quote.\n"
        "Dr Marlowe to inspect the gutters before the winter.\n"
    )
    actions = _actions(text)
    assert [(a["owners"], a["text"][:20]) for a in actions] == [
        (["Secretary"], "The Secretary will r"),
        (["Dr Marlowe"], "Dr Marlowe to inspec"),
    ]


def test_a_surname_in_capitals_owns_a_task_when_the_minutes_list_that_person():
    text = (
        "Library committee\n\n"
        "Present: Ines Quartermaine (Chair), Otto Fernsby, Lucy Abara\n\n"
        "FERNSBY reported on the reading room. FERNSBY will price new shelving by March 20.\n"
        "RESOLVED to wait for the survey. NOTHING will change before then.\n"
    )
    actions = _actions(text)
    assert [(a["owners"], a["due_date"]) for a in actions] == [(["FERNSBY"], "2026-03-20")]


def test_an_outcome_after_an_action_label_is_not_a_task():
    # Academic minutes record what was done with each proposal as "Action: Approved."
    text = (
        "Programme committee\n\n"
        "BIO 120, Field Botany. Action: Approved. CHEM 305. Action: Tabled until the author "
        "replies.\nAction: Lucy to collect the syllabi.\n"
    )
    actions = _actions(text)
    assert [a["text"] for a in actions] == ["Lucy to collect the syllabi."]


def test_an_arrow_led_conclusion_and_a_status_bracket_are_read_as_tasks():
    text = (
        "Ops weekly\n\n"
        "Minutes:\n"
        "- Cooling loop pressure low again.\n"
        "=> KW will call the chiller vendor this week.\n\n"
        "Actions from last week:\n"
        "[done] PL: rotate the backup tapes\n"
        "[open] KW: label the spare drives\n"
    )
    digest = analyse(text, reference_date=DATE)
    assert [(a["owners"], a["text"][-20:]) for a in digest["action_items"]] == [
        (["KW"], "er vendor this week."),
        (["KW"], "bel the spare drives"),
    ]
    assert [a["owners"] for a in digest["done_actions"]] == [["PL"]]


def test_a_box_with_a_speaker_is_a_task_outside_an_actions_section():
    text = (
        "# Group meeting\n\n## Carried over from last week\n\n"
        "- [ ] JB: renew the reagent order\n"
        "- [x] MT: clean the fume hood\n"
        "- [ ] JB: reorder pipette tips -> carried to 11 Mar\n"
    )
    digest = analyse(text, reference_date=DATE)
    assert [(a["owners"], a["text"]) for a in digest["action_items"]] == [
        (["JB"], "renew the reagent order"),
        (["JB"], "reorder pipette tips"),
    ]
    assert [(a["owners"], a["text"]) for a in digest["done_actions"]] == [
        (["MT"], "clean the fume hood")
    ]


def test_nicks_that_speak_in_list_items_own_lower_case_tasks_in_a_conclusion():
    # A nick-style meeting page: "* nick: …" turns, then conclusions that start in lower case.
    text = (
        "# Dev sync\n\n## [Bug #88] Cache eviction race (brolf)\n\n### Discussion\n\n"
        "* mirela: the lock is taken too late\n* brolf: agreed, it needs a second look\n\n"
        "### Conclusion\n\n"
        "* Not decided yet. mirela to write a patch by Friday, brolf to review.\n"
        "* brolf will bisect the regression\n"
    )
    actions = _actions(text)
    assert [(a["owners"], a["text"], a["due_date"]) for a in actions] == [
        (["mirela"], "mirela to write a patch by Friday", "2026-03-06"),
        (["brolf"], "brolf to review.", None),
        (["brolf"], "brolf will bisect the regression", None),
    ]


def test_an_office_after_a_semicolon_starts_its_own_task():
    text = (
        "Board minutes\n\n5. Bylaws\nThe change was not voted on; the Treasurer will redraft it.\n"
    )
    assert [a["owners"] for a in _actions(text)] == [["Treasurer"]]


def test_a_named_order_in_running_notes_is_that_persons_task():
    # "XY: <verb> …" among notes (not under an actions heading) is an order to XY.
    text = (
        "Lab ops\n\n"
        "* Storage (PK)\n"
        "  - scratch volume at 92 %.\n"
        "PK: move the old runs to tape before Friday.\n"
        "Idea: run a clean-up day next month.\n"
        "Rosa Lind: plan for the week:\n"
        "Rosa Lind: sounds good to me\n"
    )
    actions = _actions(text)
    assert [(a["owners"], a["text"], a["due_date"]) for a in actions] == [
        (["PK"], "move the old runs to tape before Friday.", "2026-03-06")
    ]


def test_a_side_tag_before_the_owner_leaves_the_person_as_owner():
    # Client/vendor call notes tag each action with its side, then name who.
    text = (
        "Vendor call\n\n"
        "Notes\nOwen will send the revised floor plan by Friday.\n\n"
        "ACTIONS\n"
        "[Northwind] Owen - revised floor plan (Fri)\n"
        "[Client] Priya/Dev - sign off the colour scheme\n"
    )
    actions = _actions(text)
    assert [(a["owners"], a["due_date"]) for a in actions] == [
        (["Owen"], "2026-03-06"),
        (["Priya", "Dev"], None),
    ]


def test_a_sentence_of_the_minutes_and_its_action_row_worded_apart_are_one_task():
    text = (
        "# Project board\n\n"
        "4.1 Budget. RW to bring a costed option for the extra licences to the next board.\n"
        "4.2 Hiring. RW to draft the job advert for the tester role.\n\n"
        "## Actions\n\n| Ref | Action | Owner | Due |\n|---|---|---|---|\n"
        "| B7-01 | Costed option for extra licences | RW | 20 Mar |\n"
    )
    actions = _actions(text)
    assert [(a["text"], a["owners"], a["due_date"]) for a in actions] == [
        ("Costed option for extra licences", ["RW"], "2026-03-20"),
        ("RW to draft the job advert for the tester role.", ["RW"], None),
    ]


def test_a_full_name_and_its_initials_in_the_action_table_are_one_owner():
    text = (
        "# Board\n\n"
        "6.2 Nadia Okoro will call the landlord about the lease this week.\n"
        "6.3 Nadia Okoro will chase the sign-up form for the open day.\n\n"
        "## Actions\n\n| Ref | Action | Owner | Due | Status |\n|---|---|---|---|---|\n"
        "| 6.2 | Call landlord about the lease | NO | this week | Open |\n"
        "| 5.1 | Open day sign-up form printed | NO | 2 Mar | Done |\n"
    )
    digest = analyse(text, reference_date=DATE)
    assert [(a["text"], a["owners"]) for a in digest["action_items"]] == [
        ("Call landlord about the lease", ["NO"]),
        ("Nadia Okoro will chase the sign-up form for the open day.", ["Nadia Okoro"]),
    ]


@pytest.mark.parametrize("who", ["PIC", "Members", "Responsable", "Verantwortlich", "担当"])
def test_owner_columns_headed_in_other_words_or_languages(who):
    text = (
        f"# Follow-ups\n\n| No | Item | {who} | Due |\n|---|---|---|---|\n"
        "| 1 | Order the spare relays | Sato-san | 2026-03-12 |\n"
    )
    action = _one(text)
    assert (action["owners"], action["due_date"]) == (["Sato-san"], "2026-03-12")


def test_an_arrow_to_done_and_a_board_lists_done_column_close_items():
    text = (
        "# Steering\n\n## Open action points\n\n"
        "- AP-12 (Mara) check the venue contract -> done, signed 3 March\n"
        "- AP-13 (Ivo) send the agenda -> not done, waiting on the chair\n\n"
        "## Board\n\n| Card Name | Members | Due Date | List Name |\n|---|---|---|---|\n"
        "| Renew the domain | Ivo | 2026-03-20 | Done |\n"
        "| Print the badges | Mara | 2026-03-25 | Doing |\n"
    )
    digest = analyse(text, reference_date=DATE)
    assert [a["text"][-20:] for a in digest["action_items"]] == [
        "waiting on the chair",
        "Print the badges",
    ]
    assert [a["text"][-16:] for a in digest["done_actions"]] == [
        ", signed 3 March",
        "Renew the domain",
    ]
