"""Building an organization's export: a zip with JSON for every tenant table and the originals.

Runs inside the organization's context (the tenant task base sets it), so every read is
scoped by wall 1 where a model exists and by row-level security always; each table is also
filtered on the organization explicitly. Tables come from the live catalog
(``tenancy.tenant_table_names``), so a table added later joins the export by itself.

Layout of the zip::

    manifest.json                     organization id, time, tables with row counts, files
    tables/<table>.json               a JSON array of the organization's rows of that table
    files/<document id>/<filename>    each document's original bytes

``document_blobs.data`` is left out of ``tables/document_blobs.json`` (the bytes are under
``files/``); ``export_chunks`` (earlier exports' zips) is not exported. Credentials never
leave: every column whose name says hash, secret, token or password (password hashes, API
token and invitation hashes, and any such column added later) is left out of every table;
the manifest lists what was left out. Binary columns are
base64, UUIDs and times are strings. The zip is spooled to a temporary file, then stored in
``export_chunks`` chunk by chunk, so neither the rows nor the files are ever whole in memory.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import tempfile
import uuid
import zipfile
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import IO, Any

from flask import current_app
from sqlalchemy import MetaData, Table, delete, select, update

from webapp import tenancy
from webapp.documents.services import iter_content
from webapp.extensions import db
from webapp.models import Document, Export, ExportChunk, utcnow

log = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024
ROW_BATCH = 500
# Left out of the export: the zips of earlier exports.
SKIPPED_TABLES = frozenset({"export_chunks"})
# Columns whose content is exported another way (the original files under files/).
SKIPPED_COLUMNS = {"document_blobs": frozenset({"data"})}
# Credentials, by what their column is called, in any table: a new credential column is left
# out by its name alone (tests/test_export.py lists every column that is exported).
CREDENTIAL_COLUMN = re.compile(r"hash|secret|token|password", re.IGNORECASE)


def is_credential(column: str) -> bool:
    """Whether a column's name says it holds a credential (or something derived from one)."""
    return bool(CREDENTIAL_COLUMN.search(column))


def left_out(name: str, column_names: list[str]) -> list[str]:
    """The columns of table ``name`` the export leaves out."""
    skipped = SKIPPED_COLUMNS.get(name, frozenset())
    return [c for c in column_names if c in skipped or is_credential(c)]


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal | timedelta):
        return str(value)
    return str(value)


def _set_progress(export: Export, progress: int, status: str | None = None) -> None:
    export.progress = progress
    if status:
        export.status = status
    db.session.commit()


def _write_table(
    archive: zipfile.ZipFile, name: str, org_id: uuid.UUID, omitted: dict[str, list[str]]
) -> int:
    """Stream one table's rows of the organization into ``tables/<name>.json``; the columns
    left out are added to ``omitted``."""
    table = Table(name, MetaData(), autoload_with=db.session.connection())
    key = table.c.id if name == "organizations" else table.c.organization_id
    skipped = left_out(name, [c.name for c in table.columns])
    if skipped:
        omitted[name] = skipped
    columns = [c for c in table.columns if c.name not in skipped]
    query = select(*columns).where(key == org_id).execution_options(yield_per=ROW_BATCH)
    count = 0
    with archive.open(f"tables/{name}.json", "w") as raw:
        raw.write(b"[")
        for row in db.session.execute(query):
            raw.write(b",\n" if count else b"\n")
            raw.write(json.dumps(dict(row._mapping), default=_json_default).encode())
            count += 1
        raw.write(b"\n]\n")
    return count


def _write_files(archive: zipfile.ZipFile) -> list[dict[str, Any]]:
    """Every document's original bytes under ``files/``, streamed chunk by chunk."""
    files = []
    # The trash too: an export holds everything the organization holds (``deleted_at`` in
    # documents.json tells which are in the trash).
    documents = db.session.scalars(
        select(Document)
        .order_by(Document.created_at, Document.id)
        .execution_options(include_trashed=True)
    )
    for document in list(documents):
        path = f"files/{document.id}/{document.filename}"
        with archive.open(path, "w", force_zip64=True) as out:
            for chunk in iter_content(document):
                out.write(chunk)
        files.append({"document_id": str(document.id), "path": path, "sha256": document.sha256})
    return files


def _store(export: Export, spooled: IO[bytes]) -> tuple[int, str]:
    """Copy the finished zip into ``export_chunks``; returns its size and sha256."""
    digest = hashlib.sha256()
    size = seq = 0
    spooled.seek(0)
    while chunk := spooled.read(CHUNK_SIZE):
        row = ExportChunk(export_id=export.id, seq=seq, data=chunk)
        db.session.add(row)
        db.session.flush()
        db.session.expunge(row)  # keep no chunk in the session's memory
        digest.update(chunk)
        size += len(chunk)
        seq += 1
    return size, digest.hexdigest()


def build_export(export_id: str) -> str:
    """Build one export of the organization in context; returns its status.

    Idempotent: a finished export is left alone, a failed one starts over. An export left
    ``running`` by a worker that died stays so; its owner starts a new one.
    """
    org_id = tenancy.require_org_id()
    key = uuid.UUID(str(export_id))
    # Claim the export: only one worker builds it, even when a message is delivered twice.
    claimed = db.session.execute(
        update(Export)
        .where(Export.id == key, Export.status.in_(("queued", "failed")))
        .values(status="running", progress=1, error=None)
    ).rowcount
    db.session.commit()
    export = db.session.get(Export, (org_id, key))
    if export is None:
        return "missing"
    if not claimed:
        return export.status  # done, or being built by another worker
    db.session.execute(delete(ExportChunk).where(ExportChunk.export_id == export.id))
    db.session.commit()
    try:
        tables = ["organizations"] + [
            t for t in tenancy.tenant_table_names() if t not in SKIPPED_TABLES
        ]
        counts: dict[str, int] = {}
        omitted: dict[str, list[str]] = {}
        with tempfile.TemporaryFile() as spooled:
            with zipfile.ZipFile(spooled, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
                for index, name in enumerate(tables):
                    counts[name] = _write_table(archive, name, org_id, omitted)
                    _set_progress(export, 1 + 49 * (index + 1) // len(tables))
                files = _write_files(archive)
                _set_progress(export, 80)
                manifest = {
                    "organization_id": str(org_id),
                    "export_id": str(export.id),
                    "created_at": utcnow().isoformat(),
                    "tables": counts,
                    "files": files,
                    "skipped": {
                        "tables": sorted(SKIPPED_TABLES),
                        "columns": {t: sorted(c) for t, c in sorted(omitted.items())},
                    },
                }
                archive.writestr("manifest.json", json.dumps(manifest, indent=2))
            size, sha256 = _store(export, spooled)
        finished = utcnow()
        export.size_bytes = size
        export.sha256 = sha256
        export.finished_at = finished
        export.expires_at = finished + timedelta(hours=current_app.config["EXPORT_LINK_HOURS"])
        _set_progress(export, 100, "done")
        return "done"
    except Exception:
        log.exception("export %s of organization %s failed", export_id, org_id)
        db.session.rollback()
        export = db.session.get(Export, (org_id, uuid.UUID(str(export_id))))
        if export is not None:
            export.error = (
                "The export could not be built. Start a new one; if it fails again, "
                "contact support."
            )
            _set_progress(export, export.progress, "failed")
        raise
