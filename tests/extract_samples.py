"""Small documents built inside the tests: PDFs with wrapped text, scans, page photos, mails.

Generated rather than committed so each test shows what its input holds. Needs fpdf2 (test
requirement), Pillow and python-docx.
"""

from __future__ import annotations

import io
from email.message import EmailMessage
from email.utils import format_datetime

MINUTES_LINES = [
    "Steering Committee Minutes",
    "Date: 3 March 2027",
    "Action: Maria to send the revised budget by 12 March 2027.",
    "Decision: the committee approved the sandbox contingency.",
]


def page_image(lines: list[str], size: tuple[int, int] = (1240, 1754), tilt: float = 0.0):
    """A white page (150 dpi A4 by default) with a large title line and body lines, in grey."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    title = ImageFont.load_default(size=44)
    body = ImageFont.load_default(size=30)
    y = 120
    for index, line in enumerate(lines):
        draw.text((110, y), line, fill=20, font=title if index == 0 else body)
        y += 80 if index == 0 else 46
    if tilt:
        image = image.rotate(tilt, fillcolor=255, expand=False)
    return image


def png_bytes(image, dpi: int = 150) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", dpi=(dpi, dpi))
    return buffer.getvalue()


def scanned_pdf(pages: list[list[str]]) -> bytes:
    """A PDF whose pages are only images of text (no text layer), as a scanner makes them."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    for lines in pages:
        pdf.add_page()
        buffer = io.BytesIO()
        page_image(lines).save(buffer, "PNG")
        buffer.seek(0)
        pdf.image(buffer, x=0, y=0, w=pdf.w, h=pdf.h)
    return bytes(pdf.output())


def text_pdf(build) -> bytes:  # type: ignore[no-untyped-def]
    """A PDF with a text layer; ``build(pdf)`` writes on an A4 page set in Helvetica 11."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.set_margins(56, 56, 56)
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    build(pdf)
    return bytes(pdf.output())


def docx_bytes(build) -> bytes:  # type: ignore[no-untyped-def]
    """A .docx made by python-docx; ``build(document)`` adds the content."""
    from docx import Document

    document = Document()
    build(document)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def mail_bytes(
    subject: str,
    body: str,
    attachments: list[tuple[str, str, bytes]] = (),  # type: ignore[assignment]
    html: str | None = None,
    sender: str = "Maria Lopez <maria@example.test>",
) -> bytes:
    """An RFC 5322 message: text body (and HTML alternative), then (name, mime type, data)."""
    import datetime as dt

    message = EmailMessage()
    message["From"] = sender
    message["To"] = "team@example.test"
    message["Subject"] = subject
    message["Date"] = format_datetime(dt.datetime(2027, 3, 3, 17, 5, tzinfo=dt.UTC))
    message["Message-ID"] = "<minutes-1@example.test>"
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for filename, mime, data in attachments:
        maintype, subtype = mime.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()
