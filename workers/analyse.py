"""Compatibility entry point: ``analyse(text, title=..., pages=...)`` → the digest JSON.

Other tools call ``workers.analyse.analyse``; the work is done by the ``workers.digest``
package (blocks → sections → extractors → digest). When the extractor produced a document
model (PDF, DOCX, HTML, e-mail, OCR), its blocks are read instead of re-parsing the text.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from workers.digest.actions import MAX_ACTIONS
from workers.digest.blocks import DocumentModel
from workers.digest.digest import WORDS_PER_MINUTE, build_digest
from workers.digest.summary import MAX_SUMMARY_SENTENCES
from workers.digest.text import MAX_LINES

__all__ = ["MAX_ITEMS", "MAX_LINES", "MAX_SUMMARY_SENTENCES", "WORDS_PER_MINUTE", "analyse"]

#: Entries kept per list in the digest.
MAX_ITEMS = MAX_ACTIONS


def analyse(
    text: str,
    *,
    title: str = "",
    pages: int | None = None,
    reference_date: dt.date | None = None,
    dayfirst: bool | None = None,
    model: DocumentModel | None = None,
    filename: str = "",
    document_date: dt.date | None = None,
) -> dict[str, Any]:
    """Return the JSON-serialisable project-management digest of a document.

    ``reference_date`` (or ``document_date``) is the date relative and year-less dates resolve
    against; without either, the document's own date is used (the model's date, a ``Date:``
    line, a dated heading, the file name or the title). ``dayfirst`` reads 03/04/2027 as
    3 April (True) or 4 March (False); None (the default) lets the document's own dates tell,
    day-first unless they read month-first. ``model`` (from ``workers.extract``) supplies the
    document's blocks; ``filename`` tells Markdown from plain text and may carry the date.
    """
    return build_digest(
        text,
        title=title,
        pages=pages,
        reference_date=reference_date or document_date,
        dayfirst=dayfirst,
        model=model,
        filename=filename,
    )
