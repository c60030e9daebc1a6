"""PDF to blocks: the text layer read with its positions, scanned pages read by OCR.

pypdf opens the file first (cheap: the cross-reference table and page tree only) to refuse a
truncated, encrypted or over-long PDF with the messages users already know. The text is then
read with pdfplumber (on pdfminer.six), chosen over pypdf's text visitor because it hands back
every character with its box, font name and size, groups them into lines and finds ruled
tables; pypdf's visitor gives text runs with raw matrices, whose positions and sizes a caller
has to compose itself and which producers split differently. The layout rules that rebuild
paragraphs from those lines are in ``layout.py``.

A page whose text layer is (nearly) empty but which holds an image is a scan: it is rendered
by pdfium (pypdfium2, which pdfplumber already uses) in grey at no more than ``OCR_DPI`` and
read by Tesseract, one page image at a time.
"""

from __future__ import annotations

import datetime as dt
import io
import statistics
from typing import IO, Any

from workers.digest.blocks import Block, DocumentModel
from workers.extract.common import Extracted, TextBudget, blocks_text, clean_cell
from workers.extract.errors import (
    CorruptDocument,
    EmptyFile,
    EncryptedDocument,
    ExtractionError,
    TooManyPages,
)
from workers.extract.layout import Line, PageLines, blocks_from_pages, split_cells
from workers.extract.limits import MAX_PDF_PAGES, OCR_DPI, OCR_MAX_PIXELS, OCR_MIN_PAGE_CHARS
from workers.extract.ocr import DEFAULT_LANGUAGE, Progress, recognise, valid_language

_BOLD_WORDS = ("bold", "black", "heavy", "semibold", "demi")


def extract_pdf(
    stream: IO[bytes],
    limit: int,
    language: str = DEFAULT_LANGUAGE,
    progress: Progress | None = None,
) -> Extracted:
    data = stream.read()
    if not data:
        raise EmptyFile()
    if b"%PDF-" not in data[:1024]:
        raise CorruptDocument()
    if b"%%EOF" not in data[-1024:]:
        raise CorruptDocument()
    try:
        page_count, metadata = _check(data)
        pages = _read_pages(data, page_count, limit, valid_language(language), progress)
        blocks = blocks_from_pages(pages)
    except ExtractionError:
        raise
    except RecursionError:
        raise CorruptDocument() from None
    except Exception:
        # pypdf and pdfminer report malformed input through many exception types (KeyError,
        # ValueError, PdfReadError, PSSyntaxError...); to the user they all mean the same.
        raise CorruptDocument() from None
    model = DocumentModel(blocks=blocks, pages=page_count, **metadata)
    return Extracted(text=blocks_text(blocks), pages=page_count, model=model)


def _check(data: bytes) -> tuple[int, dict[str, Any]]:
    """Page count and metadata; refuses encrypted and over-long PDFs before any page is read."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        # pypdf already tried the empty user password; a PDF that only restricts printing
        # or copying opens that way, one that needs a real password does not.
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise EncryptedDocument()
        page_count = len(reader.pages)
        if page_count > MAX_PDF_PAGES:
            raise TooManyPages()
        info = reader.metadata
    except (FileNotDecryptedError, DependencyError):
        raise EncryptedDocument() from None
    metadata: dict[str, Any] = {"title": "", "date": None, "author": None}
    if info is not None:
        try:
            metadata["title"] = clean_cell(str(info.title or ""))
            metadata["author"] = clean_cell(str(info.author or "")) or None
            created = info.creation_date
            metadata["date"] = created.date() if isinstance(created, dt.datetime) else None
        except Exception:  # noqa: BLE001 - a malformed date is no reason to refuse the file
            pass
    return page_count, metadata


def _read_pages(
    data: bytes, page_count: int, limit: int, language: str, progress: Progress | None
) -> list[PageLines]:
    import pdfplumber

    budget = TextBudget(limit)
    out: list[PageLines] = []
    renderer: Any = None
    recognised = 0
    try:
        with pdfplumber.open(io.BytesIO(data), password="") as pdf:
            for index, page in enumerate(pdf.pages):
                number = index + 1
                if len(page.chars) < OCR_MIN_PAGE_CHARS and page.images:
                    if renderer is None:
                        import pypdfium2

                        renderer = pypdfium2.PdfDocument(data)
                    page_lines = _ocr_page(renderer, index, language)
                    recognised += 1
                else:
                    page_lines = _text_layer(page, number)
                page.close()  # pdfplumber caches every parsed object of a page until then
                budget.spend(sum(len(line.text) + 1 for line in page_lines.lines))
                for _, table in page_lines.tables:
                    budget.spend(len(blocks_text([table])))
                out.append(page_lines)
                if progress is not None and recognised:
                    progress(number, page_count)
    finally:
        if renderer is not None:
            renderer.close()
    return out


def _ocr_page(renderer: Any, index: int, language: str) -> PageLines:
    page = renderer[index]
    try:
        width, height = page.get_size()  # points
        scale = OCR_DPI / 72
        pixels = width * scale * height * scale
        if pixels > OCR_MAX_PIXELS:
            scale *= (OCR_MAX_PIXELS / pixels) ** 0.5
        bitmap = page.render(scale=scale, grayscale=True)
        try:
            image = bitmap.to_pil()
            result = recognise(image, language, index + 1, dpi=int(scale * 72))
            del image
        finally:
            bitmap.close()
    finally:
        page.close()
    # Back to points, so a page mixing text and OCR pages keeps one unit.
    factor = 72 / (scale * 72)
    if result.width:
        result.width *= factor
    if result.height:
        result.height *= factor
    for line in result.lines:
        line.x0 *= factor
        line.x1 *= factor
        line.top *= factor
        line.bottom *= factor
        line.size *= factor
        line.first_word_width *= factor
        line.space_width *= factor
        line.cells = [(x0 * factor, x1 * factor, text) for x0, x1, text in line.cells]
    return result


def _text_layer(page: Any, number: int) -> PageLines:
    """The page's lines with their font size and boldness, and its ruled tables."""
    tables: list[tuple[float, Block]] = []
    boxes: list[tuple[float, float, float, float]] = []
    # Ruled tables only (pdfplumber's "lines" strategy): a page without lines has none.
    ruled = bool(page.objects.get("rect") or page.objects.get("line"))
    for table in page.find_tables() if ruled else ():
        rows = [[clean_cell(cell or "") for cell in row] for row in table.extract()]
        rows = [row for row in rows if any(row)]
        if len(rows) < 2 or max(len(row) for row in rows) < 2:
            continue  # a framed paragraph, not a table
        boxes.append(table.bbox)
        block = Block(kind="table", header=rows[0], rows=rows[1:], page=number)
        tables.append((table.bbox[1], block))
    lines: list[Line] = []
    for raw in page.extract_text_lines(return_chars=True, strip=True):
        text = clean_cell(raw["text"])
        if not text or _inside(raw, boxes):
            continue
        chars = [c for c in raw["chars"] if not c["text"].isspace()]
        if not chars:
            continue
        size = statistics.median(c["size"] for c in chars)
        bold = sum(1 for c in chars if _is_bold(c["fontname"])) > len(chars) * 0.8
        first = text.split(" ", 1)[0]
        end = chars[min(len(first), len(chars)) - 1]
        lines.append(
            Line(
                text=text,
                x0=raw["x0"],
                x1=raw["x1"],
                top=raw["top"],
                bottom=raw["bottom"],
                size=size,
                bold=bold,
                page=number,
                first_word_width=end["x1"] - chars[0]["x0"],
                space_width=size * 0.28,
                cells=split_cells(_words(chars, size), gap=size * 1.5),
            )
        )
    return PageLines(
        number=number, lines=lines, tables=tables, width=page.width, height=page.height
    )


def _is_bold(fontname: str) -> bool:
    name = fontname.lower().split("+")[-1]  # subset prefix "ABCDEF+Font-Bold"
    return any(word in name for word in _BOLD_WORDS)


def _inside(line: dict[str, Any], boxes: list[tuple[float, float, float, float]]) -> bool:
    middle = (line["top"] + line["bottom"]) / 2
    return any(
        top <= middle <= bottom and line["x0"] < x1 and line["x1"] > x0
        for x0, top, x1, bottom in boxes
    )


def _words(chars: list[dict[str, Any]], size: float) -> list[tuple[float, float, str]]:
    """A line's words (x0, x1, text) from its characters: a gap of a space or more splits."""
    words: list[tuple[float, float, str]] = []
    for char in sorted(chars, key=lambda c: c["x0"]):
        if words and char["x0"] - words[-1][1] < size * 0.15:
            x0, _, text = words[-1]
            words[-1] = (x0, char["x1"], text + char["text"])
        else:
            words.append((char["x0"], char["x1"], char["text"]))
    return words
