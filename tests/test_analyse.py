"""Tests for workers.analyse: the digest of the fixture corpus and tables of single cases.

No database, network or Redis: run with ``pytest --noconftest tests/test_analyse.py``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from workers.analyse import MAX_ITEMS, analyse
from workers.extract import detect_type, extract_text

FIXTURES = Path(__file__).parent / "fixtures"
EXPECTED = FIXTURES / "expected"


def _cases() -> list[Any]:
    cases = []
    for path in sorted(EXPECTED.glob("*.json")):
        expected = json.loads(path.read_text(encoding="utf-8"))
        for fmt in expected["formats"]:
            cases.append(pytest.param(path.stem, fmt, expected, id=f"{path.stem}.{fmt}"))
    return cases


def _applies(fact: Any, fmt: str) -> bool:
    return not isinstance(fact, dict) or fmt in fact.get("formats", [fmt])


@pytest.fixture(scope="module")
def digests() -> dict[tuple[str, str], dict[str, Any]]:
    """Every fixture extracted and analysed once for the module."""
    cache: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(FIXTURES.glob("*.*")):
        if path.suffix in {".py"} or path.stem == "owner_password_only":
            continue
        extracted = extract_text(path, detect_type(path, path.name))
        cache[(path.stem, path.suffix.lstrip("."))] = analyse(
            extracted.text, title=path.stem, pages=extracted.pages
        )
    return cache


@pytest.mark.parametrize(("document", "fmt", "expected"), _cases())
def test_fixture_digest_has_expected_facts(digests, document, fmt, expected):
    """Does each format of each fixture yield the facts recorded in expected/*.json?"""
    digest = digests[(document, fmt)]

    if "action_item_count" in expected:
        assert len(digest["action_items"]) == expected["action_item_count"], digest["action_items"]
    for want in expected.get("action_items", []):
        if not _applies(want, fmt):
            continue
        found = [a for a in digest["action_items"] if want["text_contains"] in a["text"]]
        assert found, f"no action containing {want['text_contains']!r}: {digest['action_items']}"
        for key in ("owner", "due_date", "due_text", "priority"):
            if key in want:
                assert found[0][key] == want[key], (key, found[0])

    risk_count = expected.get("risk_count", {}).get(fmt)
    if risk_count is not None:
        assert len(digest["risks"]) == risk_count, digest["risks"]
    for want in expected.get("risks", []):
        if not _applies(want, fmt):
            continue
        found = [r for r in digest["risks"] if want["text_contains"] in r["text"]]
        assert found, f"no risk containing {want['text_contains']!r}: {digest['risks']}"
        for key in ("severity", "category"):
            if key in want:
                assert found[0][key] == want[key], (key, found[0])

    for phrase in expected.get("decisions", []):
        assert any(phrase in d for d in digest["decisions"]), (phrase, digest["decisions"])
    for phrase in expected.get("not_decisions", []):
        assert not any(phrase in d for d in digest["decisions"]), (phrase, digest["decisions"])
    if "max_decisions" in expected:
        assert len(digest["decisions"]) <= expected["max_decisions"], digest["decisions"]

    for person in expected.get("people", []):
        if _applies(person, fmt):
            name = person["name"] if isinstance(person, dict) else person
            assert name in digest["people"], digest["people"]
    for wrong in expected.get("not_people", []):
        assert wrong not in digest["people"]

    dates = digest["key_dates"]
    for want in expected.get("key_dates", []):
        if not _applies(want, fmt):
            continue
        if isinstance(want, str):
            assert want in {d["date"] for d in dates}, (want, dates)
        else:
            assert any(
                d["date"] == want["date"] and want.get("text_contains", "") in d["text"]
                for d in dates
            ), (want, dates)

    hits = [k for k in expected.get("keywords", []) if k in digest["keywords"]]
    assert len(hits) >= expected.get("min_keyword_hits", 0), digest["keywords"]

    pages = expected.get("pages", {}).get(fmt)
    assert digest["stats"]["pages"] == pages
    assert digest["stats"]["words"] > 100
    assert digest["stats"]["reading_minutes"] >= 1
    # A bare CSV table has no prose to summarise.
    assert (0 if fmt == "csv" else 1) <= len(digest["summary"]) <= 5


def test_digest_is_json_serialisable_and_deterministic(digests):
    """Analysing the same text twice gives byte-identical JSON."""
    text = (FIXTURES / "meeting_minutes.txt").read_text(encoding="utf-8")
    first = json.dumps(analyse(text, title="Minutes"), sort_keys=True)
    second = json.dumps(analyse(text, title="Minutes"), sort_keys=True)
    assert first == second
    assert set(json.loads(first)) == {
        "summary",
        "action_items",
        "done_actions",
        "risks",
        "decisions",
        "key_dates",
        "superseded_dates",
        "document_date",
        "people",
        "keywords",
        "stats",
    }


def test_summary_sentences_come_from_the_text_and_lead_with_what_changed():
    """Sentences are quoted as written; a decision leads, the rest follow in text order."""
    text = (FIXTURES / "project_charter.txt").read_text(encoding="utf-8")
    summary = analyse(text)["summary"]
    assert summary[0] == "The charter was approved by the steering committee on 15 January 2027."
    positions = [text.index(sentence) for sentence in summary[1:]]
    assert len(positions) >= 2 and positions == sorted(positions)


def _one_action(line: str, **kwargs: Any) -> dict[str, Any]:
    actions = analyse(line, **kwargs)["action_items"]
    assert len(actions) == 1, actions
    return actions[0]


@pytest.mark.parametrize(
    ("line", "owner", "due_date", "due_text", "priority"),
    [
        (
            "Action: Maria to send the revised budget by 12 March 2027",
            "Maria",
            "2027-03-12",
            "12 March 2027",
            "medium",
        ),
        (
            "John will circulate the draft plan by Friday 5 March 2027.",
            "John",
            "2027-03-05",
            "Friday 5 March 2027",
            "medium",
        ),
        ("AI: Chen Wei - update the RAID log", "Chen Wei", None, None, "medium"),
        ("TODO: book the training room", None, None, None, "medium"),
        (
            "- [ ] Review vendor contract (Owner: Lena Fischer, Due: 2027-04-01)",
            "Lena Fischer",
            "2027-04-01",
            "2027-04-01",
            "medium",
        ),
        ("Action: Omar to fix the login defect ASAP", "Omar", None, None, "high"),
        ("Action: tidy the shared drive when possible", None, None, None, "low"),
        (
            "Action (Priya): confirm room booking due 03/04/2027",
            "Priya",
            "2027-04-03",
            "03/04/2027",
            "medium",
        ),
        (
            "Action: Sam to send notes by March 14, 2027",
            "Sam",
            "2027-03-14",
            "March 14, 2027",
            "medium",
        ),
        ("Action: Ana to reply by Friday", "Ana", None, "Friday", "medium"),
        ("Action: Ana to reply by end of month", "Ana", None, "end of month", "medium"),
        ("Action: Ana to reply by 12 March", "Ana", None, "12 March", "medium"),
    ],
)
def test_action_item_fields(line, owner, due_date, due_text, priority):
    action = _one_action(line)
    assert (action["owner"], action["due_date"], action["due_text"], action["priority"]) == (
        owner,
        due_date,
        due_text,
        priority,
    )


@pytest.mark.parametrize(
    ("line", "reference", "due_date"),
    [
        ("Action: Ana to reply by Friday", dt.date(2027, 3, 3), "2027-03-05"),  # a Wednesday
        ("Action: Ana to reply by Friday", dt.date(2027, 3, 5), "2027-03-12"),  # on a Friday
        ("Action: Ana to reply by next Friday", dt.date(2027, 3, 1), "2027-03-12"),
        ("Action: Ana to reply by end of month", dt.date(2027, 2, 10), "2027-02-28"),
        ("Action: Ana to reply by tomorrow", dt.date(2027, 12, 31), "2028-01-01"),
        ("Action: Ana to reply within 2 weeks", dt.date(2027, 3, 1), "2027-03-15"),
        ("Action: Ana to reply by 12 March", dt.date(2027, 3, 1), "2027-03-12"),
        ("Action: Ana to reply by 5 January", dt.date(2027, 12, 20), "2028-01-05"),
    ],
)
def test_relative_dates_resolve_only_against_a_reference_date(line, reference, due_date):
    assert _one_action(line, reference_date=reference)["due_date"] == due_date
    assert _one_action(line)["due_date"] is None


def test_numeric_dates_follow_dayfirst():
    line = "Action: Ana to reply by 03/04/2027"
    assert _one_action(line)["due_date"] == "2027-04-03"
    assert _one_action(line, dayfirst=False)["due_date"] == "2027-03-04"
    # 25 cannot be a month, whatever the convention.
    assert _one_action("Action: Ana to reply by 04/25/2027")["due_date"] == "2027-04-25"


def test_invalid_dates_are_ignored():
    action = _one_action("Action: Ana to reply by 31 February 2027")
    assert action["due_date"] is None


def test_owner_and_due_lines_attach_to_the_action_above():
    text = "Action: Update the project plan\nOwner: Tom Brennan\nDue: 20 March 2027\n"
    action = _one_action(text)
    assert action["owner"] == "Tom Brennan"
    assert action["due_date"] == "2027-03-20"


@pytest.mark.parametrize(
    "sentence",
    [
        "The system will support single sign-on for all users.",
        "We will review progress at the next meeting.",
        "Maria will be on leave in April.",
        "Budget to be confirmed by finance.",
        "- [x] Send the minutes",
        "Finance will review the numbers; finance is busy this month.",
    ],
)
def test_sentences_that_are_not_action_items(sentence):
    assert analyse(sentence)["action_items"] == []


@pytest.mark.parametrize(
    ("line", "severity", "category"),
    [
        ("Risk: Supplier may miss the delivery date, delaying go-live", "medium", "schedule"),
        ("Risk (High): budget overrun of 15% on hardware", "high", "budget"),
        ("Risk: loss of key staff during migration. Impact: low", "low", "resource"),
        ("Risk: GDPR audit findings could delay launch. Severity: critical", "high", "compliance"),
        ("Risk: scope creep from new feature requests", "medium", "scope"),
        ("Risk: the payment API has severe performance problems", "high", "technical"),
        ("There is a risk that the office move distracts the team.", "medium", "other"),
        ("Issue: a minor bug in the export module", "low", "technical"),
    ],
)
def test_risk_severity_and_category(line, severity, category):
    risks = analyse(line)["risks"]
    assert len(risks) == 1, risks
    assert (risks[0]["severity"], risks[0]["category"]) == (severity, category)


@pytest.mark.parametrize(
    ("likelihood", "impact", "severity"),
    [
        ("High", "High", "high"),
        ("Medium", "High", "high"),
        ("Low", "High", "medium"),
        ("Medium", "Medium", "medium"),
        ("Low", "Medium", "low"),
        ("5", "4", "high"),
        ("1", "2", "low"),
    ],
)
def test_register_severity_is_likelihood_times_impact(likelihood, impact, severity):
    text = (
        "Risk | Likelihood | Impact | Owner\n"
        f"Data centre lease ends early | {likelihood} | {impact} | Ruth Adler\n"
    )
    digest = analyse(text)
    assert [r["severity"] for r in digest["risks"]] == [severity]
    assert digest["people"] == ["Ruth Adler"]


def test_register_severity_column_wins_over_likelihood_and_impact():
    text = (
        "ID | Description | Likelihood | Impact | Rating\nR1 | Key supplier fails | Low | Low | Red"
    )
    assert analyse(text)["risks"][0]["severity"] == "high"


def test_risk_process_sentences_are_not_risks():
    text = "The risk register was reviewed. Risks rated high are reviewed weekly by the board."
    assert analyse(text)["risks"] == []


@pytest.mark.parametrize(
    ("text", "is_decision"),
    [
        ("Decision: Use Postgres for the reporting store.", True),
        ("We agreed to move the go-live to June.", True),
        ("The board approved the budget increase.", True),
        ("It was decided that vendor B is preferred.", True),
        ("The change request was approved on 3 May 2027.", True),
        ("The budget change is awaiting approval from the sponsor.", False),
        ("Spend remains within the approved budget.", False),
        ("Once approved, the plan will be published.", False),
        ("The design has not yet been agreed.", False),
    ],
)
def test_decisions(text, is_decision):
    assert bool(analyse(text)["decisions"]) is is_decision


def test_people_from_attendees_and_fields_without_false_positives():
    text = (
        "Attendees: Dr. Amara Nwosu (Chair); Jonas Berg, Project Manager; Ana Silva & Lee Park\n"
        "Prepared by: Fatima Zahra - PMO\n"
        "Action: March deliverables reviewed\n"
        "Monday: Finance review\n"
        "Action: Jonas to confirm the venue by 2 June 2027\n"
    )
    people = analyse(text)["people"]
    assert people == ["Amara Nwosu", "Jonas Berg", "Ana Silva", "Lee Park", "Fatima Zahra"]


def test_attendees_section_lists_people():
    text = "Attendees\nMaria Lopez (PM)\nTom Brennan\n\nNotes\nNothing else.\n"
    assert analyse(text)["people"] == ["Maria Lopez", "Tom Brennan"]


def test_key_dates_are_sorted_and_labelled():
    text = "Go-live: 14 June 2027\nKick-off on 1 February 2027.\nReview 2027-03-15"
    dates = analyse(text)["key_dates"]
    assert [d["date"] for d in dates] == ["2027-02-01", "2027-03-15", "2027-06-14"]
    assert dates[-1]["text"] == "Go-live: 14 June 2027"


def test_pdf_wrapped_lines_are_rejoined():
    """A sentence wrapped by a PDF still yields one action with its due date."""
    text = (
        "- Action: Maria Lopez to send the revised budget to the steering committee by\n"
        "12 March 2027 so that the sponsor can review it.\n"
    )
    action = _one_action(text)
    assert action["owner"] == "Maria Lopez"
    assert action["due_date"] == "2027-03-12"


def test_keywords_skip_names_and_stop_words():
    text = "\n".join(
        ["Maria Lopez reviewed the data warehouse migration."] * 3
        + ["The data warehouse migration needs more testers."] * 2
    )
    keywords = analyse(text)["keywords"]
    assert keywords[0] == "data warehouse migration"
    assert not {"maria", "lopez", "the", "more"} & set(keywords)


def test_empty_text_gives_an_empty_digest():
    digest = analyse("")
    assert digest["summary"] == [] and digest["action_items"] == [] and digest["people"] == []
    assert digest["stats"] == {"pages": None, "words": 0, "reading_minutes": 0}


def test_stats_count_words_and_reading_time():
    digest = analyse("word " * 461, pages=3)
    assert digest["stats"] == {"pages": 3, "words": 461, "reading_minutes": 3}


def test_large_text_is_bounded():
    """A 2 MB document of repeated minutes still gives capped, well-formed lists."""
    block = (FIXTURES / "meeting_minutes.txt").read_text(encoding="utf-8")
    text = "\n".join(block.replace("2027", str(2027 + i % 50)) for i in range(1200))[:2_000_000]
    digest = analyse(text)
    for key in ("action_items", "risks", "decisions", "people"):
        assert len(digest[key]) <= MAX_ITEMS
    assert len(digest["action_items"]) == MAX_ITEMS  # distinct years make distinct items
    assert len(digest["keywords"]) <= 10
    assert digest["stats"]["words"] > 300_000
