"""Decisions, risks and the summary (workers.digest.decisions / risks / summary).

Inline texts only; no database: ``pytest --noconftest tests/test_digest_decisions_risks.py``.
"""

from __future__ import annotations

import pytest

from workers.analyse import analyse
from workers.digest.blocks import Block, DocumentModel


@pytest.mark.parametrize(
    ("text", "decision"),
    [
        (
            "Agreed: the release moves to a two-week train.",
            "the release moves to a two-week train.",
        ),
        ("AGREED: ship it on Tuesday (+5, 0, -0)", "ship it on Tuesday (+5, 0, -0)"),
        ("#agreed ship it on Tuesday", "ship it on Tuesday"),
        ("Resolved: the support window is 12 months.", "the support window is 12 months."),
        ("RESOLUTION: last week's minutes approved", "last week's minutes approved"),
        (
            "Chosen option: PostgreSQL, because the team knows it.",
            "Chosen option: PostgreSQL, because the team knows it.",
        ),
        (
            "The group discussed and accepted the proposal to drop the old wiki.",
            "The group discussed and accepted the proposal to drop the old wiki.",
        ),
        (
            "Rejected: keeping path prefixes during the transition.",
            "Rejected: keeping path prefixes during the transition.",
        ),
        (
            "Per-endpoint versioning was shelved for now.",
            "Per-endpoint versioning was shelved for now.",
        ),
        (
            "We are moving directly to the hosted runners.",
            "We are moving directly to the hosted runners.",
        ),
        ("Motion carried: the budget is approved.", "Motion carried: the budget is approved."),
    ],
)
def test_decision_wordings(text, decision):
    assert analyse(text)["decisions"] == [decision]


@pytest.mark.parametrize(
    "text",
    [
        "Should we move the meeting to Tuesday?",
        "The proposal is still to be decided next week.",
        "Proposal: drop the old wiki (no decision yet).",
        "Spend remains within the approved budget.",
    ],
)
def test_not_decisions(text):
    assert analyse(text)["decisions"] == []


def test_an_adr_decision_stays_one_entry_across_line_wraps():
    text = (
        "# ADR 7: Event broker\n\n"
        "## Decision\n\n"
        "We will use the managed Kafka service for order events, because it\n"
        "keeps ordering per key and the platform team already runs it.\n\n"
        "## Consequences\n\n"
        "Teams will need to migrate their consumers.\n"
    )
    assert analyse(text)["decisions"] == [
        "We will use the managed Kafka service for order events, because it keeps ordering per "
        "key and the platform team already runs it."
    ]


def test_items_of_a_decisions_section_are_decisions_but_field_lines_are_not():
    text = (
        "## Decisions\n\n"
        "Shepherd: Kwame Mensah\n\n"
        "- Custom reports will be rebuilt by the BI team.\n"
        "- No new customisations from today.\n"
    )
    assert analyse(text)["decisions"] == [
        "Custom reports will be rebuilt by the BI team.",
        "No new customisations from today.",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "The release is blocked on the security review.",
        "We are still waiting on the vendor's answer about single-record deletion.",
        "D2 depends on Legal's capacity.",
        "A signed data processing agreement is required before go-live.",
        "Concern: translations are tied to the old file layout.",
        "Blocker: the CI runners are out of disk.",
        "There is a risk that the vendor misses the March date.",
    ],
)
def test_risk_wordings(text):
    assert len(analyse(text)["risks"]) == 1


@pytest.mark.parametrize(
    "text",
    [
        "Risks are reviewed weekly by the board.",
        "No new risks this week.",
        "The release is no longer blocked.",
    ],
)
def test_not_risks(text):
    assert analyse(text)["risks"] == []


def test_items_of_a_risks_section_are_risks_and_the_heading_is_not():
    text = (
        "## Risks and blockers\n\n"
        "- Product teams may not have room in their roadmaps.\n"
        "- Next review: 12 March 2026\n"
    )
    risks = analyse(text)["risks"]
    assert [r["text"] for r in risks] == ["Product teams may not have room in their roadmaps."]


def test_risk_register_likelihood_times_impact_and_closed_rows():
    text = (
        "Risk | Likelihood | Impact | Status\n"
        "Vendor misses the date | High | High | Open\n"
        "Key engineer leaves | Low | Medium | Open\n"
        "Old licence expires | High | High | Closed\n"
    )
    risks = analyse(text)["risks"]
    assert [(r["text"], r["severity"]) for r in risks] == [
        ("Vendor misses the date", "high"),
        ("Key engineer leaves", "low"),
    ]


def test_the_summary_leads_with_what_changed():
    text = (
        "Date: 4 March 2026\n\n"
        "The team reviewed the migration dashboards and the test reports in detail.\n\n"
        "Integration testing covered the billing flows and the reporting exports.\n\n"
        "The go-live moved from 3 March to 17 March because the vendor API is late.\n"
    )
    summary = analyse(text)["summary"]
    assert (
        summary[0] == "The go-live moved from 3 March to 17 March because the vendor API is late."
    )


def test_consensus_is_a_decision_but_a_person_agreeing_to_do_something_is_a_task():
    text = (
        "There was also consensus that new crates are a policy question. "
        "@svalente agreed to collect the list of files every repository needs."
    )
    digest = analyse(text)
    assert digest["decisions"] == [
        "There was also consensus that new crates are a policy question."
    ]
    assert [a["owners"] for a in digest["action_items"]] == [["@svalente"]]


def test_blocking_label_is_a_risk():
    assert len(analyse("Blocking: the e2e suite is still red on two distros")["risks"]) == 1


@pytest.mark.parametrize(
    ("text", "decision"),
    [
        (
            "Three quotes were compared. Agreed: to award the contract to Northgate.",
            "to award the contract to Northgate.",
        ),
        ("Minutes of the last meeting agreed as a correct record.", None),
        ("19:09 <lunara> #agreed tag 1.0rc1 on Monday", "tag 1.0rc1 on Monday"),
        (
            "AGREED freeze infrastructure changes for the move",
            "freeze infrastructure changes for the move",
        ),
        ("The Steering Council accepts the community vote.", None),
        ("Code freeze moved from 14 July to 21 July because of the API change.", None),
    ],
)
def test_more_decision_conventions(text, decision):
    assert analyse(text)["decisions"] == [decision or text]


def test_a_slip_is_not_a_decision():
    assert analyse("The vendor API slipped by two weeks.")["decisions"] == []


@pytest.mark.parametrize(
    "text",
    [
        "The audit cannot start until the engagement letter is signed.",
        "The contract exposes the Foundation to a liability of EUR 180,000.",
        "Moderators report burnout after the traffic doubled.",
        "The adopters list is the weak point: only three adopters agreed to be named.",
        "The API is still in beta; if it changes again the sync breaks.",
        "We are stuck until the change board meets.",
    ],
)
def test_more_risk_wordings(text):
    assert len(analyse(text)["risks"]) == 1


def test_a_meeting_bot_table_is_read_as_prose():
    model = DocumentModel(
        blocks=[
            Block(
                "table",
                header=["Infra updates", "elena_r", "15:01"],
                rows=[
                    [
                        "INFO the move depends on the provider finishing the cross-connect",
                        "elena_r",
                        "15:02",
                    ],
                    ["AGREED freeze infrastructure changes from 3 to 7 August", "elena_r", "15:14"],
                    ["ACTION: jdiallo to draft the alert rules", "elena_r", "15:20"],
                ],
            )
        ]
    )
    digest = analyse("", model=model)
    assert [r["text"] for r in digest["risks"]] == [
        "the move depends on the provider finishing the cross-connect"
    ]
    assert digest["decisions"] == ["freeze infrastructure changes from 3 to 7 August"]
    assert [a["owners"] for a in digest["action_items"]] == [["jdiallo"]]


def test_thats_decided_and_an_embargo():
    digest = analyse(
        "Notes\n\nWe keep pg13 for 7.3, that's decided.\n\n"
        "The token fix is still under embargo until 21 Apr; it can't go in the changelog."
    )
    assert len(digest["decisions"]) == 1 and "pg13" in digest["decisions"][0]
    assert len(digest["risks"]) == 1 and "embargo" in digest["risks"][0]["text"]


def test_concern_as_a_verb_is_no_risk():
    digest = analyse("Notes\n\nThe remaining failures concern the import of old records.")
    assert digest["risks"] == []
    digest = analyse("Notes\n\nKP raised a concern that the quote may exceed the contingency.")
    assert len(digest["risks"]) == 1


def test_a_vote_tally_is_not_a_decision():
    digest = analyse("## Vote\n\n- For: 5. Against: 1 (Tobias). Abstain: 1.\n- Motion carried.\n")
    assert digest["decisions"] == ["Motion carried."]


def test_a_changes_risk_rating_is_not_a_risk():
    digest = analyse("Changes\n\nCHG0041872 Core switch firmware upgrade, DC2 Normal / High risk\n")
    assert digest["risks"] == []


def test_verdicts_written_several_ways():
    digest = analyse(
        "## Notes\n\n- Marcus Hale approved the priority actions on 2 April.\n"
        "- RTC 31207: Change accepted. The legacy functions go in 5.2.\n\n"
        "## Considered alternatives\n\n1. Keep 90 days of raw events: rejected, cost.\n"
        "2. Thirty days raw plus rollups: chosen.\n"
    )
    assert digest["decisions"] == [
        "Marcus Hale approved the priority actions on 2 April.",
        # a terse verdict keeps its item
        "RTC 31207: Change accepted. The legacy functions go in 5.2.",
        "Keep 90 days of raw events: rejected, cost.",
    ]


def test_discussion_under_an_agenda_item_is_read():
    digest = analyse(
        "## Agenda\n\n1. Release status\n"
        "   - Kai is concerned that third-party plugins import internal modules\n"
        "   - No objection to beta in 0.19.\n2. CI costs\n"
    )
    assert [r["text"] for r in digest["risks"]] == [
        "Kai is concerned that third-party plugins import internal modules"
    ]
    assert digest["decisions"] == ["No objection to beta in 0.19."]


def test_an_undecided_entry_and_a_status_header_cell():
    digest = analyse(
        "## Decisions\n\nDECIDED Use the existing scanners for the pilot.\n\n"
        "UNDECIDED Whether store managers get admin rights.\n\n"
        "## Status\n\n| Project status | AT RISK |\n|---|---|\n| Project owner | Noemi Kraus |\n"
    )
    assert digest["decisions"] == ["Use the existing scanners for the pilot."]
    assert digest["risks"] == []


# --- Conventions added for documents the tuning set did not show (issue 10, digest3) ---------


def _decided(text: str) -> list[str]:
    return analyse(text)["decisions"]


def _risk_texts(text: str) -> list[str]:
    return [r["text"] for r in analyse(text)["risks"]]


@pytest.mark.parametrize(
    "text",
    [
        # A decision with a condition of fact is taken all the same.
        "Consensus was to wait until Friday; if upstream has not tagged by then we ship the RC.",
        # The chair closing a point.
        "Let's keep the Friday freeze for now and revisit at the next retro.",
        # A board turning something down, or putting it off, decides.
        "The board declined the sponsorship request this year.",
        "The committee deferred the trademark policy to November.",
        "Consensus reached to advance the proposal to stage 2.",
    ],
)
def test_more_decision_wordings(text):
    assert _decided(text) == [text]


@pytest.mark.parametrize(
    "text",
    [
        "We agreed to ship if the board approves.",  # hangs on another decision
        "If we agreed to this, we would lose a week.",  # supposes
        "Hard stop: if not live by 14 September the go-live moves to January.",  # contingency
        "Hosting could exceed the budget approved in March.",  # a risk, not a decision
        "tmeyer to write up the plugin API proposal - carried over, now by next Wednesday",
        "Decision needed: who signs off the data model?",
        "There was no consensus on the naming.",
        "We did not reach consensus on the API.",
        "Agreed to disagree on naming; revisit later.",
    ],
)
def test_conditions_hypotheses_and_carried_over_items_are_no_decisions(text):
    assert _decided(text) == []


def test_a_risk_and_its_effect_in_two_sentences_are_one_risk():
    text = (
        "The hosting provider will end its free tier on 1 March 2027. "
        "Our CI and mirrors depend on that tier."
    )
    assert _risk_texts(text) == [text]


def test_a_review_nobody_has_done_yet_is_a_risk():
    text = "Mei pointed out the extra write load; the DBA team has not reviewed the plan yet."
    assert _risk_texts(text) == [text]


def test_a_question_of_fact_answered_yes_is_no_decision():
    text = "- DN: is the timestamp always UTC?\n- CW: Yes, always UTC with a Z suffix.\n"
    assert _decided(text) == []
    assert _decided("- Should the report mention the outage?\n- Yes.\n") != []


@pytest.mark.parametrize(
    ("text", "risky"),
    [
        ("DN: I object to deprecating it this year; our users upgrade every three years.", True),
        ("The status page certificate expires on 19 Oct; the auto-renewal failed twice.", True),
        ("GO: I propose we mark it deprecated in the next edition.", False),
        ("No objection to the new schedule.", False),
        ("The firewall blocker was cleared yesterday.", False),
        ("The blocker on the firewall is still open.", True),
    ],
)
def test_objections_and_expiries_are_risks_proposals_are_not(text, risky):
    assert bool(_risk_texts(text)) is risky


def test_two_risks_in_a_row_stay_two_unless_the_second_goes_on_about_the_first():
    text = (
        "Two gold members have not yet confirmed renewal. "
        "Marguerite raised a concern that the events budget assumed full renewals."
    )
    assert len(_risk_texts(text)) == 2
    assert len(_risk_texts("The installer fails signing. If it isn't fixed the RC slips.")) == 1


def test_bracketed_bot_commands_are_read_like_hash_commands():
    # MootBot prints "[AGREED] …" and "[ACTION] …"; meetingology adds "#progress", "#vote".
    text = (
        "[12:05] <chair> [AGREED] the team drafts the decision process page\n"
        "[12:06] <chair> [ACTION] persia to post the draft to the list\n"
        "[12:08] <chair> #progress the sync is half done\n"
    )
    digest = analyse(text)
    assert digest["decisions"] == ["the team drafts the decision process page"]
    assert [a["owners"] for a in digest["action_items"]] == [["persia"]]


def test_an_overloaded_team_is_a_risk():
    assert _risk_texts("The design team is overloaded until the new designer starts.") != []


def test_a_vote_record_decides_the_motion_above_it_as_one_decision():
    # A board's log: the motion, who proposed it, then the votes. The motion with its result
    # is the decision, whatever the result; a vote still open decides nothing.
    text = (
        "# Board votes\n\n## 2026-08-19: Travel grants\n\n"
        "**Proposal:** Fund up to 1,500 EUR of travel for two members?\n\n"
        "**Proposed by:** Ingrid Solvang\n\n**Votes:** Unanimous yes\n\n"
        "## 2026-09-02: Free servers\n\n"
        "**Proposal:** Accept the offer of free servers for 12 months?\n\n"
        "**Votes:** Yes from Hiroshi Kanda. No from Ingrid Solvang, Dele Ogun.\n\n"
        "## 2026-10-28: Signing authority\n\n"
        "**Proposal:** Give the treasurer sole signing authority for small payments?\n\n"
        "**Votes:** Yes from Dele Ogun. No vote yet from Ingrid Solvang.\n"
    )
    assert analyse(text)["decisions"] == [
        "Proposal: Fund up to 1,500 EUR of travel for two members? Votes: Unanimous yes",
        "Proposal: Accept the offer of free servers for 12 months? "
        "Votes: Yes from Hiroshi Kanda. No from Ingrid Solvang, Dele Ogun.",
    ]


def test_a_motion_set_in_bold_then_carried_is_one_decision():
    text = (
        "# Board meeting\n\n### Trademark\n\n"
        '**Register "Tidewater Maps" as an EU word mark.**\n\n'
        "Proposed by: Ingrid\n\nUnanimously approved.\n"
    )
    assert analyse(text)["decisions"] == [
        'Register "Tidewater Maps" as an EU word mark. Unanimously approved.'
    ]


def test_decision_rows_under_a_title_row_of_an_action_log():
    # One sheet: the action log, then a "Decisions" title row and rows of another shape.
    model = DocumentModel(
        [
            Block(
                "table",
                header=["Ref", "Raised", "Action", "Who", "By", "Status"],
                rows=[
                    ["A-31", "12/09/2026", "Get quotes for the pipe", "Treasurer", "", "Open"],
                    ["Decisions (14/11/2026)", "", "", "", "", ""],
                    ["D1", "Annual rent stays at £38 per full plot for 2027.", "", "", "", ""],
                    ["D2", "No bonfires on site from 1 January 2027.", "", "", "", ""],
                ],
            )
        ]
    )
    assert analyse("", model=model)["decisions"] == [
        "Annual rent stays at £38 per full plot for 2027.",
        "No bonfires on site from 1 January 2027.",
    ]


def test_a_leading_verdict_is_a_decision_though_conditioned():
    # "GO …, subject to …" was given; "pending the board" without a verdict was not.
    text = (
        "Go-live check\n\nNotes\n"
        "Decision: GO for Thursday, subject to the backfill rerun.\n"
        "Outcome: pending the board, subject to funding.\n"
    )
    assert analyse(text)["decisions"] == ["GO for Thursday, subject to the backfill rerun."]


def test_a_decision_needed_listed_among_decisions_is_not_one():
    text = (
        "# Report\n\n## Decisions\n\n"
        "- Decision taken by the Sponsor on 4 Nov: accept the December delivery.\n"
        "- Decision needed from the Board: whether to fund a second week of hire.\n"
    )
    assert analyse(text)["decisions"] == [
        "Decision taken by the Sponsor on 4 Nov: accept the December delivery."
    ]


def test_a_seconded_motion_then_its_verdict_is_one_decision():
    # Council minutes: the motion (proposed, seconded) and "Unanimously agreed." after it,
    # in the same long paragraph or on the next line.
    text = (
        "# Minutes\n\n## Neighbourhood plan\n\n"
        "The consultants have asked for an additional fee for the extra round of site "
        "assessment, which the clerk had expected after the delays to the consultation that "
        "were reported in May and again in June. The referendum is now unlikely before "
        "February. Cllr Pennick proposed, seconded by Cllr Oyelaran, that the council "
        "contribute a further £1,200 towards the fees. Unanimously agreed.\n\n"
        "## Payments\n\n"
        "Cllr Oyelaran proposed approval of the payments listed, seconded by Cllr Pennick.\n\n"
        "Unanimously agreed.\n"
    )
    assert analyse(text)["decisions"] == [
        "Cllr Pennick proposed, seconded by Cllr Oyelaran, that the council contribute a "
        "further £1,200 towards the fees. Unanimously agreed.",
        "Cllr Oyelaran proposed approval of the payments listed, seconded by Cllr Pennick. "
        "Unanimously agreed.",
    ]


def test_an_unconcluded_item_and_a_struck_out_task_under_conclusion_are_not_decisions():
    text = (
        "# Dev meeting\n\n## Range#step\n\nConclusion:\n\n"
        "* not concluded. hollis will write up the two options by next Monday.\n\n"
        "## Warnings\n\nConclusion:\n\n* lead: go ahead, but only under -W:deprecated\n"
        "* ~~kaede to add a NEWS entry~~ already in NEWS\n"
    )
    assert analyse(text)["decisions"] == ["lead: go ahead, but only under -W:deprecated"]
