"""Quality of the digest on a hand-labelled corpus, against a keyword baseline.

    python bench/digest_quality.py [--corpus tests/fixtures/corpus] [--split tune|heldout|all]
                                   [--repeat 3] [--batch d] [--json out.json] [--quiet]
                                   [--explain ID [--explain-baseline]] [--extract-from DIR]

For every label ``labels/<id>.json`` of the corpus (format: the corpus README) this script runs
the real pipeline entry points on the labelled document, exactly as the worker does:
``workers.extract.detect_type(path, filename)`` -> ``workers.extract.extract_text(path, type)``
-> ``workers.analyse.analyse(text, title=..., pages=..., model=..., filename=...)``. ``model``
(the extractor's ``DocumentModel``) and ``filename`` are passed only when ``analyse`` accepts
them, so the script also measures an analyser older than those arguments. The label's own
``document_date`` is never passed: the digest must find the date itself.

An e-mail (``.eml``) is scored on its body against its own label; each attachment label
``labels/<eml-id>--<file name>.json`` is scored against that attachment as the extractor hands
it out (``Extracted.attachments`` or a ``workers.extract`` attachments function), or skipped with
a printed note when the extractor gives no attachments. A document the extractor refuses is
scored as an empty digest for both systems (everything labelled is missed) and flagged.

**The keyword baseline** reads the same extracted text line by line: a line containing
action/todo/will/must/should/assigned/follow up is an action (owner: the first capitalised word
or @handle before "to"/"will", other than the keywords Action/TODO/AI/Assigned/Follow; due: the
first date with a year in the line, numeric dates read day-first), a line with
decided/agreed/approved/resolved/accepted/rejected/decision a decision, a line with
risk/blocker/blocked/concern/issue/depends/delay a risk. A line may count in several lists;
exact repeats count once.

**Matching rule** (``bench/_quality_match.py``): texts become sets of normalised word tokens
(lower-case, apostrophes dropped, other punctuation splits words, a small list of function
words removed). A labelled item and a reported item match when their Jaccard index is >= 0.3,
or when >= 60 % of the shorter side's tokens occur in the other side (the shorter side must
have >= 2 tokens for this containment rule). Pairing is one-to-one and greedy by best score
(the larger of the two ratios; Jaccard breaks ties), so a duplicate of a found item is a false
positive. Open actions, decisions and risks are matched separately; reported actions marked
``"done": true`` are not open actions.

Among matched actions: **owner right** when the labelled owners and the reported owners
(``owners`` list, else ``owner`` split on , ; / & + "and") share a person — two owner strings
are the same person when equal after normalisation (lower-case, ``@`` and punctuation dropped)
or when the words of one are a subset of the other's — or when both are empty; **owner exact**
when every labelled owner is reported and every reported owner is labelled. **Due right**
(counted only for matched actions whose label has a due date) when ``due_date`` is the same ISO
date. **Done reported open**: reported open actions left unmatched that match (same rule) a
labelled done item.

Output: one line per document (id, split, format; per kind labelled/reported/matched and F1 of
the analyser and of the baseline), then per split and in total: micro-averaged precision,
recall and F1 of both systems and every F1 difference (analyser - baseline), owner and due
accuracy, done items reported open, and the analyse time (median and max per document, the
median of ``--repeat`` runs each, and ms per 100,000 characters over all documents), both wall
time and this process's CPU time (analyse is single-threaded CPU work, so on a machine shared
with other jobs the CPU time is the steadier figure); then F1 per format, and one analyse call
on all extracted texts joined (the per-character cost without the per-call overhead).
``--json`` writes the same figures. Figures only: nothing is asserted, the exit code is 0.

``--explain ID`` prints one document's pairing item by item (matched, missed, extra, with owners
and due dates), for the analyser or, with ``--explain-baseline``, the baseline. Read it on
"tune" documents only when tuning. ``--extract-from DIR`` takes ``workers.extract`` from another
checkout (e.g. the extract branch before it is merged) and everything else from this one.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# Appended, not prepended: bench/ holds scripts with generic names (search.py, memory.py) that
# must not shadow installed modules in a process that imports this one (the tests).
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parent))

from _quality_match import (  # noqa: E402
    Score,
    f1_difference,
    item_text,
    keyword_baseline,
    match_pairs,
    median,
    output_due,
    output_owners,
    score_document,
    similarity,
    tokens,
)

DEFAULT_CORPUS = ROOT / "tests" / "fixtures" / "corpus"
SPLITS = ("tune", "heldout")
KINDS = ("actions", "decisions", "risks")
# An e-mail's attachments: ``Extracted.attachments`` (``filename`` + ``data`` bytes, the extract
# branch's shape); else a ``workers.extract`` function of one of these names, taking the path.
_ATTACHMENT_FUNCTIONS = ("attachments", "eml_attachments", "extract_attachments")


@dataclass(slots=True)
class DocumentResult:
    """One labelled document: what both systems found and how it scored."""

    id: str
    split: str
    format: str
    chars: int = 0
    error: str | None = None
    analyse_ms: float | None = None  # wall time
    analyse_cpu_ms: float | None = None  # this process's CPU time: steadier on a busy machine
    system: Score = field(default_factory=Score)
    baseline: Score = field(default_factory=Score)
    # Kept for --explain and the joined-text timing (not written to --json).
    text: str = field(default="", repr=False)
    label: dict[str, Any] = field(default_factory=dict, repr=False)
    digest: dict[str, Any] = field(default_factory=dict, repr=False)
    baseline_digest: dict[str, Any] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "split": self.split,
            "format": self.format,
            "chars": self.chars,
            "error": self.error,
            "analyse_ms": _r(self.analyse_ms),
            "analyse_cpu_ms": _r(self.analyse_cpu_ms),
            "system": self.system.as_dict(),
            "baseline": self.baseline.as_dict(),
            "f1_difference": {
                kind: f1_difference(getattr(self.system, kind).f1, getattr(self.baseline, kind).f1)
                for kind in KINDS
            },
        }


# --------------------------------------------------------------------------------------------
# The pipeline


@dataclass(slots=True)
class Pipeline:
    """The project's entry points, imported once; ``analyse`` keywords chosen by signature."""

    detect_type: Callable[..., Any]
    extract_text: Callable[..., Any]
    analyse: Callable[..., dict[str, Any]]
    extract_module: Any
    accepts: frozenset[str]
    title_from_filename: Callable[[str], str]

    @classmethod
    def load(cls, extract_from: Path | None = None) -> Pipeline:
        """The entry points of this checkout; ``extract_from``: another checkout's extractor.

        ``extract_from`` (a worktree root) measures a branch's extractor with this checkout's
        analyser before the branches are merged: its ``workers/`` directory is put first on
        the ``workers`` package path after the analyser (and ``workers.digest``) are imported
        from here, so only ``workers.extract`` comes from there.
        """
        import workers
        import workers.analyse
        import workers.digest.blocks

        if extract_from is not None:
            if "workers.extract" in sys.modules:
                raise RuntimeError("workers.extract was imported already; cannot switch it")
            workers.__path__.insert(0, str(Path(extract_from).resolve() / "workers"))
        import workers.extract

        if extract_from is not None:
            origin = Path(workers.extract.__file__ or "").resolve()
            if not origin.is_relative_to(Path(extract_from).resolve()):
                raise RuntimeError(f"workers.extract came from {origin}, not {extract_from}")

        parameters = inspect.signature(workers.analyse.analyse).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            accepts = frozenset({"model", "filename"})
        else:
            accepts = frozenset(parameters)
        try:
            from webapp.documents.filenames import sanitize_filename, title_from_filename

            def title(name: str) -> str:
                return title_from_filename(sanitize_filename(name))
        except ImportError:  # the upload service's naming; a plain stem if it moved

            def title(name: str) -> str:
                return Path(name).stem.replace("_", " ").replace("-", " ")

        return cls(
            detect_type=workers.extract.detect_type,
            extract_text=workers.extract.extract_text,
            analyse=workers.analyse.analyse,
            extract_module=workers.extract,
            accepts=accepts,
            title_from_filename=title,
        )

    def extract(self, path: Path, filename: str) -> Any:
        return self.extract_text(path, self.detect_type(path, filename))

    def run_analyse(self, extracted: Any, filename: str, repeat: int) -> tuple[dict, float, float]:
        """The digest and the median wall and CPU times of ``repeat`` runs, in ms."""
        kwargs: dict[str, Any] = {
            "title": self.title_from_filename(filename),
            "pages": getattr(extracted, "pages", None),
        }
        if "model" in self.accepts:
            kwargs["model"] = getattr(extracted, "model", None)
        if "filename" in self.accepts:
            kwargs["filename"] = filename
        timings, cpu = [], []
        digest: dict[str, Any] = {}
        for _ in range(max(1, repeat)):
            start, start_cpu = time.perf_counter(), time.process_time()
            digest = self.analyse(extracted.text, **kwargs)
            cpu.append((time.process_time() - start_cpu) * 1000)
            timings.append((time.perf_counter() - start) * 1000)
        return digest, median(timings) or 0.0, median(cpu) or 0.0

    def attachments(self, path: Path, extracted: Any) -> list[tuple[str, Any]] | None:
        """``(file name, extracted)`` for each attachment of an e-mail; None when unsupported."""
        found = getattr(extracted, "attachments", None)
        if found is None:
            for name in _ATTACHMENT_FUNCTIONS:
                function = getattr(self.extract_module, name, None)
                if callable(function):
                    found = function(path)
                    break
        if found is None:
            return None
        return [self._attachment(item) for item in found]

    def _attachment(self, item: Any) -> tuple[str, Any]:
        if isinstance(item, tuple) and len(item) == 2:
            name, content = item
        else:
            name = _first_attr(item, ("filename", "name", "file_name")) or "attachment"
            content = _first_attr(item, ("extracted", "data", "content", "payload", "path"))
            if content is None and hasattr(item, "text"):
                content = item
        name = str(name)
        if hasattr(content, "text"):
            return name, content
        if isinstance(content, (bytes, bytearray)):
            with tempfile.TemporaryDirectory() as tmp:
                target = Path(tmp) / Path(name).name
                target.write_bytes(bytes(content))
                return name, self.extract(target, name)
        if isinstance(content, (str, os.PathLike)):
            return name, self.extract(Path(content), name)
        raise TypeError(f"attachment {name!r}: no text, bytes or path to read")


def _first_attr(item: Any, names: Iterable[str]) -> Any:
    for name in names:
        value = item.get(name) if isinstance(item, dict) else getattr(item, name, None)
        if value is not None:
            return value
    return None


# --------------------------------------------------------------------------------------------
# The corpus


def load_labels(corpus: Path) -> list[tuple[str, dict[str, Any]]]:
    """``(id, label)`` for every ``labels/*.json``, sorted by id; unreadable ones are reported."""
    labels = []
    for path in sorted((corpus / "labels").glob("*.json")):
        try:
            label = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"note: {path.name}: unreadable label ({exc}); skipped")
            continue
        labels.append((path.stem, label))
    return labels


def _score(result: DocumentResult, label: dict, digest: dict, text: str) -> None:
    result.label, result.digest = label, digest
    result.baseline_digest = keyword_baseline(text)
    result.system = score_document(label, digest)
    result.baseline = score_document(label, result.baseline_digest)
    result.chars = len(text)
    result.text = text


def evaluate(
    corpus: Path,
    split: str = "all",
    repeat: int = 3,
    pipeline: Pipeline | None = None,
    batches: Sequence[str] = (),
) -> list[DocumentResult]:
    """Run both systems on every labelled document of ``split`` and score them (only the ids
    starting with one of ``batches``' ``<letter>-`` prefixes, when given)."""
    pipeline = pipeline or Pipeline.load()
    labels = load_labels(corpus)
    if batches:
        prefixes = tuple(f"{b.rstrip('-')}-" for b in batches)
        labels = [(i, lab) for i, lab in labels if i.startswith(prefixes)]
    attachment_labels: dict[str, list[tuple[str, dict]]] = {}
    results: list[DocumentResult] = []
    for doc_id, label in labels:
        if "--" in doc_id:
            attachment_labels.setdefault(doc_id.split("--", 1)[0], []).append((doc_id, label))
    for doc_id, label in labels:
        if "--" in doc_id:
            continue
        wanted = split == "all" or label.get("split") == split
        attached = [
            (i, lab)
            for i, lab in attachment_labels.get(doc_id, [])
            if split == "all" or lab.get("split") == split
        ]
        if not wanted and not attached:
            continue
        path = corpus / str(label.get("document") or "")
        if not path.is_file():
            # A corpus still being written: a label ahead of its rendered document.
            print(f"note: {doc_id}: document {label.get('document')!r} not found; skipped")
            continue
        filename = path.name
        result = DocumentResult(
            doc_id, str(label.get("split")), str(label.get("format") or path.suffix)
        )
        extracted = None
        try:
            extracted = pipeline.extract(path, filename)
        except Exception as exc:  # noqa: BLE001 - a refused document is a result, not a crash
            result.error = f"{type(exc).__name__}: {exc}"
            _score(result, label, {}, "")
        else:
            try:
                digest, result.analyse_ms, result.analyse_cpu_ms = pipeline.run_analyse(
                    extracted, filename, repeat
                )
            except Exception as exc:  # noqa: BLE001 - scored as an empty digest, flagged
                result.error = f"analyse failed: {type(exc).__name__}: {exc}"
                digest = {}
            _score(result, label, digest, extracted.text)
        if wanted:
            results.append(result)
        if attached:
            results.extend(_attachment_results(pipeline, path, extracted, attached, repeat))
    known = {doc_id for doc_id, _ in labels}
    for parent, items in sorted(attachment_labels.items()):
        if parent not in known:
            print(f"note: attachment labels {[i for i, _ in items]} have no e-mail label {parent}")
    return results


def _attachment_results(
    pipeline: Pipeline,
    path: Path,
    extracted: Any,
    attached: Sequence[tuple[str, dict]],
    repeat: int,
) -> list[DocumentResult]:
    if extracted is None:
        print(f"note: {path.name} was not extracted; its attachment labels are skipped")
        return []
    try:
        found = pipeline.attachments(path, extracted)
    except Exception as exc:  # noqa: BLE001
        print(f"note: {path.name}: attachments failed ({type(exc).__name__}: {exc}); skipped")
        return []
    if found is None:
        print(
            f"note: the extractor gives no e-mail attachments; skipped "
            f"{', '.join(i for i, _ in attached)}"
        )
        return []
    by_name = {Path(name).name.lower(): (name, content) for name, content in found}
    results = []
    for doc_id, label in attached:
        wanted = doc_id.split("--", 1)[1]
        if wanted.lower() not in by_name:
            print(
                f"note: {doc_id}: no attachment named {wanted!r} in {path.name} "
                f"(found {sorted(by_name)}); skipped"
            )
            continue
        name, content = by_name[wanted.lower()]
        result = DocumentResult(doc_id, str(label.get("split")), str(label.get("format")))
        try:
            digest, result.analyse_ms, result.analyse_cpu_ms = pipeline.run_analyse(
                content, name, repeat
            )
        except Exception as exc:  # noqa: BLE001 - scored as an empty digest, flagged
            result.error = f"analyse failed: {type(exc).__name__}: {exc}"
            digest = {}
        _score(result, label, digest, content.text)
        results.append(result)
    return results


# --------------------------------------------------------------------------------------------
# Totals and report


def totals(results: Sequence[DocumentResult]) -> dict[str, Any]:
    """Summed scores of both systems, F1 differences and timing over ``results``."""
    system, baseline = Score(), Score()
    for result in results:
        system.add(result.system)
        baseline.add(result.baseline)
    timed = [r for r in results if r.analyse_ms is not None]
    chars = sum(r.chars for r in timed)
    return {
        "documents": len(results),
        "failed": [r.id for r in results if r.error],
        "system": system.as_dict(),
        "baseline": baseline.as_dict(),
        "f1_difference": {
            kind: f1_difference(getattr(system, kind).f1, getattr(baseline, kind).f1)
            for kind in KINDS
        },
        "analyse_ms": _timing([r.analyse_ms or 0.0 for r in timed], chars),
        "analyse_cpu_ms": _timing([r.analyse_cpu_ms or 0.0 for r in timed], chars),
    }


def _timing(times: Sequence[float], chars: int) -> dict[str, Any]:
    return {
        "median": _r(median(times)),
        "max": _r(max(times, default=None)),
        "per_100k_chars": _r(sum(times) / chars * 100_000 if chars else None),
        "chars": chars,
    }


def joined_timing(
    pipeline: Pipeline, results: Sequence[DocumentResult], repeat: int
) -> dict[str, Any] | None:
    """One analyse call on every extracted text joined: the per-character cost without the
    fixed per-call overhead that dominates small documents."""
    texts = [r.text for r in results if r.text]
    if not texts:
        return None

    class Joined:
        text = "\n\n".join(texts)
        pages = None

    _, spent, cpu = pipeline.run_analyse(Joined(), "joined.txt", repeat)
    chars = len(Joined.text)
    return {
        "documents": len(texts),
        "chars": chars,
        "ms": round(spent, 3),
        "per_100k_chars": round(spent / chars * 100_000, 3),
        "cpu_ms": round(cpu, 3),
        "cpu_per_100k_chars": round(cpu / chars * 100_000, 3),
    }


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _f(value: float | None) -> str:
    return "  - " if value is None else f"{value:.2f}"


def _d(value: float | None) -> str:
    return "   -" if value is None else f"{value:+.2f}"


def document_line(result: DocumentResult) -> str:
    """``id split format | act L/R/M F1 sys kw diff | ... | owner due | ms``."""
    parts = [f"{result.id[:44]:44} {result.split:7} {result.format:8}"]
    for kind in KINDS:
        mine, theirs = getattr(result.system, kind), getattr(result.baseline, kind)
        parts.append(
            f"{kind[:3]} {mine.tp + mine.fn:2}/{mine.tp + mine.fp:2}/{mine.tp:2} "
            f"F1 {_f(mine.f1)} kw {_f(theirs.f1)} {_d(f1_difference(mine.f1, theirs.f1))}"
        )
    s = result.system
    parts.append(
        f"own {s.owner_right}/{s.matched_actions} due {s.due_right}/{s.due_labelled} "
        f"done-open {s.done_reported_open}"
    )
    parts.append("FAILED" if result.error else f"{result.analyse_ms or 0:.1f} ms")
    return " | ".join(parts)


def totals_block(name: str, figures: dict[str, Any]) -> list[str]:
    """The totals of one split as printed lines: analyser | keyword baseline | F1 difference."""
    sys_, kw = figures["system"], figures["baseline"]
    failed = figures["failed"]
    if not figures["documents"]:
        return [f"== {name}: no documents"]
    lines = [
        f"== {name}: {figures['documents']} documents"
        + (f", failed (scored as empty) {len(failed)}: {', '.join(failed)}" if failed else ""),
        f"{'':26}{'analyser':^18}   {'keyword baseline':^18}",
        f"{'':26}{'P':>6}{'R':>6}{'F1':>6}   {'P':>6}{'R':>6}{'F1':>6}{'F1 diff':>10}",
    ]
    for kind in KINDS:
        a, b = sys_[kind], kw[kind]
        lines.append(
            f"{kind + ' (' + str(a['labelled']) + ' labelled)':26}"
            f"{_f(a['precision']):>6}{_f(a['recall']):>6}{_f(a['f1']):>6}   "
            f"{_f(b['precision']):>6}{_f(b['recall']):>6}{_f(b['f1']):>6}"
            f"{_d(figures['f1_difference'][kind]):>10}"
        )
    for label, key, count, of in (
        ("owner right / matched", "owner_accuracy", "owner_right", "matched_actions"),
        ("owner exact / matched", "owner_exact_accuracy", "owner_exact", "matched_actions"),
        ("due right / labelled due", "due_accuracy", "due_right", "due_labelled"),
    ):
        mine = f"{_f(sys_[key])} ({sys_[count]}/{sys_[of]})"
        theirs = f"{_f(kw[key])} ({kw[count]}/{kw[of]})"
        lines.append(f"{label:26}{mine:>18}   {theirs:>18}")
    mine = f"{sys_['due_spurious']}"
    lines.append(f"{'due given, none labelled':26}{mine:>18}   {kw['due_spurious']:>18}")
    mine = f"{sys_['done_reported_open']} of {sys_['done_labelled']}"
    theirs = f"{kw['done_reported_open']} of {kw['done_labelled']}"
    lines.append(f"{'done items reported open':26}{mine:>18}   {theirs:>18}")
    for what, key in (("wall time", "analyse_ms"), ("CPU time", "analyse_cpu_ms")):
        timing = figures[key]
        lines.append(
            f"analyse {what}: median {_ms(timing['median'])}, max {_ms(timing['max'])}, "
            f"{_ms(timing['per_100k_chars'])} per 100,000 characters ({timing['chars']} chars)"
        )
    return lines


def explain(result: DocumentResult, baseline: bool = False) -> list[str]:
    """The pairing of one document, item by item: matched (=), missed (-), extra (+)."""
    digest = result.baseline_digest if baseline else result.digest
    label = result.label
    who = "keyword baseline" if baseline else "analyser"
    lines = [f"-- {result.id} ({result.split}, {result.format}), {who}"]
    if result.error:
        lines.append(f"   {result.error}")
    for kind, label_key, digest_key in (
        ("actions", "actions", "action_items"),
        ("decisions", "decisions", "decisions"),
        ("risks", "risks", "risks"),
    ):
        labelled = list(label.get(label_key) or [])
        reported = list(digest.get(digest_key) or [])
        if kind == "actions":
            reported = [a for a in reported if not (a or {}).get("done")]
        texts = [item_text(x) for x in labelled], [item_text(x) for x in reported]
        pairs = match_pairs(*texts)
        lines.append(f"   {kind}: {len(labelled)} labelled, {len(reported)} reported")
        for i, j in pairs:
            score = similarity(tokens(texts[0][i]), tokens(texts[1][j])) or 0.0
            lines.append(f"   = {texts[0][i]!r}\n       ~ {texts[1][j]!r} ({score:.2f})")
            if kind == "actions":
                lines.append(
                    f"       owners {labelled[i].get('owners')} ~ {output_owners(reported[j])}, "
                    f"due {labelled[i].get('due')} ~ {output_due(reported[j])}"
                )
        paired_labels = {i for i, _ in pairs}
        paired_outputs = {j for _, j in pairs}
        lines += [f"   - {t!r}" for i, t in enumerate(texts[0]) if i not in paired_labels]
        lines += [f"   + {t!r}" for j, t in enumerate(texts[1]) if j not in paired_outputs]
    done = [item_text(a) for a in label.get("done_actions") or []]
    marked = [item_text(a) for a in digest.get("action_items") or [] if (a or {}).get("done")]
    lines.append(f"   done: labelled {done}, reported done {marked}")
    return lines


def by_format(results: Sequence[DocumentResult]) -> dict[str, dict[str, Any]]:
    """F1 of both systems per document format (micro-averaged over its documents)."""
    table = {}
    for fmt in sorted({r.format for r in results}):
        figures = totals([r for r in results if r.format == fmt])
        table[fmt] = {
            "documents": figures["documents"],
            "failed": len(figures["failed"]),
            **{
                kind: {
                    "f1": figures["system"][kind]["f1"],
                    "baseline_f1": figures["baseline"][kind]["f1"],
                }
                for kind in KINDS
            },
        }
    return table


def by_format_block(table: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "== F1 by format, the documents above (analyser / baseline)",
        f"{'format':10}{'docs':>5}{'failed':>7}" + "".join(f"{kind:>16}" for kind in KINDS),
    ]
    for fmt, row in table.items():
        cells = "".join(
            f"{_f(row[kind]['f1']) + ' / ' + _f(row[kind]['baseline_f1']):>16}" for kind in KINDS
        )
        lines.append(f"{fmt:10}{row['documents']:>5}{row['failed']:>7}{cells}")
    return lines


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def report(results: Sequence[DocumentResult], split: str) -> dict[str, Any]:
    """Totals per split (those present) and over all of ``results``."""
    groups: dict[str, Any] = {}
    for name in SPLITS if split == "all" else (split,):
        groups[name] = totals([r for r in results if r.split == name])
    others = sorted({r.split for r in results} - set(SPLITS))
    for name in others:
        groups[name] = totals([r for r in results if r.split == name])
    if split == "all":
        groups["total"] = totals(results)
    return groups


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--split", choices=("tune", "heldout", "all"), default="all")
    parser.add_argument("--repeat", type=int, default=3, help="analyse runs per document")
    parser.add_argument(
        "--batch",
        action="append",
        default=[],
        metavar="LETTER",
        help="only the documents of this writer's batch (id prefix, e.g. d; repeatable)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--quiet", action="store_true", help="totals only")
    parser.add_argument(
        "--extract-from",
        type=Path,
        metavar="WORKTREE",
        help="use workers.extract of another checkout (a branch not merged yet)",
    )
    parser.add_argument(
        "--explain",
        action="append",
        default=[],
        metavar="ID",
        help="print the item-by-item pairing of this document (repeatable)",
    )
    parser.add_argument(
        "--explain-baseline", action="store_true", help="--explain the baseline's items instead"
    )
    args = parser.parse_args(argv)

    pipeline = Pipeline.load(args.extract_from)
    results = evaluate(args.corpus, args.split, args.repeat, pipeline, args.batch)
    if not args.quiet:
        print(
            "per document: kind labelled/reported/matched, F1 analyser, kw = keyword baseline F1,"
            " diff = analyser - baseline"
        )
        for result in results:
            print(document_line(result))
            if result.error:
                print(f"    {result.error}")
    for result in results:
        if result.id in args.explain:
            print("\n".join(explain(result, args.explain_baseline)))
    groups = report(results, args.split)
    for name, figures in groups.items():
        print()
        print("\n".join(totals_block(name, figures)))
    formats = by_format(results)
    if formats:
        print()
        print("\n".join(by_format_block(formats)))
    joined = joined_timing(pipeline, results, args.repeat)
    if joined:
        print(
            f"\nanalyse of all {joined['documents']} texts joined into one "
            f"({joined['chars']} characters): {joined['ms']:.1f} ms wall, "
            f"{joined['per_100k_chars']:.1f} ms per 100,000 characters; CPU "
            f"{joined['cpu_ms']:.1f} ms, {joined['cpu_per_100k_chars']:.1f} ms per 100,000"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "corpus": str(args.corpus),
                    "split": args.split,
                    "repeat": args.repeat,
                    "documents": [r.as_dict() for r in results],
                    "totals": groups,
                    "by_format": formats,
                    "joined": joined,
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
