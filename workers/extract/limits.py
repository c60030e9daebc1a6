"""Limits of extraction: what a real document needs, well above it, and far below a bomb."""

from __future__ import annotations

#: Longest text handed to the analyser and the search index.
MAX_TEXT_CHARS = 2_000_000
#: HTML larger than this is refused before decoding (it is parsed whole, into a tree).
MAX_TEXT_INPUT_BYTES = 64 * 1024 * 1024
#: PDFs (and multi-page TIFFs) with more pages than this are refused before any page is parsed.
MAX_PDF_PAGES = 3_000
#: Sum of the declared uncompressed sizes of all members of a DOCX.
MAX_DOCX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
#: Highest uncompressed/compressed ratio accepted for one DOCX member (Word's XML is ~10-30).
MAX_DOCX_COMPRESSION_RATIO = 100
#: Members below this size are exempt from the ratio test: tiny files compress oddly.
DOCX_RATIO_MIN_BYTES = 1024 * 1024
MAX_DOCX_MEMBERS = 5_000
#: An image (or one TIFF frame) with more pixels than this is refused from its header alone:
#: an A4 page scanned at 600 dpi is ~35 Mpx. PNG and TIFF are decoded at full size (a 40 Mpx
#: RGB PNG peaked at +226 MiB, bench/extract_memory.py), so the cap stays near that.
MAX_IMAGE_PIXELS = 50_000_000
#: JPEG decodes at 1/2, 1/4 or 1/8 scale (draft mode), so a large phone photo costs little.
MAX_JPEG_PIXELS = 120_000_000
#: Pages are recognised at this resolution at most ...
OCR_DPI = 300
#: ... and never from an image of more pixels than this (one 8-bit grey page: ~12 MB).
OCR_MAX_PIXELS = 12_000_000
#: Seconds Tesseract may spend on one page before it is stopped.
OCR_PAGE_TIMEOUT = 60
#: A PDF page with fewer characters than this in its text layer is treated as scanned.
OCR_MIN_PAGE_CHARS = 8

SUPPORTED_LABEL = "PDF, DOCX, TXT, Markdown, HTML, CSV, e-mail (.eml), PNG, JPEG, TIFF"
