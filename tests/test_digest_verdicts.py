"""Decisions and risks in the layouts real minutes, logs and registers use (issue 10).

Invented snippets only; no database: ``pytest --noconftest tests/test_digest_verdicts.py``.
"""

from __future__ import annotations

import pytest

from workers.analyse import analyse
from workers.digest.blocks import Block, DocumentModel
from workers.digest.sections import heading_role


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


def _risks(text: str) -> list[str]:
    return [r["text"] for r in analyse(text)["risks"]]


@pytest.mark.parametrize(
    ("text", "risk"),
    [
        (
            "One flag: the contractor is only confirmed from May.",
            "the contractor is only confirmed from May.",
        ),
        ("Heads-up: the certificate renewal needs a new CSR.", None),
        (
            "5.3 Concern: the hardware quote may exceed the contingency.",
            "the hardware quote may exceed the contingency.",
        ),
        (
            "The batch queue has the same retry behaviour until PAY-88 ships.",
            "The batch queue has the same retry behaviour until PAY-88 ships.",
        ),
    ],
)
def test_risk_layouts(text, risk):
    found = _risks(text)
    assert found == [risk or text.split(": ", 1)[1]]


def test_a_rating_is_not_a_risk_statement():
    assert _risks("CHG0099 Storage firmware upgrade, DC1 Normal / High risk") == []


def test_a_key_value_status_table_is_not_a_register():
    model = _table(
        ["Project status", "AT RISK"],
        [["Project owner", "Ines Duarte"], ["Go-live", "01 Sep 2026"]],
        heading="Status",
    )
    assert analyse("", model=model)["risks"] == []


def test_resolved_rows_of_a_roam_board_are_no_risks():
    model = _table(
        ["Risk", "ROAM", "Owner"],
        [
            ["Test lab booked twice in May", "Owned", "Lea"],
            ["Design kit not released in time", "Resolved", ""],
        ],
        heading="Program risks",
    )
    assert [r["text"] for r in analyse("", model=model)["risks"]] == [
        "Test lab booked twice in May"
    ]


def test_waits_in_the_notes_of_a_checklist_table():
    model = _table(
        ["Area", "Check", "Owner", "State", "Notes"],
        [
            ["Security", "Pen test triaged", "Sec team", "blocked", "Waiting on the vendor report"],
            ["Docs", "Guide published", "Ben", "in progress", ""],
        ],
    )
    assert [r["text"] for r in analyse("", model=model)["risks"]] == [
        "Waiting on the vendor report"
    ]


def test_a_board_heading_explained_in_parentheses_and_a_long_item_with_a_number():
    text = (
        "STORMS (risks ahead)\n\n"
        "- school holidays: 2 of 5 away in August, reviews will queue up\n\n"
        "HARBOUR (where we want to be)\n\n"
        "- the new pipeline live by the end of Q3\n"
    )
    assert _risks(text) == ["school holidays: 2 of 5 away in August, reviews will queue up"]


def test_a_policy_heading_is_no_risks_section():
    text = (
        "## Release blockers policy\n\n"
        "- Release dates have moved before without an announcement\n"
        "- A patch release goes out within a week of a security fix\n"
    )
    assert _risks(text) == []
    assert heading_role("Release blockers policy") in {None, "notes"}
    assert heading_role("Release blockers") == "risks"


def test_an_agenda_with_the_discussion_typed_under_it_is_read_like_notes():
    text = (
        "## Agenda\n\n"
        "- Storage layer [Ana]\n"
        "- Ben is concerned that the new cache hides stale reads from the replica\n"
        "- No objection to shipping the cache behind a flag in 2.3.\n"
        "- Ana will write up the benchmark numbers for the next call\n"
        "- Docs [Ben]\n"
    )
    digest = analyse(text)
    assert digest["decisions"] == ["No objection to shipping the cache behind a flag in 2.3."]
    assert [r["text"] for r in digest["risks"]] == [
        "Ben is concerned that the new cache hides stale reads from the replica"
    ]


def test_a_plain_agenda_stays_quiet():
    text = "## Agenda\n\n- Risks review\n- Budget approval\n- Any other business\n"
    digest = analyse(text)
    assert digest["decisions"] == [] and digest["risks"] == []


def test_what_we_agreed_introduces_decisions_in_a_mail_body():
    text = (
        "Hi all,\n\n"
        "Thanks for the session today. A short recap follows.\n\n"
        "What we agreed\n"
        "- The pilot covers the two northern depots only.\n"
        "- Status calls move to Thursdays.\n"
    )
    assert _decisions(text) == [
        "The pilot covers the two northern depots only.",
        "Status calls move to Thursdays.",
    ]


@pytest.mark.parametrize(
    ("text", "decision"),
    [
        (
            "- 10:15 - decision to fail over to the second region rather than wait",
            "10:15 - decision to fail over to the second region rather than wait",
        ),
        (
            "- ana wants a written rollback plan for every deploy (one page). agreed.",
            "ana wants a written rollback plan for every deploy (one page). agreed.",
        ),
    ],
)
def test_timeline_and_trailing_verdicts(text, decision):
    assert _decisions(text) == [decision]


@pytest.mark.parametrize(
    "text",
    [
        "The notes go to the wiki once the next call has approved them.",
        "Status values: Draft, Review, Accepted.",
        "The decision to be taken next week is the hosting model.",
    ],
)
def test_not_decisions_either(text):
    assert _decisions(text) == []


def test_a_bot_table_whose_first_row_is_a_topic_line_is_read_as_prose():
    model = _table(
        ["Follow-up on last week's action items", "ria_k", "10:01:12"],
        [
            ["INFO the switch-over depends on the carrier's new circuit", "tom_b", "10:04:40"],
            ["AGREED no config changes during the move week", "ria_k", "10:09:02"],
        ],
    )
    digest = analyse("", model=model)
    assert digest["decisions"] == ["no config changes during the move week"]
    assert [r["text"] for r in digest["risks"]] == [
        "the switch-over depends on the carrier's new circuit"
    ]


def test_section_words_alone_on_a_line_name_the_section_below():
    model = DocumentModel(
        blocks=[
            Block("heading", "Decisions", 1),
            Block("list_item", "Agreed: release notes move into the wiki."),
            Block("paragraph", "Actions"),
            Block("speaker", "will move the release notes by Friday", speaker="Kim"),
            Block("paragraph", "Concerns"),
            Block("list_item", "The wiki export is still in beta; it may drop images.", level=1),
        ]
    )
    digest = analyse("", model=model)
    assert digest["decisions"] == ["release notes move into the wiki."]
    assert [r["text"] for r in digest["risks"]] == [
        "The wiki export is still in beta; it may drop images."
    ]


@pytest.mark.parametrize(
    ("text", "decision"),
    [
        (
            "- Nightly full re-index (status quo): rejected, too slow.",
            "Nightly full re-index (status quo): rejected, too slow.",
        ),
        (
            "Motion to renew the hosting contract for two years: passed 6-0-1.",
            "Motion to renew the hosting contract for two years: passed 6-0-1.",
        ),
        (
            "Adopted the new code of conduct wording.",
            "Adopted the new code of conduct wording.",
        ),
        ("Consensus: publish the notes on the forum.", "publish the notes on the forum."),
        (
            "Nobody objected, so the meeting moves to Wednesdays.",
            "Nobody objected, so the meeting moves to Wednesdays.",
        ),
    ],
)
def test_more_verdict_families(text, decision):
    assert _decisions(text) == [decision]


@pytest.mark.parametrize(
    "text",
    [
        "Show of hands favoured option B; the chairs will confirm on the list.",
        "Design sign-off received on 12 June.",
    ],
)
def test_unconfirmed_is_not_decided(text):
    assert _decisions(text) == []


def test_a_rejected_alternative_is_a_decision_even_among_the_options():
    text = (
        "## Considered options\n\n"
        "- Keep weekly releases: rejected, too slow for fixes.\n"
        "- Continuous delivery from main: chosen.\n"
    )
    assert _decisions(text) == ["Keep weekly releases: rejected, too slow for fixes."]


@pytest.mark.parametrize(
    ("heading", "role"),
    [
        ("Decisions needed", "questions"),
        ("Pending decisions", "questions"),
        ("Decisions (proposed)", "questions"),
        ("Items for decision", "notes"),
        ("Resolved issues", "done"),
        ("Risks (closed)", "done"),
        ("Risk mitigations", "notes"),
        ("Key decisions", "decisions"),
        ("Risks and issues", "risks"),
    ],
)
def test_headings_of_open_decisions_and_closed_risks(heading, role):
    assert heading_role(heading) == role


def test_items_under_decisions_needed_are_not_decisions():
    text = "## Decisions needed\n\n- Approve the extra contractor budget\n- Choose the pilot site\n"
    assert _decisions(text) == []


def test_a_numbered_risk_label():
    assert _risks("R4: the hosting quote may exceed the budget line.") == [
        "the hosting quote may exceed the budget line."
    ]


def test_a_decision_or_risk_said_again_in_a_summary_is_one_entry():
    text = (
        "## Discussion\n\n"
        "- RESOLUTION: publish the second draft of the test plan on Monday\n"
        "- Risk: the lab hardware may not arrive before the test window\n\n"
        "## Summary\n\n"
        "- Resolved to publish the second draft of the test plan on Monday.\n"
        "- Concern: the lab hardware may not arrive before the test window.\n"
    )
    digest = analyse(text)
    assert digest["decisions"] == ["publish the second draft of the test plan on Monday"]
    assert [r["text"] for r in digest["risks"]] == [
        "the lab hardware may not arrive before the test window"
    ]


@pytest.mark.parametrize(
    ("text", "decisions"),
    [
        (
            "- ADR-0031 Event sourcing for orders: approved\n"
            "- ADR-0032 GraphQL gateway: deferred to the Q3 review\n"
            "- Status: approved\n",
            [
                "ADR-0031 Event sourcing for orders: approved",
                "ADR-0032 GraphQL gateway: deferred to the Q3 review",
            ],
        ),
        ("- CP-12 Upload from camera: Accepted\n", []),
    ],
)
def test_a_topic_with_its_verdict(text, decisions):
    assert _decisions(text) == decisions


def test_sentences_and_labels_in_the_notes_cells_of_a_meeting_table():
    model = _table(
        ["Item", "Who", "Notes"],
        [
            ["Tracing rollout", "Ana", "The team agreed to start with the checkout service."],
            ["Budget", "Ben", "Concern: the license quote may exceed the budget line"],
            ["Dashboards", "Cai", "Approved"],
        ],
    )
    digest = analyse("", model=model)
    assert digest["decisions"] == ["The team agreed to start with the checkout service."]
    assert [r["text"] for r in digest["risks"]] == ["the license quote may exceed the budget line"]


def test_a_blocked_task_in_an_issue_export_is_a_risk():
    model = _table(
        ["Key", "Summary", "Status", "Assignee"],
        [
            ["OPS-1", "Rotate the signing keys", "Blocked", "Ana"],
            ["OPS-2", "Update the runbook", "In Progress", "Ben"],
        ],
    )
    assert [r["text"] for r in analyse("", model=model)["risks"]] == ["Rotate the signing keys"]


def test_known_issue_label():
    assert _risks("Known issue: exports time out for tenants with over 1M rows.") == [
        "exports time out for tenants with over 1M rows."
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Tabled until the next meeting: the logo discussion.",
        "The logo discussion was tabled until next month.",
        "Vote result: 7 in favour, 1 against; the charter amendment passes.",
        "Go/no-go: GO for the Saturday cut-over.",
        "The release date moves to 14 May.",
        "Going forward we will publish notes within 48 hours.",
    ],
)
def test_tabled_votes_go_decisions_and_moved_dates(text):
    assert len(_decisions(text)) == 1


@pytest.mark.parametrize(
    "text",
    [
        "The budget will be exceeded if the scope grows.",
        "Two developers leave in June and are not yet replaced.",
        "Late delivery of the API would delay UAT by two weeks.",
        "Shortage of testers in the summer period.",
    ],
)
def test_more_threat_wordings(text):
    assert len(_risks(text)) == 1


def test_an_idea_nobody_owns_is_no_risk():
    assert _risks("Could we try a shorter format next time? (idea, nobody owns it)") == []


def test_a_speaker_turn_under_decisions_counts_only_for_its_decided_sentences():
    model = DocumentModel(
        blocks=[
            Block("heading", "Decisions", 2),
            Block("speaker", "I still think the cache should be optional", speaker="Ana Ruiz"),
            Block("speaker", "Fine by me. Agreed: the cache ships off by default.", speaker="Ben"),
        ]
    )
    assert analyse("", model=model)["decisions"] == ["the cache ships off by default."]


def test_discussion_and_decisions_heading_is_read_as_notes():
    assert heading_role("Discussion and decisions") == "notes"
    text = (
        "## Discussion and decisions\n\n"
        "- The vendor demo went well overall\n"
        "- The group agreed to pilot the tool in two teams.\n"
    )
    assert _decisions(text) == ["The group agreed to pilot the tool in two teams."]


def test_risk_items_of_an_issue_export():
    model = _table(
        ["Issue key", "Issue Type", "Summary", "Status"],
        [
            ["PRJ-7", "Story", "Export invoices as CSV", "Open"],
            ["PRJ-8", "Risk", "Payment provider deprecates the v2 API in March", "Open"],
        ],
    )
    assert [r["text"] for r in analyse("", model=model)["risks"]] == [
        "Payment provider deprecates the v2 API in March"
    ]


@pytest.mark.parametrize(
    ("text", "decisions"),
    [
        (
            "- ADR-0040 Outbox pattern for events: Accepted",
            ["ADR-0040 Outbox pattern for events: Accepted"],
        ),
        ("Disposition: merge the RFC as written.", ["merge the RFC as written."]),
        ("## Decisions\n\n- None yet\n- Nothing to report\n", []),
    ],
)
def test_proposal_verdicts_dispositions_and_empty_entries(text, decisions):
    assert _decisions(text) == decisions


@pytest.mark.parametrize(
    "text",
    [
        "This is a low-risk change to the logging config.",
        "The risk of data loss is low.",
        "Concerns were addressed by the new design.",
        "Removed the deprecated v1 endpoints.",
        "Blocker bugs: none.",
        "Concerned users can read the FAQ.",
    ],
)
def test_reassurances_and_past_deprecations_are_no_risks(text):
    assert _risks(text) == []


def test_a_coming_deprecation_is_a_risk():
    assert _risks("The v1 API will be deprecated in March.") == [
        "The v1 API will be deprecated in March."
    ]


def test_prose_above_a_register_s_own_sub_sections_is_an_introduction():
    text = (
        "# Warehouse roll-out - risk register\n\n"
        "Review of 3 March 2026. Prepared by the project office for the board.\n\n"
        "## Open risks\n\n"
        "- Scanner firmware may not be certified before the pilot\n"
    )
    assert _risks(text) == ["Scanner firmware may not be certified before the pilot"]


@pytest.mark.parametrize(
    "text",
    [
        "## Risks\n\n- At risk 🟡\n",
        "The open issue 4411 is no longer considered a release blocker.",
    ],
)
def test_a_status_value_or_a_cleared_blocker_is_no_risk(text):
    assert _risks(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Three reports this quarter, all resolved.", []),
        ("Repository moved from the sandbox org to the foundation org.", []),
        (
            "Code freeze moved from 3 June to 10 June.",
            ["Code freeze moved from 3 June to 10 June."],
        ),
        (
            "The board resolved to renew the lease.",
            ["The board resolved to renew the lease."],
        ),
    ],
)
def test_resolved_issues_and_moved_things_are_not_decisions_but_moved_dates_are(text, expected):
    assert _decisions(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Release decision: ship 4.2 on Thursday.", ["ship 4.2 on Thursday."]),
        ("Go/no-go decision: GO", ["Go/no-go decision: GO"]),
        ("Pending decision: which region to use", []),
    ],
)
def test_a_named_decision_label(text, expected):
    assert _decisions(text) == expected


def test_watch_items_heading_lists_risks():
    assert heading_role("Watch items") == "risks"
    assert _risks("## Things to watch\n\n- disk on db-3 fills up around Monday\n") == [
        "disk on db-3 fills up around Monday"
    ]


def test_numbered_decision_ids():
    assert _decisions("D3: the API stays on v2 until June.") == ["the API stays on v2 until June."]
    assert _decisions("DEC-12: Postgres is the default store.") == [
        "Postgres is the default store."
    ]
