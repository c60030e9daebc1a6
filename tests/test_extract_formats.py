"""Extractors to the document model, per format, on small inputs built in the tests.

No database or Redis: ``pytest --noconftest tests/test_extract_formats.py`` runs them. OCR
tests run the real Tesseract (tesseract-ocr + tesseract-ocr-eng, installed by the project's
scripts).
"""

from __future__ import annotations

import datetime as dt
import io

import pytest

from tests.extract_samples import (
    MINUTES_LINES,
    docx_bytes,
    mail_bytes,
    page_image,
    png_bytes,
    scanned_pdf,
    text_pdf,
)
from workers import extract
from workers.extract import (
    ImageTooLarge,
    OcrUnavailable,
    TextTooLong,
    detect_type,
    extract_text,
    ocr,
)

LONG = (
    "Tom Brennan will book the cutover weekend with the hosting provider and confirm the "
    "rollback window with the operations team in the planning session on 16 December 2026."
)


def kinds(extracted) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(block.kind, block.text) for block in extracted.model.blocks]


# -- PDF ----------------------------------------------------------------------------------------


def test_pdf_wrapped_lines_stay_one_paragraph_and_short_lines_do_not_join():
    def build(pdf):  # type: ignore[no-untyped-def]
        pdf.set_font("Helvetica", "B", 18)
        pdf.cell(0, 24, "Release planning", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        pdf.cell(0, 15, "Date: 3 March 2027", new_x="LMARGIN", new_y="NEXT")
        pdf.cell(0, 15, "Chair: Maria Lopez", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(8)
        pdf.multi_cell(0, 15, LONG + " " + LONG, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(8)
        pdf.multi_cell(0, 15, "A second paragraph that is short.", new_x="LMARGIN", new_y="NEXT")

    result = extract_text(io.BytesIO(text_pdf(build)), "pdf")
    assert kinds(result) == [
        ("heading", "Release planning"),
        ("paragraph", "Date: 3 March 2027"),
        ("paragraph", "Chair: Maria Lopez"),
        ("paragraph", LONG + " " + LONG),
        ("paragraph", "A second paragraph that is short."),
    ]
    assert result.model.blocks[0].level == 1
    assert LONG in result.text.splitlines()[3]


def test_pdf_headings_by_size_and_bold_lists_by_bullet_and_indent():
    def build(pdf):  # type: ignore[no-untyped-def]
        pdf.set_font("Helvetica", "B", 20)
        pdf.cell(0, 26, "Board meeting", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "B", 14)
        pdf.cell(0, 20, "Actions", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(0, 16, "Open items", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        pdf.cell(0, 15, "- Priya to confirm the licence order", new_x="LMARGIN", new_y="NEXT")
        pdf.set_x(80)
        pdf.cell(0, 15, "- check the discount with the vendor", new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 15, "- " + LONG, new_x="LMARGIN", new_y="NEXT")
        pdf.cell(0, 15, "1. Daniel to brief the executives", new_x="LMARGIN", new_y="NEXT")

    blocks = extract_text(io.BytesIO(text_pdf(build)), "pdf").model.blocks
    summary = [(b.kind, b.level, b.text) for b in blocks]
    assert summary == [
        ("heading", 1, "Board meeting"),
        ("heading", 2, "Actions"),
        ("heading", 3, "Open items"),
        ("list_item", 0, "Priya to confirm the licence order"),
        ("list_item", 1, "check the discount with the vendor"),
        ("list_item", 0, LONG),
        ("list_item", 0, "Daniel to brief the executives"),
    ]


def test_pdf_paragraph_continues_across_a_page_break():
    def build(pdf):  # type: ignore[no-untyped-def]
        pdf.set_y(pdf.h - 56 - 45)  # room for three lines before the bottom margin
        pdf.multi_cell(0, 15, " ".join([LONG] * 3), new_x="LMARGIN", new_y="NEXT")

    result = extract_text(io.BytesIO(text_pdf(build)), "pdf")
    assert result.pages == 2
    assert kinds(result) == [("paragraph", " ".join([LONG] * 3))]


def test_pdf_ruled_table_becomes_a_table_block_with_its_header():
    def build(pdf):  # type: ignore[no-untyped-def]
        with pdf.table() as table:
            for row in (("Action", "Owner", "Due"), ("Send budget", "Maria", "12 March")):
                cells = table.row()
                for cell in row:
                    cells.cell(cell)

    (block,) = extract_text(io.BytesIO(text_pdf(build)), "pdf").model.blocks
    assert (block.kind, block.header, block.rows) == (
        "table",
        ["Action", "Owner", "Due"],
        [["Send budget", "Maria", "12 March"]],
    )


# -- DOCX ---------------------------------------------------------------------------------------


def _numbered(paragraph, level: int) -> None:  # type: ignore[no-untyped-def]
    """Give a paragraph Word's list numbering at ``level`` (w:numPr/w:ilvl)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    properties = paragraph._p.get_or_add_pPr()
    numbering = OxmlElement("w:numPr")
    ilvl, num_id = OxmlElement("w:ilvl"), OxmlElement("w:numId")
    ilvl.set(qn("w:val"), str(level))
    num_id.set(qn("w:val"), "1")
    numbering.extend([ilvl, num_id])
    properties.append(numbering)


def _checkbox_control(paragraph, checked: bool) -> None:  # type: ignore[no-untyped-def]
    """Insert a Word checkbox content control (w14:checkbox) at the start of a paragraph."""
    from lxml import etree

    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    w14 = "http://schemas.microsoft.com/office/word/2010/wordml"
    xml = (
        f'<w:sdt xmlns:w="{w}" xmlns:w14="{w14}"><w:sdtPr><w14:checkbox>'
        f'<w14:checked w14:val="{int(checked)}"/></w14:checkbox></w:sdtPr>'
        f"<w:sdtContent><w:r><w:t>{'☒' if checked else '☐'}</w:t></w:r></w:sdtContent></w:sdt>"
    )
    paragraph._p.insert(1 if paragraph._p.pPr is not None else 0, etree.fromstring(xml))


def test_docx_headings_lists_checkboxes_tables_and_properties():
    def build(document):  # type: ignore[no-untyped-def]
        document.core_properties.author = "Maria Lopez"
        document.core_properties.created = dt.datetime(2027, 3, 3, 9, 0)
        document.core_properties.title = "Steering committee"
        document.add_heading("Steering committee", level=0)
        document.add_heading("Actions", level=1)
        document.add_heading("This week", level=2)
        document.add_paragraph("Maria to send the budget", style="List Bullet")
        document.add_paragraph("check the figures with finance", style="List Bullet 2")
        nested = document.add_paragraph("Tom to book the weekend")
        _numbered(nested, 2)
        document.add_paragraph("☑ Priya sent the order")
        boxed = document.add_paragraph("Daniel to brief the executives")
        _checkbox_control(boxed, checked=False)
        table = document.add_table(rows=2, cols=3)
        for cells, values in zip(
            (table.rows[0].cells, table.rows[1].cells),
            (("Risk", "Owner", "Severity"), ("Vendor late", "Tom", "High")),
            strict=True,
        ):
            for cell, value in zip(cells, values, strict=True):
                cell.text = value
        document.add_paragraph("Plain closing paragraph.")

    result = extract_text(io.BytesIO(docx_bytes(build)), "docx")
    summary = [(b.kind, b.level, b.checked, b.text) for b in result.model.blocks[:-2]]
    assert summary == [
        ("heading", 1, None, "Steering committee"),
        ("heading", 1, None, "Actions"),
        ("heading", 2, None, "This week"),
        ("list_item", 0, None, "Maria to send the budget"),
        ("list_item", 1, None, "check the figures with finance"),
        ("list_item", 2, None, "Tom to book the weekend"),
        ("list_item", 0, True, "Priya sent the order"),
        ("list_item", 0, False, "Daniel to brief the executives"),
    ]
    table, closing = result.model.blocks[-2:]
    assert (table.kind, table.header, table.rows) == (
        "table",
        ["Risk", "Owner", "Severity"],
        [["Vendor late", "Tom", "High"]],
    )
    assert (closing.kind, closing.text) == ("paragraph", "Plain closing paragraph.")
    model = result.model
    assert (model.title, model.author, model.date) == (
        "Steering committee",
        "Maria Lopez",
        dt.date(2027, 3, 3),
    )
    assert "- [ ] Daniel to brief the executives" in result.text.splitlines()
    assert "Risk | Owner | Severity" in result.text.splitlines()


# -- HTML ---------------------------------------------------------------------------------------


def test_html_nesting_checkboxes_tables_quotes_rules_and_speakers():
    page = b"""<!doctype html><html><head><title>Sync</title><style>p{}</style></head><body>
    <h1>Weekly sync</h1>
    <p><strong>Maria</strong>: will send the
       email to the vendor.</p>
    <ul>
      <li>Top item
        <ol>
          <li><input type="checkbox" checked> Nested done item</li>
          <li><input type="checkbox"> Nested open item
            <ul><li>Third level</li></ul>
          </li>
        </ol>
      </li>
      <li>[ ] Typed box item</li>
    </ul>
    <blockquote>Quoted from the last meeting</blockquote>
    <hr>
    <table><thead><tr><th>Task</th><th>Who</th></tr></thead>
      <tbody><tr><td>Book room</td><td>Tom</td></tr></tbody></table>
    <script>document.write("no")</script>
    <h3>Notes</h3><div>First line<br>Second line</div>
    </body></html>"""
    result = extract_text(io.BytesIO(page), "html")
    summary = [(b.kind, b.level, b.checked, b.text) for b in result.model.blocks]
    assert summary == [
        ("heading", 1, None, "Sync"),  # the <title>, part of the text as before
        ("heading", 1, None, "Weekly sync"),
        ("paragraph", 0, None, "Maria: will send the email to the vendor."),
        ("list_item", 0, None, "Top item"),
        ("list_item", 1, True, "Nested done item"),
        ("list_item", 1, False, "Nested open item"),
        ("list_item", 2, None, "Third level"),
        ("list_item", 0, False, "Typed box item"),
        ("quote", 0, None, "Quoted from the last meeting"),
        ("rule", 0, None, ""),
        ("table", 0, None, ""),
        ("heading", 3, None, "Notes"),
        ("paragraph", 0, None, "First line"),
        ("paragraph", 0, None, "Second line"),
    ]
    table = result.model.blocks[10]
    assert (table.header, table.rows) == (["Task", "Who"], [["Book room", "Tom"]])
    assert result.model.title == "Sync"
    assert "no" not in result.text.split() and "p{}" not in result.text


# -- CSV and bounded decoding -------------------------------------------------------------------


def test_csv_is_one_table_block_with_the_first_row_as_header():
    source = b'Action;Owner;Due\nSend budget;Maria;12 March\n"Book; confirm";Tom;19 March\n'
    result = extract_text(io.BytesIO(source), "csv")
    (table,) = result.model.blocks
    assert table.header == ["Action", "Owner", "Due"]
    assert table.rows == [
        ["Send budget", "Maria", "12 March"],
        ["Book; confirm", "Tom", "19 March"],
    ]
    assert result.text.splitlines()[2] == "Book; confirm | Tom | 19 March"


def test_markdown_keeps_its_structure_as_blocks_and_text_has_no_model():
    source = (
        b"---\ndate: 2026-12-03\n---\n\n# T\n\n## Actions\n\n- [x] done thing\n"
        b"  - [ ] nested open thing\n\n> quoted line\n\n**Ana**: I'll send it.\n\n"
        b"| Task | Owner |\n|---|---|\n| Book | Tom |\n"
    )
    result = extract_text(io.BytesIO(source), "markdown")
    blocks = [(b.kind, b.level, b.checked, b.text) for b in result.model.blocks]
    assert ("paragraph", 0, None, "date: 2026-12-03") in blocks
    assert ("heading", 2, None, "Actions") in blocks
    assert ("list_item", 0, True, "done thing") in blocks
    assert ("list_item", 1, False, "nested open thing") in blocks
    assert ("quote", 0, None, "quoted line") in blocks
    table = next(b for b in result.model.blocks if b.kind == "table")
    assert (table.header, table.rows) == (["Task", "Owner"], [["Book", "Tom"]])
    assert "**" not in result.text and "#" not in result.text
    assert extract_text(io.BytesIO(b"text\n"), "txt").model is None


def test_a_space_aligned_text_table_becomes_rows_and_fields_stay_lines():
    source = (
        b"Chair:       Ana Lopez\n"
        b"End date:    31 March 2027 (once the deliverables are done)\n"
        b"\n"
        b"  ID  Deliverable          DRI          Target\n"
        b"  D1  Data catalogue       Sami Haddad  30 Oct 2026\n"
        b"  D2  Retention policy     Ana Lopez    15 Dec 2026\n"
        b"      signed by Legal\n"
        b"\n"
        b"The end.  Two spaces after a full stop are no table.\n"
    )
    assert extract_text(io.BytesIO(source), "txt").text.split("\n") == [
        "Chair: Ana Lopez",
        "End date: 31 March 2027 (once the deliverables are done)",
        "",
        "ID | Deliverable | DRI | Target",
        "D1 | Data catalogue | Sami Haddad | 30 Oct 2026",
        "D2 | Retention policy signed by Legal | Ana Lopez | 15 Dec 2026",
        "",
        "The end. Two spaces after a full stop are no table.",
    ]


class CountingStream(io.RawIOBase):
    """A large file that is never in memory: short CSV cells made on demand, bytes counted."""

    def __init__(self, size: int) -> None:
        self.size, self.position = size, 0
        self.row = b"a,b,c,d,e,f,g,h\n"

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        assert whence == 0
        self.position = offset
        return offset

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        count = min(len(buffer), self.size - self.position)
        start = self.position % len(self.row)
        data = (self.row * (count // len(self.row) + 2))[start : start + count]
        buffer[:count] = data
        self.position += count
        return count


@pytest.mark.parametrize("doc_type", ["csv", "txt", "markdown"])
def test_text_formats_stop_reading_at_the_limit(monkeypatch, doc_type):
    """Is a 20 MB text refused after reading about as much as the limit, not all of it?"""
    monkeypatch.setattr(extract, "MAX_TEXT_CHARS", 100_000)
    stream = CountingStream(20 * 1024 * 1024)
    with pytest.raises(TextTooLong) as info:
        extract_text(stream, doc_type)
    assert "limit: 100,000 characters" in info.value.user_message
    # The CSV sniffer reads 64 KiB first; decoding reads 256 KiB chunks.
    assert stream.position <= 1024 * 1024


def test_text_under_the_limit_counts_tidied_characters(monkeypatch):
    monkeypatch.setattr(extract, "MAX_TEXT_CHARS", 50)
    padded = b"word" + b" " * 5000 + b"\n" + b"\n" * 5000 + b"end\n"
    assert extract_text(io.BytesIO(padded), "txt").text == "word\n\nend"


def test_text_split_across_chunks_keeps_crlf_and_multibyte_characters():
    line = "Caf\u00e9 \u2014 r\u00e9sum\u00e9\r\n"
    source = (line * 40_000).encode()
    text = extract_text(io.BytesIO(source), "txt").text
    assert text.split("\n") == [line.strip()] * 40_000


# -- Detection of the new types -----------------------------------------------------------------


def test_images_and_mail_are_detected_by_content():
    png = png_bytes(page_image(["x"], size=(60, 40)))
    assert detect_type(io.BytesIO(png), "scan.docx") == "png"
    jpeg = io.BytesIO()
    page_image(["x"], size=(60, 40)).save(jpeg, "JPEG")
    assert detect_type(io.BytesIO(jpeg.getvalue()), "photo") == "jpeg"
    tiff = io.BytesIO()
    page_image(["x"], size=(60, 40)).save(tiff, "TIFF")
    assert detect_type(io.BytesIO(tiff.getvalue()), "scan.tif") == "tiff"
    assert detect_type(io.BytesIO(mail_bytes("Minutes", "Body\n")), "minutes.txt") == "eml"
    # Minutes that start with a Date: line are not mail.
    assert detect_type(io.BytesIO(b"Date: 3 March 2027\nTo do: x\n\nBody\n"), "m.txt") == "txt"


def test_an_image_declaring_too_many_pixels_is_refused_from_its_header():
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 30_000, 30_000, 8, 0, 0, 0, 0)  # 900 Mpx, grey
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")
    with pytest.raises(ImageTooLarge) as info:
        detect_type(io.BytesIO(bomb), "bomb.png")
    assert "50,000,000 pixels" in info.value.user_message


# -- E-mail -------------------------------------------------------------------------------------


def test_mail_headers_body_quotes_signature_and_attachments():
    body = (
        "Hi all,\n\nNotes from today.\n\n- Maria to send the budget by Friday\n"
        "- [x] Tom booked the room\n\n> On Monday Tom wrote:\n> old quoted text\n\n"
        "-- \nMaria Lopez\nProject Manager\n"
    )
    data = mail_bytes(
        "Steering committee minutes",
        body,
        attachments=[("minutes.docx", "application/octet-stream", b"PK\x03\x04docx")],
        html="<p>HTML alternative that is not used</p>",
    )
    result = extract_text(io.BytesIO(data), "eml")
    model = result.model
    assert (model.title, model.author, model.date) == (
        "Steering committee minutes",
        "Maria Lopez",
        dt.date(2027, 3, 3),
    )
    assert [(b.kind, b.checked, b.text) for b in model.blocks] == [
        ("paragraph", None, "Hi all,"),
        ("paragraph", None, "Notes from today."),
        ("list_item", None, "Maria to send the budget by Friday"),
        ("list_item", True, "Tom booked the room"),
        ("quote", None, "On Monday Tom wrote: old quoted text"),
        ("paragraph", None, "Attachments: minutes.docx"),
    ]
    assert [(a.filename, a.data) for a in result.attachments] == [
        ("minutes.docx", b"PK\x03\x04docx")
    ]
    assert "Project Manager" not in result.text


def test_html_only_mail_is_read_as_html():
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"], message["Subject"] = "tom@example.test", "Status"
    message.set_content("<h2>Status</h2><ul><li>Tom to call the vendor</li></ul>", subtype="html")
    result = extract_text(io.BytesIO(message.as_bytes()), "eml")
    assert [(b.kind, b.text) for b in result.model.blocks] == [
        ("heading", "Status"),
        ("list_item", "Tom to call the vendor"),
    ]


# -- OCR ----------------------------------------------------------------------------------------


def test_png_photo_of_a_page_is_recognised_into_blocks():
    image = page_image(MINUTES_LINES, tilt=0.4)  # a slightly crooked photo
    pages: list[tuple[int, int]] = []
    result = extract_text(
        io.BytesIO(png_bytes(image)), "png", progress=lambda d, t: pages.append((d, t))
    )
    assert [(b.kind, b.text) for b in result.model.blocks] == [
        ("heading", MINUTES_LINES[0]),
        *[("paragraph", line) for line in MINUTES_LINES[1:]],
    ]
    assert pages == [(1, 1)] and result.pages == 1


def test_scanned_pdf_pages_are_recognised_one_by_one_with_progress():
    data = scanned_pdf([MINUTES_LINES, ["Risks", "Risk: the vendor may deliver late."]])
    seen: list[tuple[int, int]] = []
    result = extract_text(io.BytesIO(data), "pdf", progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 2), (2, 2)]
    assert MINUTES_LINES[2] in result.text.splitlines()
    assert "Risk: the vendor may deliver late." in result.text.splitlines()
    assert [b.page for b in result.model.blocks if b.kind == "heading"] == [1, 2]


def test_multi_page_tiff_is_read_frame_by_frame():
    frames = [page_image(["First page", "Alpha item"]), page_image(["Second page", "Beta item"])]
    buffer = io.BytesIO()
    frames[0].save(buffer, "TIFF", save_all=True, append_images=frames[1:], dpi=(150, 150))
    result = extract_text(io.BytesIO(buffer.getvalue()), "tiff")
    assert result.pages == 2
    assert result.text.splitlines() == ["First page", "Alpha item", "Second page", "Beta item"]


def test_missing_tesseract_gives_a_clear_message(monkeypatch):
    monkeypatch.setattr(ocr, "TESSERACT", "/nonexistent/tesseract")
    with pytest.raises(OcrUnavailable) as info:
        extract_text(io.BytesIO(png_bytes(page_image(MINUTES_LINES))), "png")
    assert "Tesseract is not installed" in info.value.user_message


def test_a_language_that_is_not_installed_is_named():
    with pytest.raises(OcrUnavailable) as info:
        extract_text(io.BytesIO(png_bytes(page_image(["x y z"]))), "png", ocr_language="zzz")
    assert "“zzz” is not installed" in info.value.user_message


def test_malformed_language_setting_falls_back_to_english():
    assert ocr.valid_language("eng; rm -rf /") == "eng"
    assert ocr.valid_language("deu+eng") == "deu+eng"
    assert ocr.valid_language(None) == "eng"


def test_csv_just_under_the_limit_is_accepted_and_just_over_is_refused(monkeypatch):
    """Does the running count match the text's real length (" | " between cells, newlines)?"""
    source = b"a,bb,ccc\n" * 10  # each row becomes "a | bb | ccc": 12 characters
    text = extract_text(io.BytesIO(source), "csv").text
    assert len(text) == 10 * 12 + 9
    monkeypatch.setattr(extract, "MAX_TEXT_CHARS", len(text) + 1)
    assert extract_text(io.BytesIO(source), "csv").text == text
    monkeypatch.setattr(extract, "MAX_TEXT_CHARS", len(text) - 2)
    with pytest.raises(TextTooLong):
        extract_text(io.BytesIO(source), "csv")


def test_a_large_sideways_jpeg_photo_is_turned_upright_and_read_scaled_down():
    """A phone photo stored sideways (EXIF orientation 6) and over the OCR pixel cap."""
    from PIL import Image

    upright = page_image(MINUTES_LINES[:3]).resize((2480, 3508))  # 8.7 Mpx: 300 dpi A4
    big = upright.resize((3100, 4385))  # 13.6 Mpx, over OCR_MAX_PIXELS
    stored = big.transpose(Image.Transpose.ROTATE_90)  # how the camera wrote the pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=85, exif=exif)
    result = extract_text(io.BytesIO(buffer.getvalue()), "jpeg")
    assert result.text.splitlines() == MINUTES_LINES[:3]


def test_pdf_running_headers_and_footers_are_dropped_and_the_text_flows_on():
    from fpdf import FPDF

    class Report(FPDF):
        def header(self) -> None:
            self.set_font("Helvetica", size=9)
            self.cell(0, 12, "Atlas programme - internal", new_x="LMARGIN", new_y="NEXT")
            self.ln(6)

        def footer(self) -> None:
            self.set_y(-40)
            self.set_font("Helvetica", size=9)
            self.cell(0, 12, f"Page {self.page_no()} of {{nb}}", align="C")

    pdf = Report(unit="pt", format="A4")
    pdf.set_margins(56, 56, 56)
    pdf.set_auto_page_break(True, margin=60)
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    flowing = " ".join([LONG] * 75)  # three pages
    pdf.multi_cell(0, 15, flowing, new_x="LMARGIN", new_y="NEXT")
    result = extract_text(io.BytesIO(bytes(pdf.output())), "pdf")
    assert result.pages == 3
    assert kinds(result) == [("paragraph", flowing)]


def test_a_photographed_table_without_rules_becomes_a_table_with_wrapped_cells_joined():
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (1240, 900), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=30)
    rows = [
        ("Task", "Owner", "Due"),
        ("Share the analytics export", "Bilal", "20 Feb"),
        ("Draft the content inventory", "Femke +", "6 Mar"),
        ("", "Ravi", ""),
        ("Book five interviews", "Chloe", "27 Feb"),
    ]
    draw.text((110, 80), "Actions agreed at the kick-off meeting.", fill=20, font=font)
    for number, row in enumerate(rows):
        for x, cell in zip((110, 640, 900), row, strict=True):
            draw.text((x, 170 + 46 * number), cell, fill=20, font=font)
    result = extract_text(io.BytesIO(png_bytes(image)), "png")
    paragraph, table = result.model.blocks
    assert paragraph.text == "Actions agreed at the kick-off meeting."
    assert (table.kind, table.header, table.rows) == (
        "table",
        ["Task", "Owner", "Due"],
        [
            ["Share the analytics export", "Bilal", "20 Feb"],
            ["Draft the content inventory", "Femke + Ravi", "6 Mar"],
            ["Book five interviews", "Chloe", "27 Feb"],
        ],
    )


def test_a_pdf_table_set_with_tabs_is_a_table_but_a_list_of_fields_is_not():
    def build(pdf):  # type: ignore[no-untyped-def]
        for label, value in (("Chair:", "Helen"), ("Secretary:", "Martin"), ("Date:", "17 June")):
            pdf.cell(150, 15, label)
            pdf.cell(0, 15, value, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(10)
        for row in (
            ("Risk", "Owner", "Severity"),
            ("Vendor late", "Tom", "High"),
            ("Budget overrun", "Priya", "Medium"),
        ):
            for width, cell in zip((220, 120, 0), row, strict=True):
                pdf.cell(width, 15, cell)
            pdf.ln(15)

    blocks = extract_text(io.BytesIO(text_pdf(build)), "pdf").model.blocks
    assert [(b.kind, b.text) for b in blocks[:3]] == [
        ("paragraph", "Chair: Helen"),
        ("paragraph", "Secretary: Martin"),
        ("paragraph", "Date: 17 June"),
    ]
    (table,) = blocks[3:]
    assert (table.header, table.rows) == (
        ["Risk", "Owner", "Severity"],
        [["Vendor late", "Tom", "High"], ["Budget overrun", "Priya", "Medium"]],
    )


def test_identical_scanned_pages_keep_their_text():
    """Lines repeated on every page are running heads only in the page's top or bottom tenth:
    the same title at the top of three pages goes, the body lines under it stay."""
    result = extract_text(io.BytesIO(scanned_pdf([MINUTES_LINES] * 3)), "pdf")
    assert result.text.splitlines() == MINUTES_LINES[1:] * 3


def test_a_forwarded_mail_is_an_attachment_and_inline_images_are_not():
    from email.message import EmailMessage

    inner = EmailMessage()
    inner["From"], inner["Subject"] = "tom@example.test", "Original minutes"
    inner.set_content("Tom to book the room.\n")
    outer = EmailMessage()
    outer["From"], outer["Subject"] = "maria@example.test", "Fwd: minutes"
    outer.set_content("See the forwarded minutes.\n")
    outer.add_alternative("<p>See the forwarded minutes.</p>", subtype="html")
    logo = png_bytes(page_image(["x"], size=(20, 20)))
    outer.get_payload()[1].add_related(logo, "image", "png", cid="<logo>", disposition="inline")
    outer.add_attachment(inner)
    result = extract_text(io.BytesIO(outer.as_bytes()), "eml")
    (attachment,) = result.attachments
    assert attachment.filename == "Original minutes.eml"
    assert detect_type(io.BytesIO(attachment.data), attachment.filename) == "eml"
    assert "Tom to book the room." in extract_text(io.BytesIO(attachment.data), "eml").text


def test_a_plain_mail_body_is_read_like_a_text_upload():
    # Minutes pasted into a mail keep their headings, numbered tasks and aligned tables.
    body = (
        "Hi all,\n\nACTION SUMMARY\n"
        "No.   Action                       Owner   Due\n"
        "09    Capacity forecast            TN      26 Nov\n"
        "10    Circulate pen test report    AB      16 Nov\n\n"
        "Decisions\n- Go-live stays on 7 December.\n\n> quoted old line\n"
    )
    result = extract_text(io.BytesIO(mail_bytes("Minutes", body)), "eml")
    kinds = [(b.kind, b.text) for b in result.model.blocks if b.kind != "table"]
    assert ("heading", "ACTION SUMMARY") in kinds and ("heading", "Decisions") in kinds
    assert ("quote", "quoted old line") in kinds
    table = next(b for b in result.model.blocks if b.kind == "table")
    assert table.header == ["No.", "Action", "Owner", "Due"] and len(table.rows) == 2


def test_preformatted_html_is_read_like_a_text_file():
    # A mailing-list archive page holds the message in <pre>: headings, bullets and aligned
    # columns are in its lines.
    page = (
        "<html><body><h1>[tsc] Minutes</h1><pre>STEERING GROUP\n\nACTIONS\n"
        "- Ana to send the budget by Friday\n- [x] Tom booked the room\n\n"
        "No.   Action              Owner   Due\n09    Capacity forecast   TN      26 Nov\n"
        "</pre></body></html>"
    )
    blocks = extract_text(io.BytesIO(page.encode()), "html").model.blocks
    kinds = [(b.kind, b.checked, b.text) for b in blocks if b.kind != "table"]
    assert ("heading", None, "ACTIONS") in kinds
    assert ("list_item", True, "Tom booked the room") in kinds
    assert any(b.kind == "table" and b.header[:2] == ["No.", "Action"] for b in blocks)
