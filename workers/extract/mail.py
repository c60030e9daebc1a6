"""E-mail (.eml) to blocks: the headers give title, date and author, the body is the document.

Parsed with the standard library (``email`` with ``policy.default``). The body is the
text/plain part when there is one (HTML mail usually carries one), else the HTML part read
like an HTML upload. Quoted replies (``> …``) become quote blocks, which the digest ignores,
and the signature after "-- " is dropped. Attachments are handed back to the pipeline, which
stores each as its own document of the same organization; inline parts (logos in a signature)
are not attachments.
"""

from __future__ import annotations

import io
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr
from typing import IO

from workers.digest.blocks import Block, DocumentModel
from workers.extract.common import Attachment, Extracted, TextBudget, blocks_text, clean_cell
from workers.extract.errors import EmptyFile

#: More attachments than this in one mail are not stored (each would be a document).
MAX_ATTACHMENTS = 20


def extract_eml(stream: IO[bytes], limit: int) -> Extracted:
    data = stream.read()
    if not data:
        raise EmptyFile()
    message = BytesParser(policy=policy.default).parsebytes(data)
    del data
    assert isinstance(message, EmailMessage)
    budget = TextBudget(limit)
    blocks = _body_blocks(message, limit)
    budget.spend(len(blocks_text(blocks)))
    attachments = _attachments(message)
    if attachments:
        names = ", ".join(attachment.filename for attachment in attachments)
        blocks.append(Block(kind="paragraph", text=f"Attachments: {names}"))
    subject = clean_cell(str(message.get("subject", "") or ""))
    model = DocumentModel(
        blocks=blocks,
        title=subject,
        date=_date(message),
        date_source="sent",
        author=_author(message),
    )
    return Extracted(text=blocks_text(blocks), model=model, attachments=tuple(attachments))


def _date(message: EmailMessage) -> object:
    try:
        header = message["date"]
        when = getattr(header, "datetime", None)
    except (TypeError, ValueError, IndexError):
        return None
    return when.date() if when is not None else None


def _author(message: EmailMessage) -> str | None:
    try:
        name, address = parseaddr(str(message.get("from", "") or ""))
    except (TypeError, ValueError, IndexError):
        return None
    return clean_cell(name or address) or None


def _content(part: EmailMessage) -> str:
    """A text part's content; an unknown or wrong charset is read as UTF-8 with replacements."""
    try:
        content = part.get_content()
    except (LookupError, UnicodeDecodeError, AssertionError):
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def _body_blocks(message: EmailMessage, limit: int) -> list[Block]:
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return []
    content = _content(body)  # type: ignore[arg-type]
    if body.get_content_subtype() == "html":
        from workers.extract.html import extract_html

        extracted = extract_html(io.BytesIO(content.encode("utf-8")), limit)
        return list(extracted.model.blocks) if extracted.model else []
    return plain_blocks(content)


def plain_blocks(text: str) -> list[Block]:
    """Blocks of a plain-text mail body: the text read like a plain-text (or Markdown) upload
    — headings, lists with boxes, tables, wrapped lines — with quoted replies (``> …``) as
    quote blocks and no signature (after "-- ")."""
    from workers.digest.digest import looks_like_markdown
    from workers.digest.text import blocks_from_text

    blocks: list[Block] = []
    run: list[str] = []  # the lines of the author's own text since the last quote
    quote: list[str] = []
    first = 1  # the number of the run's first line

    def flush_run() -> None:
        if any(line.strip() for line in run):
            body = "\n".join(run)
            for block in blocks_from_text(body, markdown=looks_like_markdown(body)):
                if block.line is not None:
                    block.line += first - 1
                blocks.append(block)
        run.clear()

    def flush_quote() -> None:
        if quote:
            blocks.append(Block(kind="quote", text=clean_cell(" ".join(quote))))
            quote.clear()

    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.rstrip() == "--" and raw.startswith("--"):
            break  # "-- " starts the signature
        if raw.lstrip().startswith(">"):
            flush_run()
            quote.append(raw.strip().lstrip("> "))
            continue
        if quote:
            flush_quote()
        if not run:
            first = number
        run.append(raw)
    flush_run()
    flush_quote()
    return [block for block in blocks if block.text or block.kind in {"table", "rule"}]


def _attachments(message: EmailMessage) -> list[Attachment]:
    found: list[Attachment] = []
    for number, part in enumerate(message.iter_attachments(), start=1):
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        if disposition != "attachment" and not (disposition is None and filename):
            continue  # inline parts (images in a signature, related HTML resources)
        if part.get_content_type() == "message/rfc822":
            inner = part.get_content()
            data = inner.as_bytes(policy=policy.default) if hasattr(inner, "as_bytes") else b""
            filename = filename or f"{clean_cell(str(inner.get('subject', '')))[:80]}.eml"
        else:
            try:
                content = part.get_content()
            except (LookupError, UnicodeDecodeError):
                content = part.get_payload(decode=True) or b""
            data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        if not data:
            continue
        found.append(Attachment(filename=filename or f"attachment-{number}", data=data))
        if len(found) >= MAX_ATTACHMENTS:
            break
    return found
