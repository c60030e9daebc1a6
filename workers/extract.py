"""Text extraction for uploaded documents: detect the real type, then pull out plain text.

Pure Python, no database, no network. Every failure a user could cause is an
``ExtractionError`` subclass whose ``user_message`` can be shown as is; anything else that
escapes is a bug in this module.

Choices worth knowing:

* The type comes from the content, never the extension alone. The extension only decides
  between text flavours (Markdown and CSV are just text with a convention).
* Text formats must be UTF-8 (a BOM is allowed); other encodings are refused with a message
  that says so, rather than guessed and shown as mojibake.
* A PDF whose text layer is empty (a scan) fails with ``NoTextFound``: a digest of nothing
  would look like a bug to the user, and OCR is out of scope.
* A PDF without ``%%EOF`` in its last 1024 bytes is treated as truncated (the same window
  Acrobat uses), even when pypdf could salvage some pages: a silently partial digest is worse
  than asking for a complete file.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Literal

__all__ = [
    "DOCUMENT_TYPES",
    "MAX_DOCX_COMPRESSION_RATIO",
    "MAX_DOCX_MEMBERS",
    "MAX_DOCX_UNCOMPRESSED_BYTES",
    "MAX_PDF_PAGES",
    "MAX_TEXT_CHARS",
    "MAX_TEXT_INPUT_BYTES",
    "CorruptDocument",
    "DecompressionBomb",
    "DocumentType",
    "EmptyFile",
    "EncryptedDocument",
    "Extracted",
    "ExtractionError",
    "NoTextFound",
    "TextTooLong",
    "TooManyPages",
    "UnreadableDocument",
    "UnsupportedFileType",
    "detect_type",
    "extract_text",
]

DocumentType = Literal["pdf", "docx", "html", "markdown", "csv", "txt"]
DOCUMENT_TYPES: tuple[DocumentType, ...] = ("pdf", "docx", "html", "markdown", "csv", "txt")

#: Longest text handed to the analyser and the search index.
MAX_TEXT_CHARS = 2_000_000
#: Text-like files (TXT, Markdown, CSV, HTML) larger than this are refused before decoding.
MAX_TEXT_INPUT_BYTES = 64 * 1024 * 1024
#: PDFs with more pages than this are refused before any page is parsed.
MAX_PDF_PAGES = 3_000
#: Sum of the declared uncompressed sizes of all members of a DOCX.
MAX_DOCX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
#: Highest uncompressed/compressed ratio accepted for one DOCX member (Word's XML is ~10-30).
MAX_DOCX_COMPRESSION_RATIO = 100
#: Members below this size are exempt from the ratio test: tiny files compress oddly.
DOCX_RATIO_MIN_BYTES = 1024 * 1024
MAX_DOCX_MEMBERS = 5_000

SUPPORTED_LABEL = "PDF, DOCX, TXT, Markdown, HTML, CSV"

# How much of the file the sniffers look at; enough for a long HTML <head>.
_HEAD_BYTES = 64 * 1024
_CHUNK_BYTES = 1024 * 1024

Source = str | os.PathLike[str] | IO[bytes]


# --------------------------------------------------------------------------------------------
# Errors


class ExtractionError(Exception):
    """A document could not be turned into text; ``user_message`` says why, for a person."""

    default_message = "The document could not be read."

    def __init__(self, user_message: str | None = None) -> None:
        self.user_message = user_message or self.default_message
        super().__init__(self.user_message)


class EmptyFile(ExtractionError):
    """The upload has no bytes at all."""

    default_message = "The file is empty."


class UnsupportedFileType(ExtractionError):
    """The content is not one of the supported document formats."""

    def __init__(self, detected: str) -> None:
        self.detected = detected
        super().__init__(
            f"This file is not a supported document (detected: {detected}). "
            f"Supported: {SUPPORTED_LABEL}."
        )


class CorruptDocument(ExtractionError):
    """A PDF that is truncated or structurally broken."""

    default_message = "The PDF file is damaged or incomplete and could not be read."


class EncryptedDocument(ExtractionError):
    """A PDF that needs a password to open."""

    default_message = "The PDF is password-protected; upload an unprotected copy."


class UnreadableDocument(ExtractionError):
    """A DOCX (or text file) that cannot be parsed."""

    default_message = (
        "The Word document is damaged or is not a valid .docx file and could not be read."
    )


class DecompressionBomb(ExtractionError):
    """A DOCX whose members would expand to an unreasonable size."""

    default_message = (
        "The Word document expands to far more data than a real document would and was not opened."
    )


class TextTooLong(ExtractionError):
    """The extracted text is over ``MAX_TEXT_CHARS``."""

    def __init__(self) -> None:
        # Read the limit when raised, not when defined, so a changed limit is reported.
        super().__init__(
            "The document contains more text than can be processed "
            f"(limit: {MAX_TEXT_CHARS:,} characters)."
        )


class TooManyPages(ExtractionError):
    """A PDF with more than ``MAX_PDF_PAGES`` pages."""

    def __init__(self) -> None:
        super().__init__(f"The PDF has too many pages (limit: {MAX_PDF_PAGES:,} pages).")


class NoTextFound(ExtractionError):
    """The document parsed fine but holds no text (e.g. a scanned PDF)."""

    default_message = "The document contains no text."


# --------------------------------------------------------------------------------------------
# Reading helpers


@contextmanager
def _open_binary(source: Source) -> Iterator[IO[bytes]]:
    """Yield a readable binary stream positioned at 0; close it only if we opened it."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as fh:
            yield fh
        return
    if source.seekable():
        source.seek(0)
    yield source


def _read_limited(stream: IO[bytes], limit: int) -> bytes:
    """Read at most ``limit + 1`` bytes so the caller can tell "over the limit" apart."""
    data = stream.read(limit + 1)
    return data if isinstance(data, bytes) else bytes(data)


# Signatures used only to name what a rejected file is; order matters for shared prefixes.
_MAGIC_NAMES: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "Windows executable"),
    (b"\x7fELF", "Linux executable (ELF)"),
    (b"\xcf\xfa\xed\xfe", "macOS executable (Mach-O)"),
    (b"\xce\xfa\xed\xfe", "macOS executable (Mach-O)"),
    (b"\xca\xfe\xba\xbe", "macOS universal binary or Java class"),
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"II*\x00", "TIFF image"),
    (b"MM\x00*", "TIFF image"),
    (b"BM", "BMP image"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Microsoft Office document (.doc/.xls/.ppt)"),
    (b"{\\rtf", "Rich Text Format (RTF)"),
    (b"\x1f\x8b", "gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"BZh", "bzip2 archive"),
    (b"\xfd7zXZ\x00", "xz archive"),
    (b"ID3", "MP3 audio"),
    (b"OggS", "Ogg media"),
    (b"fLaC", "FLAC audio"),
    (b"\x00asm", "WebAssembly module"),
    (b"SQLite format 3\x00", "SQLite database"),
    (b"\xff\xfe", "text in UTF-16 encoding (save it as UTF-8)"),
    (b"\xfe\xff", "text in UTF-16 encoding (save it as UTF-8)"),
)

_RIFF_NAMES = {b"WEBP": "WebP image", b"WAVE": "WAV audio", b"AVI ": "AVI video"}

_HTML_SNIFF = re.compile(
    rb"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]|<meta\s|<title[\s>]|<div[\s>]|<p[\s>]",
    re.IGNORECASE,
)
_HTML_DOCUMENT_SNIFF = re.compile(
    rb"\s*(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html[\s>])", re.IGNORECASE | re.DOTALL
)
_SVG_SNIFF = re.compile(rb"<svg[\s>]", re.IGNORECASE)

_MARKDOWN_EXTENSIONS = {".md", ".markdown", ".mdown", ".mkd", ".mkdn"}
_CSV_EXTENSIONS = {".csv", ".tsv"}
_HTML_EXTENSIONS = {".html", ".htm", ".xhtml"}


def _describe_binary(head: bytes) -> str:
    """Name a rejected file's format for the error message, or say it is unknown."""
    if head[:4] == b"RIFF" and head[8:12] in _RIFF_NAMES:
        return _RIFF_NAMES[head[8:12]]
    if head[4:8] == b"ftyp":
        return "video or image (MP4/HEIC family)"
    for magic, name in _MAGIC_NAMES:
        if head.startswith(magic):
            return name
    controls = sum(1 for b in head if b < 0x09 or 0x0D < b < 0x20)
    if b"\x00" not in head and controls <= len(head) // 100:
        return "text that is not UTF-8 encoded (save it as UTF-8)"
    return "binary data"


def _has_binary_magic(head: bytes) -> bool:
    """True for signatures made of control bytes, which no real text file starts with."""
    return any(
        head.startswith(magic) and any(b < 0x09 or 0x0D < b < 0x20 or b == 0x7F for b in magic)
        for magic, _ in _MAGIC_NAMES
    )


def _is_utf8_text(stream: IO[bytes], first: bytes) -> bool:
    """True if the whole stream is UTF-8 without NUL bytes (checked in chunks, not loaded)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    chunk = first
    try:
        while chunk:
            if b"\x00" in chunk:
                return False
            decoder.decode(chunk)
            chunk = stream.read(_CHUNK_BYTES)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _describe_zip(names: list[str]) -> str:
    """Name a zip-based format that is not DOCX, so the user knows what they sent."""
    name_set = set(names)
    if "xl/workbook.xml" in name_set:
        return "Excel workbook (.xlsx)"
    if "ppt/presentation.xml" in name_set:
        return "PowerPoint presentation (.pptx)"
    if "mimetype" in name_set and "content.xml" in name_set:
        return "OpenDocument file"
    if "META-INF/container.xml" in name_set:
        return "EPUB e-book"
    return "ZIP archive"


def _looks_like_csv(sample: str) -> bool:
    """True if the first lines split into a consistent number (>= 2) of fields."""
    lines = [line for line in sample.splitlines()[:50] if line.strip()]
    if not lines:
        return False
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may end mid-line
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|")
    except csv.Error:
        return False
    rows = list(csv.reader(lines, dialect))
    widths = {len(row) for row in rows}
    return len(widths) == 1 and widths.pop() >= 2


def detect_type(source: Source, filename: str = "") -> DocumentType:
    """Return the document type of ``source`` judged by its content; raise if unsupported.

    ``source`` is a path or a seekable binary file object (it is rewound before and after).
    The whole content may be read: DOCX needs the zip's central directory, and text must be
    UTF-8 throughout. ``filename`` only chooses between the text flavours (``.md`` ->
    markdown, ``.csv``/``.tsv`` -> csv when the content parses as CSV).

    Raises ``EmptyFile`` for zero bytes and ``UnsupportedFileType`` for anything else that is
    not PDF, DOCX or UTF-8 text (executables, images, other archives, other encodings).
    """
    with _open_binary(source) as stream:
        try:
            return _detect(stream, filename)
        finally:
            if stream.seekable():
                stream.seek(0)


def _detect(stream: IO[bytes], filename: str) -> DocumentType:
    head = stream.read(_HEAD_BYTES)
    if not head:
        raise EmptyFile()
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return _detect_zip(stream)
    if _has_binary_magic(head) or not _is_utf8_text(stream, head):
        # The PDF spec tolerates junk before the header (readers look in the first 1 KB);
        # only binary files get that leniency, so a text quoting "%PDF-" stays text.
        if b"%PDF-" in head[:1024]:
            return "pdf"
        raise UnsupportedFileType(_describe_binary(head))

    text_head = head.decode("utf-8", errors="ignore").lstrip("\ufeff").lstrip()
    extension = os.path.splitext(filename.lower())[1]
    sample = text_head.encode("utf-8")[:4096]
    if text_head.startswith("{\\rtf"):
        raise UnsupportedFileType("Rich Text Format (RTF)")
    if text_head.startswith("<") and _SVG_SNIFF.search(sample) and not _HTML_SNIFF.search(sample):
        raise UnsupportedFileType("SVG image")
    if extension in _MARKDOWN_EXTENSIONS:
        # Markdown may embed HTML; only a whole HTML document overrides the extension.
        return "html" if _HTML_DOCUMENT_SNIFF.match(sample) else "markdown"
    if _HTML_SNIFF.search(sample) and (text_head.startswith("<") or extension in _HTML_EXTENSIONS):
        return "html"
    if extension in _CSV_EXTENSIONS and _looks_like_csv(text_head):
        return "csv"
    return "txt"


def _detect_zip(stream: IO[bytes]) -> DocumentType:
    if not stream.seekable():
        raise UnsupportedFileType("ZIP archive (unseekable stream)")
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as archive:
            names = archive.namelist()
            if "word/document.xml" in names:
                # Refuse a decompression bomb at the door, from the central directory alone.
                _check_docx_archive(archive)
                return "docx"
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise UnsupportedFileType("damaged ZIP archive") from None
    raise UnsupportedFileType(_describe_zip(names))


# --------------------------------------------------------------------------------------------
# Extraction


@dataclass(frozen=True, slots=True)
class Extracted:
    """Plain text of a document and its page count when the format has pages."""

    text: str
    pages: int | None = None


def extract_text(source: Source, doc_type: str) -> Extracted:
    """Return the plain text of ``source`` read as ``doc_type`` (a value of DOCUMENT_TYPES).

    ``source`` is a path or a seekable binary file object. Raises an ``ExtractionError``
    subclass for every failure a user can cause, including ``NoTextFound`` when nothing
    readable is left and ``TextTooLong`` over ``MAX_TEXT_CHARS``.
    """
    extractors = {
        "pdf": _extract_pdf,
        "docx": _extract_docx,
        "html": _extract_html,
        "markdown": _extract_markdown,
        "csv": _extract_csv,
        "txt": _extract_txt,
    }
    try:
        extractor = extractors[doc_type]
    except KeyError:
        raise ValueError(f"unknown document type {doc_type!r}") from None
    with _open_binary(source) as stream:
        result = extractor(stream)
    text = _tidy(result.text)
    if len(text) > MAX_TEXT_CHARS:
        raise TextTooLong()
    if not text.strip():
        if doc_type == "pdf":
            raise NoTextFound(
                "The PDF contains no selectable text (it may be a scanned image); "
                "text recognition (OCR) is not supported."
            )
        raise NoTextFound()
    return Extracted(text=text, pages=result.pages)


_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")
# C0 controls other than tab/newline leak out of PDFs and Word fields; they break JSON viewers.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _tidy(text: str) -> str:
    """Normalise newlines and spacing so every format yields comparable plain text."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    text = _CONTROL_CHARS.sub("", text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _MANY_BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


# -- PDF ----------------------------------------------------------------------------------------


def _extract_pdf(stream: IO[bytes]) -> Extracted:
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    data = stream.read()
    if not data:
        raise EmptyFile()
    if b"%PDF-" not in data[:1024]:
        raise CorruptDocument()
    if b"%%EOF" not in data[-1024:]:
        raise CorruptDocument()
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        # pypdf already tried the empty user password; a PDF that only restricts printing
        # or copying opens that way, one that needs a real password does not.
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise EncryptedDocument()
        page_count = len(reader.pages)
        if page_count > MAX_PDF_PAGES:
            raise TooManyPages()
        parts: list[str] = []
        size = 0
        for page in reader.pages:
            page_text = page.extract_text() or ""
            parts.append(page_text)
            size += len(page_text)
            if size > MAX_TEXT_CHARS:
                raise TextTooLong()  # stop early instead of parsing the remaining pages
    except ExtractionError:
        raise
    except (FileNotDecryptedError, DependencyError):
        raise EncryptedDocument() from None
    except RecursionError:
        raise CorruptDocument() from None
    except Exception:
        # pypdf reports malformed input through many exception types (KeyError, ValueError,
        # PdfReadError...); to the user they all mean the same thing.
        raise CorruptDocument() from None
    return Extracted(text="\n\n".join(parts), pages=page_count)


# -- DOCX ---------------------------------------------------------------------------------------


def _check_docx_archive(archive: zipfile.ZipFile) -> None:
    """Refuse archives that would expand too far, using only the central directory."""
    infos = archive.infolist()
    if len(infos) > MAX_DOCX_MEMBERS:
        raise DecompressionBomb()
    total = 0
    for info in infos:
        total += info.file_size
        if total > MAX_DOCX_UNCOMPRESSED_BYTES:
            raise DecompressionBomb()
        if info.file_size >= DOCX_RATIO_MIN_BYTES:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > MAX_DOCX_COMPRESSION_RATIO:
                raise DecompressionBomb()


_APP_PAGES = re.compile(rb"<(?:\w+:)?Pages>\s*(\d+)\s*</(?:\w+:)?Pages>")
_APP_WORDS = re.compile(rb"<(?:\w+:)?Words>\s*(\d+)\s*</(?:\w+:)?Words>")


def _docx_page_count(archive: zipfile.ZipFile) -> int | None:
    """Pages as last saved by Word (docProps/app.xml); None when the producer did not say."""
    try:
        info = archive.getinfo("docProps/app.xml")
    except KeyError:
        return None
    if info.file_size > 1024 * 1024:
        return None
    properties = archive.read(info)
    # python-docx and other generators copy a template that says <Pages>1</Pages> with
    # <Words>0</Words>; Word and LibreOffice refresh both on save, so trust only non-zero words.
    words = _APP_WORDS.search(properties)
    if not words or int(words.group(1)) == 0:
        return None
    match = _APP_PAGES.search(properties)
    pages = int(match.group(1)) if match else 0
    return pages or None


def _docx_table_lines(table: object) -> Iterator[str]:
    from docx.table import Table

    assert isinstance(table, Table)
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            # A merged cell is returned once per grid column it spans; keep it once.
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            yield " | ".join(cells)


def _extract_docx(stream: IO[bytes]) -> Extracted:
    from docx import Document
    from docx.table import Table

    if not stream.seekable():
        stream = io.BytesIO(stream.read())
    try:
        with zipfile.ZipFile(stream) as archive:
            _check_docx_archive(archive)
            if "word/document.xml" not in archive.namelist():
                raise UnreadableDocument()
            pages = _docx_page_count(archive)
        stream.seek(0)
        document = Document(stream)
        lines: list[str] = []
        size = 0
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                block_lines = list(_docx_table_lines(block))
            else:
                block_lines = [block.text]
            lines.extend(block_lines)
            size += sum(len(line) + 1 for line in block_lines)
            if size > MAX_TEXT_CHARS:
                raise TextTooLong()
    except ExtractionError:
        raise
    except RecursionError:
        raise UnreadableDocument() from None
    except Exception:
        # Broken zips and XML surface as BadZipFile, KeyError, lxml errors, python-docx's
        # PackageNotFoundError...; the user only needs to know the file is not usable.
        raise UnreadableDocument() from None
    return Extracted(text="\n".join(lines), pages=pages)


# -- Text formats -------------------------------------------------------------------------------


def _read_text(stream: IO[bytes]) -> str:
    data = _read_limited(stream, MAX_TEXT_INPUT_BYTES)
    if not data:
        raise EmptyFile()
    if len(data) > MAX_TEXT_INPUT_BYTES:
        raise TextTooLong()
    if b"\x00" in data:
        raise UnsupportedFileType("binary data")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableDocument(
            "The file is not valid UTF-8 text; save it as UTF-8 and upload it again."
        ) from None


def _extract_txt(stream: IO[bytes]) -> Extracted:
    return Extracted(text=_read_text(stream))


_MD_FENCE = re.compile(r"^[ \t]*(```|~~~).*$", re.MULTILINE)
_MD_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]*(.*?)[ \t]*#*[ \t]*$", re.MULTILINE)
_MD_SETEXT = re.compile(r"^[ \t]*(=+|-+)[ \t]*$", re.MULTILINE)
_MD_HRULE = re.compile(r"^[ \t]*([-*_])([ \t]*\1){2,}[ \t]*$", re.MULTILINE)
_MD_TABLE_RULE = re.compile(
    r"^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*(?:\|[ \t]*:?-{3,}:?[ \t]*)*\|?[ \t]*(?:\n|$)", re.MULTILINE
)
_MD_REF_DEF = re.compile(r"^[ \t]{0,3}\[[^\]]+\]:\s*\S+.*$", re.MULTILINE)
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\[[^\]]*\])")
_MD_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_MD_BLOCKQUOTE = re.compile(r"^[ \t]{0,3}>[ \t]?", re.MULTILINE)
_MD_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
# Single * or _ only when not inside a word, so snake_case and 2*3 survive.
_MD_EMPHASIS = re.compile(r"(?<![\w*])([*_])(?=\S)([^*_\n]+?)(?<=\S)\1(?![\w*])")
_MD_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_MD_CODE = re.compile(r"`+([^`\n]+?)`+")
_MD_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_MD_TABLE_ROW = re.compile(r"^[ \t]*\|(.*)\|[ \t]*$", re.MULTILINE)


def _strip_markdown(text: str) -> str:
    """Remove Markdown markup that carries no words, keep list markers and table cells."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _MD_FENCE.sub("", text)
    text = _MD_REF_DEF.sub("", text)
    text = _MD_TABLE_RULE.sub("", text)
    text = _MD_HRULE.sub("", text)
    text = _MD_SETEXT.sub("", text)
    text = _MD_HEADING.sub(r"\1", text)
    text = _MD_BLOCKQUOTE.sub("", text)
    text = _MD_IMAGE.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_AUTOLINK.sub(r"\1", text)
    text = _MD_CODE.sub(r"\1", text)
    text = _MD_STRONG.sub(r"\2", text)
    text = _MD_EMPHASIS.sub(r"\2", text)
    text = _MD_STRIKE.sub(r"\1", text)
    text = _MD_HTML_TAG.sub("", text)
    # "| a | b |" -> "a | b": the same row shape the DOCX/HTML/CSV extractors produce.
    text = _MD_TABLE_ROW.sub(lambda m: " | ".join(c.strip() for c in m.group(1).split("|")), text)
    return text


def _extract_markdown(stream: IO[bytes]) -> Extracted:
    return Extracted(text=_strip_markdown(_read_text(stream)))


def _extract_csv(stream: IO[bytes]) -> Extracted:
    text = _read_text(stream)
    sample = text[:_HEAD_BYTES]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    lines: list[str] = []
    try:
        for row in csv.reader(io.StringIO(text, newline=""), dialect):
            cells = [" ".join(cell.split()) for cell in row]
            if any(cells):
                lines.append(" | ".join(cells))
    except csv.Error:
        raise UnreadableDocument("The CSV file is malformed and could not be read.") from None
    return Extracted(text="\n".join(lines))


# -- HTML ---------------------------------------------------------------------------------------

# Elements whose content is never shown as text (scripts, styles, embedded documents).
_HTML_DROP = (
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "object",
    "embed",
    "svg",
    "math",
    "canvas",
)
_HTML_BLOCKS = (
    "address",
    "article",
    "aside",
    "blockquote",
    "caption",
    "dd",
    "details",
    "dialog",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "thead",
    "tfoot",
    "title",
    "tr",
    "ul",
)
# Private-use characters mark structure while whitespace is collapsed, then become text.
_LINE_MARK = "\ue000"
_CELL_MARK = "\ue001"
_WHITESPACE = re.compile(r"\s+")


def _extract_html(stream: IO[bytes]) -> Extracted:
    from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning

    markup = _read_text(stream)
    with warnings.catch_warnings():
        # bs4 warns when markup looks like a URL or is XHTML; both are fine to parse here,
        # and the test suite turns warnings into errors.
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(markup, "html.parser")
    for element in soup.find_all(_HTML_DROP):
        element.decompose()
    for element in soup.find_all(_HTML_BLOCKS):
        element.insert_before(_LINE_MARK)
        element.insert_after(_LINE_MARK)
    for element in soup.find_all("br"):
        element.replace_with(_LINE_MARK)
    for element in soup.find_all(["td", "th"]):
        element.insert_before(_CELL_MARK)
    # HTML whitespace inside text is insignificant: only the marks make line breaks.
    flat = _WHITESPACE.sub(" ", soup.get_text())
    lines = []
    for line in flat.split(_LINE_MARK):
        cells = [cell.strip() for cell in line.split(_CELL_MARK)]
        joined = " | ".join(cell for cell in cells if cell)
        if joined:
            lines.append(joined)
    return Extracted(text="\n".join(lines))
