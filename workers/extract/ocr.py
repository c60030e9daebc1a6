"""Text recognition with Tesseract: scanned PDF pages and images (PNG, JPEG, TIFF), page by page.

Tesseract runs as a subprocess (``tesseract - - tsv``): the page image goes in on stdin as an
uncompressed grey PNM, words with their boxes come back as TSV. Weighed against pytesseract:
that package is itself a wrapper that writes a temporary file and starts the same binary; the
direct call needs no temporary file, sets its own timeout and thread limit, and tells a missing
binary from a missing language.

Memory is bounded per page: one page image exists at a time, in 8-bit grey, rendered at no more
than ``OCR_DPI`` and never larger than ``OCR_MAX_PIXELS``; the TSV of a page is a few hundred
kilobytes. Tesseract is told to use one thread (``OMP_THREAD_LIMIT=1``): workers already run one
document per core.
"""

from __future__ import annotations

import io
import math
import os
import re
import subprocess
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import IO, Any

from workers.digest.blocks import Block, DocumentModel
from workers.extract.common import Extracted, TextBudget, blocks_text
from workers.extract.detect import check_image
from workers.extract.errors import OcrFailed, OcrUnavailable
from workers.extract.layout import Line, PageLines, blocks_from_pages, split_cells
from workers.extract.limits import OCR_MAX_PIXELS, OCR_PAGE_TIMEOUT

#: The Tesseract program; tests point it at a missing path to see the failure message.
TESSERACT = "tesseract"
DEFAULT_LANGUAGE = "eng"
# Tesseract's language names: "eng", "chi_sim", "deu+eng".
LANGUAGE = re.compile(r"^[A-Za-z_]{3,16}(?:\+[A-Za-z_]{3,16}){0,3}$")
# Words recognised with less confidence than this (0-100) are noise from stains and edges.
_MIN_CONFIDENCE = 30

Progress = Callable[[int, int], None]


def valid_language(language: str | None) -> str:
    """The language to use: a well-formed Tesseract name, else the default (English)."""
    if language and LANGUAGE.match(language):
        return language
    return DEFAULT_LANGUAGE


def recognise(image: Any, language: str, page: int, dpi: int | None = None) -> PageLines:
    """The lines Tesseract reads on one page image (a PIL image), positioned for the layout."""
    image, scale = _bounded_grey(image)
    width, height = image.width, image.height
    if dpi and scale < 1:
        dpi = max(int(dpi * scale), 70)
    buffer = io.BytesIO()
    image.save(buffer, format="PPM")  # grey "L" becomes PGM: no compression time
    del image
    command = [TESSERACT, "-", "-", "-l", language, "--psm", "3"]
    if dpi:
        command += ["--dpi", str(int(dpi))]
    command.append("tsv")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(
            command,
            input=buffer.getvalue(),
            capture_output=True,
            timeout=OCR_PAGE_TIMEOUT,
            env=env,
            check=False,
        )
    except FileNotFoundError:
        raise OcrUnavailable() from None
    except subprocess.TimeoutExpired:
        raise OcrFailed(
            f"Text recognition (OCR) of page {page} took longer than {OCR_PAGE_TIMEOUT} seconds "
            "and was stopped."
        ) from None
    if done.returncode != 0:
        errors = done.stderr.decode("utf-8", "replace")
        if "Failed loading language" in errors or "Error opening data file" in errors:
            raise OcrUnavailable(
                f"Text recognition (OCR) in the language “{language}” is not installed on the "
                "server that processes documents. Choose another OCR language in the "
                "organization's settings, or ask the administrator to install it."
            )
        raise OcrFailed()
    lines = _lines_from_tsv(done.stdout.decode("utf-8", "replace"), page)
    return PageLines(number=page, lines=lines, width=width, height=height)


def _bounded_grey(image: Any) -> tuple[Any, float]:
    """8-bit grey, scaled down to at most ``OCR_MAX_PIXELS`` (Tesseract needs no more)."""
    from PIL import Image

    if image.mode != "L":
        image = image.convert("L")
    pixels = image.width * image.height
    if pixels <= OCR_MAX_PIXELS:
        return image, 1.0
    scale = math.sqrt(OCR_MAX_PIXELS / pixels)
    size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS), scale


def _lines_from_tsv(tsv: str, page: int) -> list[Line]:
    """Group Tesseract's words (level 5) into its lines, keeping their boxes."""
    words: dict[tuple[int, int, int], list[tuple[int, int, int, int, str]]] = defaultdict(list)
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12 or cells[0] != "5":
            continue
        text = cells[11].strip()
        try:
            confidence = float(cells[10])
            left, top, width, height = (int(v) for v in cells[6:10])
        except ValueError:
            continue
        if not text or confidence < _MIN_CONFIDENCE:
            continue
        key = (int(cells[2]), int(cells[3]), int(cells[4]))  # block, paragraph, line
        words[key].append((left, top, width, height, text))
    lines: list[Line] = []
    for row in _physical_lines(list(words.values())):
        text = " ".join(word[4] for word in row)
        chars = sum(len(word[4]) for word in row)
        char_width = sum(word[2] for word in row) / max(chars, 1)
        top = min(word[1] for word in row)
        bottom = max(word[1] + word[3] for word in row)
        # Word boxes hug the ink; a line's x-height-free measure is its tallest word.
        size = max(word[3] for word in row)
        spans = [(float(w[0]), float(w[0] + w[2]), w[4]) for w in row]
        lines.append(
            Line(
                text=text,
                x0=row[0][0],
                x1=row[-1][0] + row[-1][2],
                top=top,
                bottom=bottom,
                size=size,
                page=page,
                first_word_width=row[0][2],
                space_width=char_width,
                cells=split_cells(spans, gap=size * 1.2),
            )
        )
    return lines


Word = tuple[int, int, int, int, str]  # left, top, width, height, text


def _physical_lines(groups: list[list[Word]]) -> list[list[Word]]:
    """Tesseract's lines joined when they sit side by side on one row of the page.

    Tesseract reads widely spaced table columns as separate blocks ("Task" above "Share the
    export", "Owner" elsewhere); a row of a table must stay a row, as pdfplumber gives PDF
    lines across the whole width. The cost: a two-column scan is read across its columns.
    """
    rows: list[list[Word]] = []
    for group in sorted(groups, key=lambda g: min(w[1] for w in g)):
        top = min(w[1] for w in group)
        bottom = max(w[1] + w[3] for w in group)
        middle = (top + bottom) / 2
        for row in rows[-8:]:
            row_top = min(w[1] for w in row)
            row_bottom = max(w[1] + w[3] for w in row)
            apart = all(w[0] >= r[0] + r[2] or w[0] + w[2] <= r[0] for w in group for r in row)
            if row_top <= middle <= row_bottom and apart:
                row.extend(group)
                break
        else:
            rows.append(list(group))
    return [sorted(row) for row in sorted(rows, key=lambda r: min(w[1] for w in r))]


def extract_image(
    stream: IO[bytes],
    image_type: str,
    limit: int,
    language: str = DEFAULT_LANGUAGE,
    progress: Progress | None = None,
) -> Extracted:
    """Recognise the text of a PNG, JPEG or (multi-page) TIFF, one frame at a time."""
    from PIL import Image, ImageOps

    check_image(stream, image_type)  # the upload checked it too; the worker does not trust
    stream.seek(0)
    language = valid_language(language)
    budget = TextBudget(limit)
    blocks: list[Block] = []
    with Image.open(stream) as image:
        frames = getattr(image, "n_frames", 1)
        for index, (frame, scale) in enumerate(_frames(image, frames)):
            dpi = _dpi(frame)
            if dpi:
                dpi = int(dpi * scale)
            if image_type == "jpeg":
                frame = ImageOps.exif_transpose(frame)  # phone photos are stored sideways
            page_blocks = _page_blocks(recognise(frame, language, index + 1, dpi))
            del frame
            budget.spend(len(blocks_text(page_blocks)))
            blocks.extend(page_blocks)
            if progress is not None:
                progress(index + 1, frames)
    model = DocumentModel(blocks=blocks, pages=frames)
    return Extracted(text=blocks_text(blocks), pages=frames, model=model)


def _frames(image: Any, count: int) -> Iterator[tuple[Any, float]]:
    for index in range(count):
        image.seek(index)
        width = image.width
        if image.format == "JPEG" and image.width * image.height > OCR_MAX_PIXELS:
            # JPEG decodes straight to grey at 1/2, 1/4 or 1/8 scale: a 48 Mpx photo never
            # exists in memory at full size.
            # Draft picks the smallest of 1/2, 1/4, 1/8 that is at least the size asked, so ask
            # for half the linear scale: the result is then at most OCR_MAX_PIXELS.
            scale = math.sqrt(OCR_MAX_PIXELS / (image.width * image.height)) / 2
            image.draft("L", (int(image.width * scale), int(image.height * scale)))
        # A copy of this frame only, so the previous one can be freed.
        yield image.convert("L"), image.width / width


def _dpi(image: Any) -> int | None:
    dpi = image.info.get("dpi")
    try:
        value = int(round(float(dpi[0]))) if dpi else 0
    except (TypeError, ValueError, IndexError):
        return None
    # Cameras write 72 (or 1) without meaning it; below 100 dpi Tesseract's guess is better.
    return value if value >= 100 else None


def _page_blocks(page: PageLines) -> list[Block]:
    # OCR line boxes vary with ascenders and descenders: a heading must stand out more.
    return blocks_from_pages([page], heading_ratio=1.4)
