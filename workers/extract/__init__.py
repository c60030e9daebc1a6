"""Text extraction for uploaded documents: detect the real type, then read text and structure.

Pure Python plus the Tesseract program for OCR; no database, no network. Every failure a user
could cause is an ``ExtractionError`` subclass whose ``user_message`` can be shown as is;
anything else that escapes is a bug in this package. One module per format:

* ``detect``: the type from the content (``detect_type``), images and mail included;
* ``pdf`` + ``layout``: positioned lines re-joined into paragraphs by layout; ``ocr`` for
  scanned pages and images (PNG, JPEG, TIFF);
* ``docx``, ``html``, ``mail`` (.eml, whose attachments become their own documents);
* ``text``: TXT, Markdown and CSV, decoded while counting, stopped at ``MAX_TEXT_CHARS``.

Every extractor returns ``Extracted(text, pages, model)``: ``model`` is the document model of
``workers.digest.blocks`` (None for Markdown and plain text, whose text the digest parses
itself) and ``text`` is the plain text of those blocks, for search and display.

Choices worth knowing:

* Text formats must be UTF-8 (a BOM is allowed); other encodings are refused with a message
  that says so, rather than guessed and shown as mojibake.
* A PDF without ``%%EOF`` in its last 1024 bytes is treated as truncated (the same window
  Acrobat uses), even when a reader could salvage some pages: a silently partial digest is
  worse than asking for a complete file.
"""

from __future__ import annotations

from workers.extract.common import Attachment, Extracted, Source, open_binary, tidy
from workers.extract.detect import (
    DOCUMENT_TYPES,
    IMAGE_TYPES,
    DocumentType,
    detect_type,
)
from workers.extract.errors import (
    CorruptDocument,
    DecompressionBomb,
    EmptyFile,
    EncryptedDocument,
    ExtractionError,
    ImageTooLarge,
    NoTextFound,
    OcrFailed,
    OcrUnavailable,
    TextTooLong,
    TooManyPages,
    UnreadableDocument,
    UnsupportedFileType,
)
from workers.extract.limits import (
    MAX_DOCX_COMPRESSION_RATIO,
    MAX_DOCX_MEMBERS,
    MAX_DOCX_UNCOMPRESSED_BYTES,
    MAX_IMAGE_PIXELS,
    MAX_PDF_PAGES,
    MAX_TEXT_CHARS,
    MAX_TEXT_INPUT_BYTES,
)
from workers.extract.ocr import DEFAULT_LANGUAGE, Progress

__all__ = [
    "DOCUMENT_TYPES",
    "IMAGE_TYPES",
    "MAX_DOCX_COMPRESSION_RATIO",
    "MAX_DOCX_MEMBERS",
    "MAX_DOCX_UNCOMPRESSED_BYTES",
    "MAX_IMAGE_PIXELS",
    "MAX_PDF_PAGES",
    "MAX_TEXT_CHARS",
    "MAX_TEXT_INPUT_BYTES",
    "Attachment",
    "CorruptDocument",
    "DecompressionBomb",
    "DocumentType",
    "EmptyFile",
    "EncryptedDocument",
    "Extracted",
    "ExtractionError",
    "ImageTooLarge",
    "NoTextFound",
    "OcrFailed",
    "OcrUnavailable",
    "TextTooLong",
    "TooManyPages",
    "UnreadableDocument",
    "UnsupportedFileType",
    "detect_type",
    "extract_text",
]


def extract_text(
    source: Source,
    doc_type: str,
    *,
    ocr_language: str = DEFAULT_LANGUAGE,
    progress: Progress | None = None,
) -> Extracted:
    """Return the text, pages and blocks of ``source`` read as ``doc_type`` (of DOCUMENT_TYPES).

    ``source`` is a path or a seekable binary file object. ``ocr_language`` is Tesseract's
    language for scanned pages and images; ``progress(done, total)`` is called after each
    page once a page needed OCR (those take seconds each). Raises an ``ExtractionError``
    subclass for every failure a user can cause, including ``NoTextFound`` when nothing
    readable is left and ``TextTooLong`` over ``MAX_TEXT_CHARS``.
    """
    from workers.extract import docx, html, mail, ocr, pdf, text

    # Read here, when called, so a changed limit (tests, a future setting) applies.
    limit = MAX_TEXT_CHARS
    with open_binary(source) as stream:
        if doc_type == "pdf":
            result = pdf.extract_pdf(stream, limit, ocr_language, progress)
        elif doc_type in IMAGE_TYPES:
            result = ocr.extract_image(stream, doc_type, limit, ocr_language, progress)
        elif doc_type == "docx":
            result = docx.extract_docx(stream, limit)
        elif doc_type == "html":
            result = html.extract_html(stream, limit)
        elif doc_type == "eml":
            result = mail.extract_eml(stream, limit)
        elif doc_type == "markdown":
            result = text.extract_markdown(stream, limit)
        elif doc_type == "csv":
            result = text.extract_csv(stream, limit)
        elif doc_type == "txt":
            result = text.extract_txt(stream, limit)
        else:
            raise ValueError(f"unknown document type {doc_type!r}")
    plain = tidy(result.text)
    if len(plain) > limit:
        raise TextTooLong(limit)
    if not plain.strip() and not result.attachments:
        if doc_type == "pdf" or doc_type in IMAGE_TYPES:
            raise NoTextFound(
                "No text was found in this document, not even by text recognition (OCR): "
                "the pages may be blank, or the scan too faint or too small to read."
            )
        raise NoTextFound()
    return Extracted(
        text=plain, pages=result.pages, model=result.model, attachments=result.attachments
    )
