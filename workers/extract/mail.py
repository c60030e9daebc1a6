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
import re
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
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,3}[.)])\s+(?:\[(?P<mark>[ xX])\]\s+)?(?P<rest>\S.*)$")
# Hard-wrapped mail lines are ~72 characters; a line this long was probably wrapped.
_WRAPPED = 60


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
    """Blocks of a plain-text mail body: paragraphs, list items, quoted replies; no signature."""
    blocks: list[Block] = []
    paragraph: list[str] = []
    quote: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(Block(kind="paragraph", text=clean_cell(" ".join(paragraph))))
            paragraph.clear()
        if quote:
            blocks.append(Block(kind="quote", text=clean_cell(" ".join(quote))))
            quote.clear()

    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.rstrip() == "--" and raw.startswith("--"):
            break  # "-- " starts the signature
        line = raw.strip()
        if line.startswith(">"):
            if paragraph:
                flush()
            quote.append(line.lstrip("> "))
            continue
        if quote:
            flush()
        if not line:
            flush()
            continue
        bullet = _BULLET.match(raw)
        if bullet:
            flush()
            mark = bullet.group("mark")
            blocks.append(
                Block(
                    kind="list_item",
                    text=clean_cell(bullet.group("rest")),
                    level=min((len(raw) - len(raw.lstrip())) // 2, 5),
                    checked=None if mark is None else mark != " ",
                    line=number,
                )
            )
            continue
        if blocks and blocks[-1].kind == "list_item" and not paragraph and raw[:1].isspace():
            blocks[-1].text = f"{blocks[-1].text} {clean_cell(line)}"  # a wrapped item
            continue
        if paragraph and len(paragraph[-1]) < _WRAPPED:
            flush()  # the line above ended on purpose
        paragraph.append(line)
    flush()
    return [block for block in blocks if block.text]


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
