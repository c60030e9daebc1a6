"""Upload type detection: the type comes from the content, never from the extension alone.

The extension only decides between text flavours (Markdown and CSV are text with a
convention) and lets a ``.eml`` with few headers count as e-mail. Images are accepted by their
signature and their header is checked for size here, before any pixel is decoded.
"""

from __future__ import annotations

import codecs
import csv
import os
import re
import zipfile
from typing import IO, Literal

from workers.extract.common import Source, open_binary
from workers.extract.errors import DecompressionBomb, EmptyFile, UnsupportedFileType
from workers.extract.limits import (
    DOCX_RATIO_MIN_BYTES,
    MAX_DOCX_COMPRESSION_RATIO,
    MAX_DOCX_MEMBERS,
    MAX_DOCX_UNCOMPRESSED_BYTES,
)

DocumentType = Literal[
    "pdf", "docx", "html", "markdown", "csv", "txt", "eml", "png", "jpeg", "tiff"
]
DOCUMENT_TYPES: tuple[DocumentType, ...] = (
    "pdf",
    "docx",
    "html",
    "markdown",
    "csv",
    "txt",
    "eml",
    "png",
    "jpeg",
    "tiff",
)
IMAGE_TYPES: tuple[DocumentType, ...] = ("png", "jpeg", "tiff")

# How much of the file the sniffers look at; enough for a long HTML <head>.
_HEAD_BYTES = 64 * 1024
_CHUNK_BYTES = 1024 * 1024

_IMAGE_MAGIC: tuple[tuple[bytes, DocumentType], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)

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
    with open_binary(source) as stream:
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
    for magic, image_type in _IMAGE_MAGIC:
        if head.startswith(magic):
            check_image(stream, image_type)
            return image_type
    extension = os.path.splitext(filename.lower())[1]
    # Before the UTF-8 test: a mail's body may be 8-bit in another charset it declares.
    if b"\x00" not in head and _looks_like_email(head, extension == ".eml"):
        return "eml"
    if _has_binary_magic(head) or not _is_utf8_text(stream, head):
        # The PDF spec tolerates junk before the header (readers look in the first 1 KB);
        # only binary files get that leniency, so a text quoting "%PDF-" stays text.
        if b"%PDF-" in head[:1024]:
            return "pdf"
        raise UnsupportedFileType(_describe_binary(head))

    text_head = head.decode("utf-8", errors="ignore").lstrip("\ufeff").lstrip()
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
                check_docx_archive(archive)
                return "docx"
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise UnsupportedFileType("damaged ZIP archive") from None
    raise UnsupportedFileType(_describe_zip(names))


def check_docx_archive(archive: zipfile.ZipFile) -> None:
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


# Header fields that only mail carries together; "Date:" alone starts many minutes.
_MAIL_FIELDS = {
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "received",
    "return-path",
    "reply-to",
    "delivered-to",
    "content-type",
    "in-reply-to",
    "references",
}
_HEADER_LINE = re.compile(rb"^([!-9;-~]+):")


def _looks_like_email(head: bytes, eml_extension: bool) -> bool:
    """True if ``head`` opens with an RFC 5322 header block that names a sender.

    Every line up to the first blank one must be a header or a folded continuation; a file
    named ``.eml`` needs one known field, any other a From: plus a second mail-only field.
    """
    fields: set[str] = set()
    lines = head.split(b"\n")
    if len(lines) < 2:
        return False
    for line in lines[:-1]:  # the last piece may be cut mid-line
        line = line.rstrip(b"\r")
        if not line:
            break
        if line[:1] in (b" ", b"\t") and fields:
            continue
        match = _HEADER_LINE.match(line)
        if match is None:
            return False
        fields.add(match.group(1).decode("ascii").lower())
    else:
        return False  # no end of the header block in the head: not a mail we can read
    known = fields & _MAIL_FIELDS
    if eml_extension:
        return bool(known)
    return "from" in known and len(known) >= 2


def check_image(stream: IO[bytes], image_type: str) -> None:
    """Refuse an image from its header alone: damaged, too many pixels, or too many frames."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    from workers.extract.errors import ImageTooLarge, TooManyPages
    from workers.extract.limits import MAX_IMAGE_PIXELS, MAX_JPEG_PIXELS, MAX_PDF_PAGES

    stream.seek(0)
    name = {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF"}[image_type]
    limit = MAX_JPEG_PIXELS if image_type == "jpeg" else MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            # Pillow warns from ~89 Mpx; the caps above decide, so its warning is no refusal.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(stream) as image:
                width, height = image.size
                if width * height > limit:
                    raise ImageTooLarge(limit)
                frames = getattr(image, "n_frames", 1)
                if frames > MAX_PDF_PAGES:
                    raise TooManyPages("TIFF image")
    except Image.DecompressionBombError:  # over ~179 Mpx: Pillow refuses to open it at all
        raise ImageTooLarge(limit) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise UnsupportedFileType(f"damaged {name} image") from None
