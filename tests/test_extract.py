"""Tests for workers.extract: type detection by content, text extraction and refusals.

No database, network or Redis: run with ``pytest --noconftest tests/test_extract.py``.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from workers import extract
from workers.extract import (
    CorruptDocument,
    DecompressionBomb,
    EmptyFile,
    EncryptedDocument,
    ExtractionError,
    NoTextFound,
    TextTooLong,
    UnreadableDocument,
    UnsupportedFileType,
    detect_type,
    extract_text,
)

FIXTURES = Path(__file__).parent / "fixtures"
BAD = FIXTURES / "bad"
SUPPORTED = "Supported: PDF, DOCX, TXT, Markdown, HTML, CSV, e-mail (.eml), PNG, JPEG, TIFF."


@pytest.mark.parametrize(
    ("name", "doc_type", "pages"),
    [
        ("meeting_minutes.txt", "txt", None),
        ("meeting_minutes.md", "markdown", None),
        ("meeting_minutes.docx", "docx", None),
        ("meeting_minutes.pdf", "pdf", 2),
        ("meeting_minutes.html", "html", None),
        ("status_report.pdf", "pdf", 2),
        ("project_charter.docx", "docx", None),
        ("risk_register.csv", "csv", None),
        ("risk_register.html", "html", None),
        ("owner_password_only.pdf", "pdf", 2),
        ("bad/prose.csv", "txt", None),
    ],
)
def test_good_files_are_detected_and_extracted(name, doc_type, pages):
    path = FIXTURES / name
    assert detect_type(path, path.name) == doc_type
    result = extract_text(path, doc_type)
    assert result.pages == pages
    assert "\r" not in result.text and "\n\n\n" not in result.text
    assert len(result.text) > 80


@pytest.mark.parametrize("fmt", ["txt", "md", "docx", "pdf", "html"])
def test_every_format_of_the_minutes_carries_the_same_facts(fmt):
    text = extract_text(FIXTURES / f"meeting_minutes.{fmt}", _type_of(fmt)).text
    for phrase in (
        "Action: Maria to send the revised budget by 12 March 2027.",
        "Attendees: Maria Lopez (Project Manager), Tom Brennan",
        "£25,000 contingency",
        "5. Action items",
    ):
        assert phrase in text


def _type_of(fmt: str) -> str:
    return {"md": "markdown"}.get(fmt, fmt)


def test_docx_tables_become_pipe_rows_in_body_order():
    text = extract_text(FIXTURES / "risk_register.docx", "docx").text
    lines = text.splitlines()
    header = lines.index("ID | Risk | Category | Likelihood | Impact | Owner | Mitigation")
    assert lines[header + 1].startswith("R1 | Billing vendor delivers")
    assert lines.index("Notes") > header


def test_html_drops_scripts_styles_and_keeps_blocks():
    text = extract_text(BAD / "script.html", "html").text
    assert text.splitlines() == ["Status", "Weekly status", "All workstreams are on track."]
    assert "alert" not in text and "cookie" not in text and "display" not in text


def test_html_fixture_has_no_hidden_content_and_joins_wrapped_source_lines():
    text = extract_text(FIXTURES / "status_report.html", "html").text
    for hidden in ("tracking-token", "dataLayer", "font-family", "enable JavaScript", "template"):
        assert hidden not in text
    assert (
        "The project is broadly on schedule, but the billing integration is at risk because "
        "the vendor's API release has slipped by two weeks." in text
    )
    assert "Go-live | 14 June 2027 | 14 June 2027 | On track" in text.splitlines()


def test_markdown_markup_is_stripped_lightly():
    source = (
        b"# Plan\n\n**Owner:** Ana  \nSee [the wiki](https://x.test/w) and `code`.\n\n"
        b"| A | B |\n|---|---|\n| 1 | 2 |\n\n- [ ] keep_this_marker *now*\n> quoted\n"
    )
    text = extract_text(io.BytesIO(source), "markdown").text
    assert text.splitlines() == [
        "Plan",
        "",
        "Owner: Ana",
        "See the wiki and code.",
        "",
        "A | B",
        "1 | 2",
        "",
        "- [ ] keep_this_marker now",
        "quoted",
    ]


def test_csv_rows_keep_quoted_commas_in_one_cell():
    text = extract_text(FIXTURES / "risk_register.csv", "csv").text
    assert "Weekly vendor checkpoint; fallback file interface" in text
    assert text.splitlines()[0] == "ID | Risk | Category | Likelihood | Impact | Owner | Mitigation"


@pytest.mark.parametrize(
    ("content", "filename", "expected"),
    [
        (b"<!DOCTYPE html><html><body><p>Hi</p></body></html>", "notes.txt", "html"),
        (b"\xef\xbb\xbf<html><body>Hi</body></html>", "page", "html"),
        (b"<p>Fragment saved as .htm</p>", "frag.htm", "html"),
        (b"# Title\n\n<div>inline html</div>\n", "readme.md", "markdown"),
        (b"a,b,c\n1,2,3\n4,5,6\n", "data.csv", "csv"),
        (b"a;b\n1;2\n", "data.csv", "csv"),
        (b"a,b,c\n1,2,3\n", "data.txt", "txt"),
        (b"Just some words, with a comma.\nAnother line here.\n", "data.csv", "txt"),
        (b"See the attached %PDF-1.7 sample.", "notes.pdf", "txt"),
        (b"MZ is a two-letter code in our tracker.", "codes.txt", "txt"),
        (b"\xef\xbb\xbfplain text with BOM", "x.txt", "txt"),
        ("Caf\u00e9 na\u00efve \u2014 UTF-8".encode(), "u.txt", "txt"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "renamed.txt", "pdf"),
    ],
)
def test_detect_type_uses_content_then_extension(content, filename, expected):
    assert detect_type(io.BytesIO(content), filename) == expected


def test_detect_type_rewinds_the_file_object():
    stream = io.BytesIO(b"hello world\n" * 10)
    assert detect_type(stream, "a.txt") == "txt"
    assert stream.tell() == 0
    assert extract_text(stream, "txt").text.startswith("hello world")


@pytest.mark.parametrize(
    ("name", "detected"),
    [
        ("bad/program.pdf", "Linux executable (ELF)"),
        ("bad/setup.pdf", "Windows executable"),
        # Images are documents now (OCR): a PNG signature with no image behind it is damaged.
        ("bad/image.docx", "damaged PNG image"),
        ("bad/spreadsheet.docx", "Excel workbook (.xlsx)"),
        ("bad/latin1.txt", "text that is not UTF-8 encoded (save it as UTF-8)"),
    ],
)
def test_unsupported_files_name_what_they_are(name, detected):
    with pytest.raises(UnsupportedFileType) as info:
        detect_type(FIXTURES / name, Path(name).name)
    assert info.value.user_message == (
        f"This file is not a supported document (detected: {detected}). {SUPPORTED}"
    )
    assert info.value.detected == detected


@pytest.mark.parametrize(
    ("content", "detected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "damaged JPEG image"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00", "GIF image"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(32), "legacy Microsoft Office document"),
        (b"\x1f\x8b\x08\x00" + bytes(16), "gzip archive"),
        (b"\xff\xfeH\x00i\x00", "text in UTF-16 encoding"),
        (b"{\\rtf1\\ansi Hello}", "Rich Text Format (RTF)"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "SVG image"),
        (b"\x00\x01\x02\x03binary", "binary data"),
    ],
)
def test_unsupported_content_in_memory(content, detected):
    with pytest.raises(UnsupportedFileType) as info:
        detect_type(io.BytesIO(content), "upload.pdf")
    assert f"(detected: {detected}" in info.value.user_message


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_unknown_zip_is_refused_and_docx_zip_is_docx():
    with pytest.raises(UnsupportedFileType, match="ZIP archive"):
        detect_type(io.BytesIO(_zip({"notes.txt": b"x"})), "a.docx")
    assert detect_type(io.BytesIO(_zip({"word/document.xml": b"<w/>"})), "a.zip") == "docx"


@pytest.mark.parametrize(
    ("name", "doc_type", "error", "message"),
    [
        ("bad/empty.txt", "txt", EmptyFile, "The file is empty."),
        ("bad/empty.pdf", "pdf", EmptyFile, "The file is empty."),
        (
            "bad/truncated.pdf",
            "pdf",
            CorruptDocument,
            "The PDF file is damaged or incomplete and could not be read.",
        ),
        (
            "bad/encrypted.pdf",
            "pdf",
            EncryptedDocument,
            "The PDF is password-protected; upload an unprotected copy.",
        ),
        (
            "bad/zip_bomb.docx",
            "docx",
            DecompressionBomb,
            "The Word document expands to far more data than a real document would and was "
            "not opened.",
        ),
        (
            "bad/scanned.pdf",
            "pdf",
            NoTextFound,
            "No text was found in this document, not even by text recognition (OCR): the pages "
            "may be blank, or the scan too faint or too small to read.",
        ),
        ("bad/blank.html", "html", NoTextFound, "The document contains no text."),
        (
            "bad/latin1.txt",
            "txt",
            UnreadableDocument,
            "The file is not valid UTF-8 text; save it as UTF-8 and upload it again.",
        ),
    ],
)
def test_bad_files_raise_their_error_with_a_user_message(name, doc_type, error, message):
    path = FIXTURES / name
    with pytest.raises(error) as info:
        # Detection first, as the pipeline does; some files fail there already.
        detected = detect_type(path, path.name) if error is not UnreadableDocument else doc_type
        assert detected == doc_type
        extract_text(path, detected)
    assert isinstance(info.value, ExtractionError)
    assert info.value.user_message == message
    assert str(info.value) == message


def test_zip_bomb_fixture_is_small_but_declares_hundreds_of_megabytes():
    path = BAD / "zip_bomb.docx"
    assert path.stat().st_size < 1024 * 1024
    with zipfile.ZipFile(path) as archive:
        declared = sum(info.file_size for info in archive.infolist())
    assert declared > extract.MAX_DOCX_UNCOMPRESSED_BYTES


def test_docx_member_with_extreme_ratio_is_a_bomb_even_under_the_total_limit():
    data = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"\0" * (8 << 20)})
    assert len(data) < 64 * 1024
    with pytest.raises(DecompressionBomb):
        extract_text(io.BytesIO(data), "docx")


@pytest.mark.parametrize(
    "content",
    [
        b"PK\x03\x04 not really a zip",
        _zip({"word/document.xml": b"<not-closed"}),
        _zip({"word/document.xml": b"<w:document/>"}),
    ],
)
def test_broken_docx_is_unreadable(content):
    with pytest.raises(UnreadableDocument) as info:
        extract_text(io.BytesIO(content), "docx")
    assert info.value.user_message.startswith("The Word document is damaged")


@pytest.mark.parametrize(
    "content",
    [b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n", b"%PDF-1.7\ngarbage\n%%EOF"],
)
def test_structurally_broken_pdf_is_corrupt(content):
    with pytest.raises(CorruptDocument):
        extract_text(io.BytesIO(content), "pdf")


def test_text_over_the_limit_is_refused_with_the_limit_in_the_message(monkeypatch):
    monkeypatch.setattr(extract, "MAX_TEXT_CHARS", 1_000)
    with pytest.raises(TextTooLong) as info:
        extract_text(FIXTURES / "meeting_minutes.pdf", "pdf")
    assert "limit: 1,000 characters" in info.value.user_message
    with pytest.raises(TextTooLong):
        extract_text(FIXTURES / "meeting_minutes.txt", "txt")


def test_default_text_limit_is_named_in_the_message():
    assert "2,000,000 characters" in TextTooLong().user_message


def test_unknown_doc_type_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown document type"):
        extract_text(io.BytesIO(b"x"), "xlsx")


def test_control_characters_and_spacing_are_normalised():
    raw = b"Title\r\n\r\n\r\n\r\nA\x07 line\twith   gaps\x0c\nend"
    assert extract_text(io.BytesIO(raw), "txt").text == "Title\n\nA line with gaps\n\nend"
