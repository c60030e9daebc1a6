"""Errors of text extraction: every failure a user could cause, with a message for a person."""

from __future__ import annotations

from workers.extract.limits import MAX_PDF_PAGES, SUPPORTED_LABEL


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

    def __init__(self, limit: int | None = None) -> None:
        if limit is None:
            # Read the limit when raised, not when defined, so a changed limit is reported.
            from workers import extract

            limit = extract.MAX_TEXT_CHARS
        super().__init__(
            f"The document contains more text than can be processed (limit: {limit:,} characters)."
        )


class TooManyPages(ExtractionError):
    """A PDF (or multi-page TIFF) with more than ``MAX_PDF_PAGES`` pages."""

    def __init__(self, what: str = "PDF") -> None:
        super().__init__(f"The {what} has too many pages (limit: {MAX_PDF_PAGES:,} pages).")


class NoTextFound(ExtractionError):
    """The document parsed fine but holds no text (e.g. a scanned PDF)."""

    default_message = "The document contains no text."


class ImageTooLarge(ExtractionError):
    """An image whose declared size is beyond what a page photo or scan needs."""

    default_message = (
        "The image is larger than a scanned page would be and was not opened "
        "(limit: {pixels:,} pixels)."
    )

    def __init__(self, limit: int | None = None) -> None:
        from workers.extract.limits import MAX_IMAGE_PIXELS

        super().__init__(self.default_message.format(pixels=limit or MAX_IMAGE_PIXELS))


class OcrUnavailable(ExtractionError):
    """Text recognition is needed but Tesseract (or the wanted language) is not installed."""

    default_message = (
        "This document needs text recognition (OCR), but Tesseract is not installed on the "
        "server that processes documents. Ask the administrator to install the tesseract-ocr "
        "package, then use Reprocess."
    )


class OcrFailed(ExtractionError):
    """Tesseract ran but could not read a page."""

    default_message = "Text recognition (OCR) could not read this document's pages."
