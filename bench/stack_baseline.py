"""The floor bench/stack.py measures the app against: bare Flask + psycopg, same SQL and JSON.

One psycopg connection per worker process (as the owner role: no row-level security, no
context), one statement and a COMMIT per request, the same columns and JSON shape as
``GET /api/v1/documents`` (URLs by string formatting). ``STACK_BASELINE_JSON=stdlib`` uses
the standard library's encoder instead of orjson. Not part of the application.
"""

from __future__ import annotations

import base64
import json
import os
import uuid

import orjson
import psycopg
from flask import Flask, Response, request

LIST_SQL = (
    "SELECT id, title, filename, content_type, detected_type, size_bytes, sha256, status, "
    "progress, error, page_count, word_count, uploaded_by, created_at, updated_at, "
    "processed_at FROM documents WHERE organization_id = %s "
    "ORDER BY created_at DESC, id DESC LIMIT %s"
)
app = Flask(__name__)
_connection: list[psycopg.Connection] = []
_stdlib = os.environ.get("STACK_BASELINE_JSON") == "stdlib"


def connection() -> psycopg.Connection:
    if not _connection:
        _connection.append(psycopg.connect(os.environ["STACK_BASELINE_DSN"]))
    return _connection[0]


def _iso(moment):  # type: ignore[no-untyped-def]
    return moment.isoformat() if moment else None


@app.get("/api/v1/documents")
def list_documents() -> Response:
    """The first 50 documents of the bearer token's organization, newest first."""
    token = request.headers.get("Authorization", "").partition(" ")[2]
    org_id = uuid.UUID(hex=token.split("_")[1])
    conn = connection()
    with conn.cursor() as cursor:
        cursor.execute(LIST_SQL, (org_id, 51))
        rows = cursor.fetchall()
    conn.commit()
    page = rows[:50]
    documents = [
        {
            "id": str(r[0]),
            "title": r[1],
            "filename": r[2],
            "type": r[4],
            "content_type": r[3],
            "size_bytes": r[5],
            "sha256": r[6],
            "status": r[7],
            "progress": r[8],
            "error": r[9],
            "page_count": r[10],
            "word_count": r[11],
            "uploaded_by": str(r[12]) if r[12] else None,
            "created_at": _iso(r[13]),
            "updated_at": _iso(r[14]),
            "processed_at": _iso(r[15]),
            "url": f"/api/v1/documents/{r[0]}",
            "download_url": f"/api/v1/documents/{r[0]}/download",
        }
        for r in page
    ]
    next_cursor = None
    if len(rows) > 50:
        raw = f"{page[-1][13].isoformat()}|{page[-1][0]}".encode()
        next_cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    body = {"documents": documents, "next_cursor": next_cursor}
    data = json.dumps(body).encode() if _stdlib else orjson.dumps(body)
    return Response(data, mimetype="application/json")
