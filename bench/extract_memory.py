"""Peak memory of extraction: large text files stop at the limit, OCR holds one page at a time.

    python bench/extract_memory.py [--csv-mb 20] [--txt-mb 50] [--ocr-pages 1,6]
                                   [--compare-ref GIT_REV]

Issue 11 §6: a 20 MB CSV of short cells peaked at 824 MB in the worker before failing "more
text than can be processed", a 50 MB text file at 412 MiB. ``workers.extract`` now decodes a
chunk at a time and counts as it goes. Each case runs in a fresh Python process (so one case's
garbage cannot hide another's peak) that imports the extractor, notes its resident memory,
extracts, and reports:

* ``peak growth``: the process's peak resident memory (``VmHWM``, reset through
  ``/proc/self/clear_refs`` first; ``ru_maxrss`` where the kernel refuses) minus the resident
  memory just before extracting;
* ``tesseract peak``: the largest resident memory of a Tesseract child (OCR cases);
* the outcome (characters extracted, or the refusal) and the wall time.

Inputs are written to a temporary directory: a CSV of 2-character cells (the shape that was
worst), a plain-text file of ordinary lines, a CSV just under the text limit, scanned PDFs
of 1 and N pages (page images made with Pillow, placed with fpdf2) and 40 Mpx page photos
(JPEG, PNG) for the OCR bound.

``--compare-ref REV`` also runs the text cases with ``workers/extract.py`` as it was at that git
revision (e.g. 8ff31d0, before the package), for a before/after table.

Figures only; nothing here asserts a size or a time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    sys.path.insert(0, {root!r})
    kind, path, doc_type, old = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    if old:
        import importlib.util
        spec = importlib.util.spec_from_file_location("old_extract", old)
        module = importlib.util.module_from_spec(spec)
        sys.modules["old_extract"] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
        extract_text, ExtractionError = module.extract_text, module.ExtractionError
    else:
        from workers.extract import ExtractionError, extract_text
        import pdfplumber, pypdfium2, PIL.Image  # imported before the baseline, like a worker
    def status_kib(field):
        for line in open("/proc/self/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1])
    # The peak a fork inherits from its parent survives exec: reset it (clear_refs 5), else
    # the parent's size would show as this process's peak.
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        reset = True
    except OSError:
        reset = False
    before = status_kib("VmRSS")
    started = time.perf_counter()
    try:
        result = extract_text(path, doc_type)
        outcome = f"{{len(result.text):,}} characters"
    except ExtractionError as exc:
        outcome = "refused: " + exc.user_message[:60]
    elapsed = time.perf_counter() - started
    peak = status_kib("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({{"before": before, "peak": peak, "children": children,
                      "outcome": outcome, "seconds": elapsed}}))
    """
)


def _short_cells_csv(path: Path, megabytes: int) -> None:
    row = ",".join(["ab"] * 20) + "\n"
    with path.open("w") as out:
        for _ in range(megabytes * 1024 * 1024 // len(row)):
            out.write(row)


def _text_file(path: Path, megabytes: int) -> None:
    line = "Maria will send the revised budget to the steering committee by Friday.\n"
    with path.open("w") as out:
        for _ in range(megabytes * 1024 * 1024 // len(line)):
            out.write(line)


def _csv_under_limit(path: Path) -> None:
    row = "R1,Vendor late,High,Tom Brennan,Weekly checkpoint\n"
    with path.open("w") as out:
        for _ in range(1_800_000 // (len(row) + 3)):
            out.write(row)


def _scan(path: Path, pages: int) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.extract_samples import MINUTES_LINES, scanned_pdf

    path.write_bytes(scanned_pdf([[*MINUTES_LINES, f"Page {n + 1}"] for n in range(pages)]))


def _photo(path: Path, megapixels: int, image_format: str) -> None:
    """A page photo of ``megapixels`` (RGB, as cameras make them): the OCR input bound."""
    sys.path.insert(0, str(ROOT))
    from tests.extract_samples import MINUTES_LINES, page_image

    width = int((megapixels * 1_000_000 / 1.414) ** 0.5)
    page = page_image(MINUTES_LINES).resize((width, int(width * 1.414))).convert("RGB")
    page.save(path, image_format, **({"quality": 85} if image_format == "JPEG" else {}))


def _run(path: Path, doc_type: str, old: str = "") -> dict:
    code = _CHILD.format(root=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", code, "x", str(path), doc_type, old],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"the measuring process failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--csv-mb", type=int, default=20)
    parser.add_argument("--txt-mb", type=int, default=50)
    parser.add_argument("--ocr-pages", default="1,6")
    parser.add_argument("--compare-ref", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases: list[tuple[str, Path, str]] = []
        csv_path = folder / "short-cells.csv"
        _short_cells_csv(csv_path, args.csv_mb)
        cases.append((f"CSV {args.csv_mb} MB, 2-character cells", csv_path, "csv"))
        txt_path = folder / "plain.txt"
        _text_file(txt_path, args.txt_mb)
        cases.append((f"TXT {args.txt_mb} MB", txt_path, "txt"))
        under = folder / "under-limit.csv"
        _csv_under_limit(under)
        size = under.stat().st_size / 1024 / 1024
        cases.append((f"CSV {size:.1f} MB, under the limit", under, "csv"))
        text_cases = list(cases)
        for pages in (int(p) for p in args.ocr_pages.split(",") if p):
            scan = folder / f"scan-{pages}.pdf"
            _scan(scan, pages)
            cases.append((f"scanned PDF, {pages} page(s), OCR", scan, "pdf"))
        for megapixels, image_format, doc_type in ((40, "JPEG", "jpeg"), (40, "PNG", "png")):
            photo = folder / f"photo-{megapixels}.{doc_type}"
            _photo(photo, megapixels, image_format)
            cases.append((f"{image_format} photo {megapixels} Mpx, OCR", photo, doc_type))
        old_module = ""
        if args.compare_ref:
            source = subprocess.run(
                ["git", "show", f"{args.compare_ref}:workers/extract.py"],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            ).stdout
            old_path = folder / "old_extract.py"
            old_path.write_text(source)
            old_module = str(old_path)
        print(
            f"{'case':42} {'version':8} {'peak growth':>12} {'tesseract':>10} {'time':>7}  outcome"
        )
        for label, path, doc_type in cases:
            versions = [("now", "")]
            if old_module and (label, path, doc_type) in text_cases:
                versions.insert(0, (args.compare_ref[:8], old_module))
            for version, old in versions:
                figures = _run(path, doc_type, old)
                growth = (figures["peak"] - figures["before"]) / 1024
                ocr = doc_type in ("pdf", "jpeg", "png")
                tesseract = f"{figures['children'] / 1024:.0f} MiB" if ocr else "-"
                print(
                    f"{label:42} {version:8} {growth:>8.0f} MiB {tesseract:>10} "
                    f"{figures['seconds']:>6.1f}s  {figures['outcome']}"
                )


if __name__ == "__main__":
    main()
