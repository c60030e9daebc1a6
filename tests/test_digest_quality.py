"""Tests for the digest quality bench (bench/digest_quality.py, bench/_quality_match.py).

The matcher and the scores on small hand-made labels and outputs, the keyword baseline on a
tiny text, and one run of the script's ``main()`` on a two-file corpus written to tmp_path (it
runs the real extractor and analyser, so only figures that do not depend on the analyser's
quality are asserted). No database, network or Redis: ``pytest --noconftest`` works too.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
if str(BENCH) not in sys.path:
    sys.path.append(str(BENCH))  # appended: bench/search.py etc. must not shadow anything

import _quality_match as qm  # noqa: E402
import digest_quality  # noqa: E402


def label(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "document": "docs/x.md",
        "split": "tune",
        "format": "md",
        "actions": [],
        "done_actions": [],
        "decisions": [],
        "risks": [],
    }
    return base | fields


def action(text: str, owner: str | None = None, due: str | None = None, **more: Any) -> dict:
    return {"text": text, "owner": owner, "due_date": due} | more


# -- matcher ----------------------------------------------------------------------------------


def test_tokens_are_lower_case_words_without_stop_words_or_punctuation() -> None:
    assert qm.tokens("We've AGREED: move the go-live to 17 March!") == {
        "weve",
        "agreed",
        "move",
        "go",
        "live",
        "17",
        "march",
    }
    assert qm.tokens("to the, and - of") == frozenset()


@pytest.mark.parametrize(
    ("labelled", "reported", "matches"),
    [
        # Jaccard 3/6 = 0.5 >= 0.3
        ("send budget to finance", "send revised budget to finance team today", True),
        # containment: all 3 tokens of the shorter side in a long sentence (Jaccard 3/11)
        (
            "rotate staging keys",
            "Priya said she would rotate the staging keys once the vendor portal reopens next "
            "week after the audit",
            True,
        ),
        # 2 of 4 shorter-side tokens (50 %) and Jaccard 2/8: no match
        ("migrate the billing database to the new region", "billing database owner unclear", False),
        # one shared word is not enough when the shorter side has one token (containment off)
        ("budget", "finance reviews the budget on Monday", False),
        # two one-word texts match through Jaccard
        ("Budget", "budget", True),
        ("", "anything", False),
    ],
)
def test_match_rule(labelled: str, reported: str, matches: bool) -> None:
    assert (qm.similarity(qm.tokens(labelled), qm.tokens(reported)) is not None) is matches


def test_pairing_is_one_to_one_and_best_first() -> None:
    labels = ["update the release notes", "update the roadmap slides"]
    outputs = [
        "update the roadmap slides",
        "Update the release notes.",
        "update the release notes",  # a duplicate of output 1: nothing left to pair with
    ]
    assert qm.match_pairs(labels, outputs) == [(0, 1), (1, 0)]


def test_greedy_pairing_gives_the_better_output_to_the_label() -> None:
    labels = ["send the risk register to the board"]
    outputs = ["send the register", "send the risk register to the board by Friday"]
    assert qm.match_pairs(labels, outputs) == [(0, 1)]


# -- scores -----------------------------------------------------------------------------------


def test_a_duplicate_is_a_false_positive() -> None:
    lab = label(
        actions=[{"text": "book the venue", "owners": ["Sam"], "due": None}],
        decisions=["adopt the new release train"],
    )
    digest = {
        "action_items": [action("Sam to book the venue", "Sam")] * 3,
        "decisions": ["Agreed to adopt the new release train", "adopt the new release train"],
        "risks": [],
    }
    score = qm.score_document(lab, digest)
    assert (score.actions.tp, score.actions.fp, score.actions.fn) == (1, 2, 0)
    assert score.actions.precision == pytest.approx(1 / 3)
    assert score.actions.f1 == pytest.approx(0.5)
    assert (score.decisions.tp, score.decisions.fp) == (1, 1)
    # Nothing labelled and nothing reported: F1 is undefined, not 0 or 1.
    assert score.risks.f1 is None


def test_missed_and_spurious_items() -> None:
    lab = label(risks=["vendor contract not signed", "load tests blocked on staging capacity"])
    digest = {"action_items": [], "decisions": [], "risks": [{"text": "Budget overrun"}]}
    score = qm.score_document(lab, digest)
    assert (score.risks.tp, score.risks.fp, score.risks.fn) == (0, 1, 2)
    assert score.risks.f1 == 0
    assert score.risks.recall == 0


@pytest.mark.parametrize(
    ("owners", "reported", "right", "exact"),
    [
        (["Priya"], {"owner": "Priya"}, True, True),
        (["@jlee"], {"owner": "jlee"}, True, True),
        (["Priya"], {"owner": "Priya Shah"}, True, True),  # words of one within the other
        (["DB team"], {"owner": "the DB team"}, True, True),
        (["mkumar", "Priya"], {"owner": "Priya"}, True, False),
        (["mkumar", "Priya"], {"owner": "Priya and mkumar"}, True, True),
        (["mkumar", "Priya"], {"owner": "mkumar", "owners": ["mkumar", "Priya"]}, True, True),
        (["Priya"], {"owner": "Priya, Tom"}, True, False),
        (["Priya"], {"owner": "Tom"}, False, False),
        (["Priya"], {"owner": None}, False, False),
        ([], {"owner": None}, True, True),
        ([], {"owner": "Next sprint"}, False, False),
    ],
)
def test_owner_accuracy(owners: list[str], reported: dict, right: bool, exact: bool) -> None:
    lab = label(actions=[{"text": "write the migration guide", "owners": owners, "due": None}])
    digest = {"action_items": [action("write the migration guide") | reported]}
    score = qm.score_document(lab, digest)
    assert score.matched_actions == 1
    assert (score.owner_right, score.owner_exact) == (right, exact)


def test_due_accuracy_counts_only_labelled_due_dates() -> None:
    lab = label(
        actions=[
            {"text": "send the minutes", "owners": [], "due": "2026-03-06"},
            {"text": "renew the certificate", "owners": [], "due": "2026-03-31"},
            {"text": "tidy the wiki page", "owners": [], "due": None},
            {"text": "order the badges", "owners": [], "due": None},
            {"text": "call the vendor", "owners": [], "due": "2026-04-01"},
        ]
    )
    digest = {
        "action_items": [
            action("send the minutes", due="2026-03-06"),
            action("renew the certificate", due="2026-03-30"),
            action("tidy the wiki page", due="2026-03-09"),
            action("order the badges"),
            # "call the vendor" is missed: its due date is not counted at all
        ]
    }
    score = qm.score_document(lab, digest)
    assert score.matched_actions == 4
    assert (score.due_right, score.due_labelled) == (1, 2)
    assert score.due_accuracy == 0.5
    assert score.due_spurious == 1


def test_done_items_reported_as_open_are_counted() -> None:
    lab = label(
        actions=[{"text": "publish the release notes", "owners": [], "due": None}],
        done_actions=[{"text": "book the room for the summit"}, {"text": "renew the domain"}],
    )
    digest = {
        "action_items": [
            action("publish the release notes"),
            action("book the room for the summit"),  # open, but labelled done
            action("renew the domain", done=True),  # reported as done: not an open action
        ]
    }
    score = qm.score_document(lab, digest)
    assert (score.actions.tp, score.actions.fp) == (1, 1)
    assert (score.done_reported_open, score.done_labelled) == (1, 2)


def test_scores_add_up_micro_averaged() -> None:
    one = qm.Score(actions=qm.Counts(tp=1, fp=0, fn=0), matched_actions=1, owner_right=1)
    two = qm.Score(actions=qm.Counts(tp=1, fp=2, fn=3), matched_actions=1, owner_right=0)
    one.add(two)
    assert (one.actions.tp, one.actions.fp, one.actions.fn) == (2, 2, 3)
    assert one.actions.f1 == pytest.approx(4 / 9)
    assert one.owner_accuracy == 0.5


# -- keyword baseline -------------------------------------------------------------------------

TINY = """\
# Weekly sync
- Alice will send the budget to finance by 12 March 2026.
- ACTION: @bob to fix the flaky test before 2026-03-20
- Decision: we ship on Tuesday
- Vendor delay is the main risk
- Alice will send the budget to finance by 12 March 2026.
- The team reviewed the dashboard
"""


def test_keyword_baseline_on_a_tiny_text() -> None:
    digest = qm.keyword_baseline(TINY)
    assert digest["action_items"] == [
        {
            "text": "Alice will send the budget to finance by 12 March 2026.",
            "owner": "Alice",
            "due_date": "2026-03-12",
        },
        {
            "text": "ACTION: @bob to fix the flaky test before 2026-03-20",
            "owner": "@bob",
            "due_date": "2026-03-20",
        },
    ]
    assert digest["decisions"] == ["Decision: we ship on Tuesday"]
    assert digest["risks"] == [{"text": "Vendor delay is the main risk"}]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("due 03/04/2027 at the latest", "2027-04-03"),
        ("by March 5, 2026 or 2026-01-01", "2026-03-05"),
        ("next Friday", None),
        ("31/02/2026", None),
    ],
)
def test_baseline_first_date(line: str, expected: str | None) -> None:
    assert qm.first_date(line) == expected


# -- the script -------------------------------------------------------------------------------

MINUTES = """\
# Platform sync, 4 March 2026

## Actions
- Alice to send the budget to finance by 10 March 2026
- Bob will update the roadmap slides

## Decisions
- Agreed: the release moves to April.

## Risks
- Vendor delay may block the database migration.
"""


def write_corpus(root: Path) -> Path:
    corpus = root / "corpus"
    (corpus / "docs").mkdir(parents=True)
    (corpus / "labels").mkdir()
    (corpus / "docs" / "t-sync.md").write_text(MINUTES, encoding="utf-8")
    (corpus / "labels" / "t-sync.json").write_text(
        json.dumps(
            {
                "document": "docs/t-sync.md",
                "split": "tune",
                "format": "md",
                "shape": "test",
                "document_date": "2026-03-04",
                "actions": [
                    {
                        "text": "send the budget to finance",
                        "owners": ["Alice"],
                        "due": "2026-03-10",
                    },
                    {"text": "update the roadmap slides", "owners": ["Bob"], "due": None},
                ],
                "done_actions": [],
                "decisions": ["the release moves to April"],
                "risks": ["Vendor delay may block the database migration"],
            }
        ),
        encoding="utf-8",
    )
    # An attachment label whose parent is no e-mail: skipped with a note, never scored.
    (corpus / "labels" / "t-sync--notes.docx.json").write_text(
        json.dumps(label(split="heldout", format="docx")), encoding="utf-8"
    )
    return corpus


def test_main_on_a_tiny_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = write_corpus(tmp_path)
    out = tmp_path / "out.json"
    assert digest_quality.main(["--corpus", str(corpus), "--repeat", "1", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "t-sync " in printed and "tune" in printed
    # The note's wording depends on whether the extractor gives attachments at all.
    assert re.search(r"t-sync--notes\.docx\b.*skipped|skipped t-sync--notes\.docx", printed)
    for heading in ("== tune: 1 documents", "== heldout: no documents", "== total: 1 documents"):
        assert heading in printed

    figures = json.loads(out.read_text(encoding="utf-8"))
    (document,) = figures["documents"]
    assert document["id"] == "t-sync"
    assert document["error"] is None
    assert document["chars"] > 0 and document["analyse_ms"] > 0
    assert document["analyse_cpu_ms"] > 0
    system, baseline = document["system"], document["baseline"]
    assert system["actions"]["labelled"] == 2
    assert system["decisions"]["labelled"] == 1
    assert system["risks"]["labelled"] == 1
    # The baseline is deterministic: "Actions" heading and Bob's line; "Decisions" heading and
    # the Agreed line; "Risks" heading and the vendor delay line.
    assert (baseline["actions"]["tp"], baseline["actions"]["fp"]) == (1, 1)
    assert (baseline["decisions"]["tp"], baseline["decisions"]["fp"]) == (1, 1)
    assert (baseline["risks"]["tp"], baseline["risks"]["fp"]) == (1, 1)
    assert baseline["owner_right"] == 1
    total = figures["totals"]["total"]
    assert total["documents"] == 1 and total["failed"] == []
    assert total["baseline"]["actions"]["f1"] == 0.5
    assert total["f1_difference"]["actions"] == pytest.approx(
        system["actions"]["f1"] - 0.5, abs=1e-3
    )
    assert figures["totals"]["heldout"]["documents"] == 0
    assert figures["by_format"]["md"]["documents"] == 1
    assert figures["by_format"]["md"]["actions"]["baseline_f1"] == 0.5
    assert figures["joined"]["documents"] == 1
    assert figures["joined"]["chars"] == document["chars"]
    assert total["analyse_cpu_ms"]["chars"] == document["chars"]
    assert "analyse CPU time: median" in printed
    assert "texts joined into one" in printed


def test_explain_shows_the_pairing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = write_corpus(tmp_path)
    argv = ["--corpus", str(corpus), "--repeat", "1", "--quiet", "--explain", "t-sync"]
    assert digest_quality.main([*argv, "--explain-baseline"]) == 0
    printed = capsys.readouterr().out
    assert "-- t-sync (tune, md), keyword baseline" in printed
    assert (
        "   = 'update the roadmap slides'\n       ~ 'Bob will update the roadmap slides'" in printed
    )
    assert "owners ['Bob'] ~ ['Bob'], due None ~ None" in printed
    assert "   - 'send the budget to finance'" in printed
    assert "   + 'Actions'" in printed


def test_a_label_without_its_document_is_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = write_corpus(tmp_path)
    (corpus / "docs" / "t-sync.md").unlink()
    assert digest_quality.evaluate(corpus, "all", repeat=1) == []
    assert "t-sync: document 'docs/t-sync.md' not found; skipped" in capsys.readouterr().out


def test_a_refused_document_is_scored_empty(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path)
    (corpus / "docs" / "t-sync.md").write_bytes(b"")  # EmptyFile from detect_type
    (result,) = digest_quality.evaluate(corpus, "tune", repeat=1)
    assert result.error is not None and result.error.startswith("EmptyFile")
    assert result.analyse_ms is None
    assert (result.system.actions.fn, result.system.actions.fp) == (2, 0)


def _fake_pipeline(digests: dict[str, dict], attachments: list | None) -> Any:
    """The real detection/extraction for attachments; a stub e-mail and a stub analyser."""
    real = digest_quality.Pipeline.load()

    class Mail:
        text = "From: a@example.org\n\nSee the attached notes."
        pages = None

    mail = Mail()
    mail.attachments = attachments  # type: ignore[attr-defined]

    def extract_text(path: Path, detected: str) -> Any:
        return mail if str(path).endswith(".eml") else real.extract_text(path, detected)

    def detect_type(path: Path, filename: str = "") -> str:
        return "eml" if filename.endswith(".eml") else real.detect_type(path, filename)

    def analyse(text: str, *, title: str = "", pages: int | None = None) -> dict:
        return digests.get(title, {})

    return digest_quality.Pipeline(
        detect_type=detect_type,
        extract_text=extract_text,
        analyse=analyse,
        extract_module=object(),
        accepts=frozenset({"title", "pages"}),
        title_from_filename=lambda name: name,
    )


def test_an_eml_and_its_attachment_are_scored_separately(tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    (corpus / "docs").mkdir(parents=True)
    (corpus / "labels").mkdir()
    (corpus / "docs" / "m.eml").write_bytes(b"stub")
    (corpus / "labels" / "m.json").write_text(
        json.dumps(label(document="docs/m.eml", format="eml", decisions=["adopt the wiki"]))
    )
    (corpus / "labels" / "m--notes.txt.json").write_text(
        json.dumps(label(split="heldout", format="txt", risks=["printer budget is frozen"]))
    )
    pipeline = _fake_pipeline(
        {"m.eml": {"decisions": ["adopt the wiki"]}, "notes.txt": {"risks": []}},
        [("notes.txt", b"Risk: the printer budget is frozen.\n")],
    )
    results = digest_quality.evaluate(corpus, "all", repeat=1, pipeline=pipeline)
    assert [(r.id, r.split) for r in results] == [("m", "tune"), ("m--notes.txt", "heldout")]
    mail, notes = results
    assert mail.system.decisions.tp == 1
    assert (notes.system.risks.fn, notes.baseline.risks.tp) == (1, 1)
    assert notes.chars == len("Risk: the printer budget is frozen.")

    heldout = digest_quality.evaluate(corpus, "heldout", repeat=1, pipeline=pipeline)
    assert [r.id for r in heldout] == ["m--notes.txt"]


def test_attachments_are_skipped_when_the_extractor_has_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "c"
    (corpus / "docs").mkdir(parents=True)
    (corpus / "labels").mkdir()
    (corpus / "docs" / "m.eml").write_bytes(b"stub")
    (corpus / "labels" / "m.json").write_text(json.dumps(label(document="docs/m.eml")))
    (corpus / "labels" / "m--a.docx.json").write_text(json.dumps(label()))
    results = digest_quality.evaluate(corpus, "all", repeat=1, pipeline=_fake_pipeline({}, None))
    assert [r.id for r in results] == ["m"]
    assert "skipped m--a.docx" in capsys.readouterr().out


def test_new_analyse_keywords_are_passed_only_when_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import workers.analyse

    seen: list[dict] = []

    def old(text: str, *, title: str = "", pages: int | None = None) -> dict:
        seen.append({"title": title, "pages": pages})
        return {}

    def new(text: str, *, title: str = "", pages: int | None = None, **kwargs: Any) -> dict:
        seen.append({"title": title, "pages": pages} | kwargs)
        return {}

    class Extracted:
        text = "x"
        pages = 2
        model = "the model"

    for function in (old, new):
        monkeypatch.setattr(workers.analyse, "analyse", function)
        digest_quality.Pipeline.load().run_analyse(Extracted(), "Q3_status-report.pdf", 1)
    assert seen == [
        {"title": "Q3 status report", "pages": 2},
        {
            "title": "Q3 status report",
            "pages": 2,
            "model": "the model",
            "filename": "Q3_status-report.pdf",
        },
    ]


FAKE_EXTRACT = """\
from dataclasses import dataclass


@dataclass
class Extracted:
    text: str
    pages: int | None = None


def detect_type(path, filename=""):
    return "fake"


def extract_text(path, detected):
    return Extracted(text="Decision: agreed to adopt the fake extractor.")
"""


def test_extract_from_another_checkout(tmp_path: Path) -> None:
    """--extract-from takes workers.extract from there (a fresh process: it is imported here)."""
    corpus = write_corpus(tmp_path)
    package = tmp_path / "other" / "workers" / "extract"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(FAKE_EXTRACT, encoding="utf-8")
    out = tmp_path / "out.json"
    argv = ["--corpus", str(corpus), "--repeat", "1", "--quiet", "--json", str(out)]
    script = str(BENCH / "digest_quality.py")
    done = subprocess.run(
        [sys.executable, script, *argv, "--extract-from", str(tmp_path / "other")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (document,) = json.loads(out.read_text(encoding="utf-8"))["documents"]
    assert document["chars"] == len("Decision: agreed to adopt the fake extractor.")
    assert document["baseline"]["decisions"]["reported"] == 1

    (package / "__init__.py").unlink()  # no package there: refused, not silently the local one
    done = subprocess.run(
        [sys.executable, script, *argv, "--extract-from", str(tmp_path / "other")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "workers.extract came from" in done.stderr
