"""Export (GDPR portability): the zip holds exactly the organization's rows and files."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile

from sqlalchemy import text

from tests.conftest import csrf_token
from webapp.extensions import db
from webapp.tenancy import tenant_context
from workers.export import SKIPPED_TABLES, build_export, is_credential


def tenant_tables(owner_engine) -> list[str]:
    """Every table with organization_id, from the catalog (new tables join automatically)."""
    with owner_engine.connect() as conn:
        return conn.scalars(
            text(
                "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' "
                "AND column_name = 'organization_id' ORDER BY 1"
            )
        ).all()


def owner_counts(owner_engine, org_id) -> dict[str, int]:
    """Rows of the organization per table, counted by the owner role (RLS cannot hide any)."""
    counts = {}
    with owner_engine.connect() as conn:
        for table in tenant_tables(owner_engine):
            counts[table] = conn.scalar(
                text(f"SELECT count(*) FROM {table} WHERE organization_id = :o"), {"o": org_id}
            )
        counts["organizations"] = conn.scalar(
            text("SELECT count(*) FROM organizations WHERE id = :o"), {"o": org_id}
        )
    return counts


def request_and_build(app, populated) -> str:
    """Start an export through the page as the owner, then make sure it is built."""
    client = populated.client
    token = csrf_token(client, "/settings/export")
    response = client.post("/settings/export", data={"csrf_token": token})
    assert response.status_code == 302
    with app.app_context(), tenant_context(populated.org.org_id):
        from webapp.org.lifecycle import list_exports

        export_id = str(list_exports()[0].id)
        build_export(export_id)  # a running test worker may have claimed it: then wait
        db.session.remove()
    for _ in range(120):
        page = client.get("/settings/export").get_data(as_text=True)
        if f"/settings/export/{export_id}/download" in page:
            return export_id
        time.sleep(0.5)
    raise AssertionError("export never finished")


def download(client, export_id: str) -> zipfile.ZipFile:
    response = client.get(f"/settings/export/{export_id}/download")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/zip"
    return zipfile.ZipFile(io.BytesIO(response.get_data()))


def test_export_holds_exactly_the_organizations_rows_and_files(app, populate_org, owner_engine):
    a, b = populate_org(), populate_org()
    export_id = request_and_build(app, a)
    expected = owner_counts(owner_engine, a.org.org_id)
    archive = download(a.client, export_id)
    names = set(archive.namelist())
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["organization_id"] == str(a.org.org_id)
    for table, count in expected.items():
        if table in SKIPPED_TABLES:
            assert f"tables/{table}.json" not in names
            continue
        rows = json.loads(archive.read(f"tables/{table}.json"))
        assert len(rows) == count, f"{table}: {len(rows)} rows exported, {count} in the database"
        key = "id" if table == "organizations" else "organization_id"
        assert {row[key] for row in rows} <= {str(a.org.org_id)}, table
        assert manifest["tables"][table] == count
    # Every table that has rows of A is in the zip (none forgotten).
    assert {t for t, c in expected.items() if c and t not in SKIPPED_TABLES} <= {
        n.removeprefix("tables/").removesuffix(".json") for n in names if n.startswith("tables/")
    }
    # The original files, byte for byte.
    with owner_engine.connect() as conn:
        documents = conn.execute(
            text(
                "SELECT d.id, d.filename, (SELECT string_agg(b.data, ''::bytea ORDER BY b.seq) "
                "FROM document_blobs b WHERE b.organization_id = d.organization_id "
                "AND b.document_id = d.id) FROM documents d WHERE d.organization_id = :o"
            ),
            {"o": a.org.org_id},
        ).all()
    files = sorted(n for n in names if n.startswith("files/"))
    assert files == sorted(f"files/{doc_id}/{filename}" for doc_id, filename, _ in documents)
    for doc_id, filename, content in documents:
        assert archive.read(f"files/{doc_id}/{filename}") == bytes(content)
        assert a.secret_word.encode() in bytes(content)
    # Nothing of B anywhere in the zip.
    for name in names:
        data = archive.read(name)
        for secret in (str(b.org.org_id), b.secret_word, b.org.email, b.document_id):
            assert secret.encode() not in data, f"{name} holds B's {secret}"


def test_an_expired_link_is_refused_with_a_clear_message(app, populate_org, owner_engine):
    a = populate_org()
    export_id = request_and_build(app, a)
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE exports SET expires_at = now() - interval '1 minute' WHERE id = :e"),
            {"e": export_id},
        )
    response = a.client.get(f"/settings/export/{export_id}/download")
    assert response.status_code == 410
    assert "expired" in response.get_data(as_text=True)
    assert "link expired" in a.client.get("/settings/export").get_data(as_text=True)


def test_another_organizations_export_is_404(app, populate_org):
    a, b = populate_org(), populate_org()
    assert b.client.get(f"/settings/export/{a.export_id}/download").status_code == 404
    assert b.client.get(f"/settings/export/{uuid.uuid4()}/download").status_code == 404
    assert a.client.get(f"/settings/export/{a.export_id}/download").status_code == 200


def test_requesting_an_export_is_audited(app, populate_org, owner_engine):
    a = populate_org()
    request_and_build(app, a)
    with owner_engine.connect() as conn:
        actions = conn.scalars(
            text("SELECT action FROM audit_events WHERE organization_id = :o"),
            {"o": a.org.org_id},
        ).all()
    assert "export.requested" in actions and "export.downloaded" not in actions


# Every column the export writes, table by table. A column added to a tenant table fails
# this test until it is placed here (exported) or its name marks it as a credential (left out).
EXPORTED_COLUMNS = {
    "organizations": [
        "created_at", "deletion_requested_at", "id", "logo_png", "name", "plan_id",
        "quota_overrides", "settings", "slug", "status",
    ],
    "account_tokens": [
        "created_at", "expires_at", "id", "new_email", "organization_id", "purpose", "used_at",
        "user_id",
    ],
    "calendar_feeds": ["created_at", "id", "organization_id", "revoked_at", "user_id"],
    "digest_items": [
        "analyser_key", "category", "created_at", "document_id", "done", "done_at", "due_date",
        "due_text", "edited_at", "edited_by", "id", "kind", "member_id", "organization_id",
        "origin", "owner_key", "owner_text", "position", "priority", "removed_at", "severity",
        "source_line", "source_page", "text", "updated_at",
    ],
    "notification_preferences": [
        "mail", "organization_id", "overdue_digest", "updated_at", "user_id",
    ],
    "notifications": [
        "created_at", "id", "kind", "link", "mail_pending", "mailed_at", "message",
        "organization_id", "read_at", "user_id",
    ],
    "owner_links": ["created_at", "created_by", "id", "name_key", "organization_id", "user_id"],
    "api_tokens": [
        "created_at", "id", "last_used_at", "name", "organization_id", "prefix", "revoked_at",
        "user_id",
    ],
    "audit_events": [
        "action", "actor_user_id", "created_at", "details", "id", "ip", "organization_id",
        "request_id", "target_id", "target_type", "user_agent",
    ],
    "document_analyses": [
        "created_at", "digest", "document_id", "organization_id", "text", "updated_at",
    ],
    "document_blobs": ["document_id", "organization_id", "seq"],
    "documents": [
        "analyser_version", "attempts", "content_type", "created_at", "deleted_at", "deleted_by",
        "detected_type", "error",
        "filename", "id", "lease_expires_at", "lease_owner", "organization_id", "page_count",
        "processed_at", "progress", "search_vector", "sha256", "size_bytes", "status", "title",
        "updated_at", "uploaded_by", "word_count",
    ],
    "exports": [
        "created_at", "error", "expires_at", "finished_at", "id", "organization_id", "progress",
        "requested_by", "sha256", "size_bytes", "status",
    ],
    "invitations": [
        "accepted_at", "created_at", "email", "expires_at", "id", "invited_by",
        "organization_id", "revoked_at", "role",
    ],
    "outbox": [
        "attempts", "created_at", "dispatched_at", "id", "organization_id", "payload", "task",
    ],
    "usage": ["bytes_uploaded", "documents_uploaded", "organization_id", "period", "updated_at"],
    "usage_totals": [
        "document_count", "member_count", "organization_id", "storage_bytes", "updated_at",
    ],
    "users": [
        "created_at", "email", "id", "last_login_at", "name", "organization_id", "role",
        "session_version", "status",
    ],
}  # fmt: skip
LEFT_OUT = {
    "account_tokens": ["token_hash"],
    "api_tokens": ["secret_hash", "secret_tail"],
    "calendar_feeds": ["secret_hash"],
    "document_blobs": ["data"],
    "invitations": ["token_hash"],
    "users": ["password_hash"],
}


def test_the_export_holds_exactly_these_columns_and_no_credential(app, populate_org, owner_engine):
    a = populate_org()
    archive = download(a.client, a.export_id)
    exported = {}
    for name in archive.namelist():
        if name.startswith("tables/"):
            rows = json.loads(archive.read(name))
            assert rows, f"{name} is empty: populate_org fills every exported table"
            assert all(sorted(row) == sorted(rows[0]) for row in rows)
            exported[name.removeprefix("tables/").removesuffix(".json")] = sorted(rows[0])
    assert exported == EXPORTED_COLUMNS
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["skipped"]["columns"] == LEFT_OUT
    # Every credential-named column of the live catalog is left out, whatever its table.
    with owner_engine.connect() as conn:
        credential_columns = conn.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND column_name ~* '(hash|secret|token|password)'"
            )
        ).all()
        hashes = conn.scalars(
            text(
                "SELECT password_hash FROM users WHERE organization_id = :o UNION ALL "
                "SELECT secret_hash FROM api_tokens WHERE organization_id = :o UNION ALL "
                "SELECT token_hash FROM invitations WHERE organization_id = :o"
            ),
            {"o": a.org.org_id},
        ).all()
    for table, column in credential_columns:
        assert column not in exported.get(table, []), f"{table}.{column} was exported"
    assert len(hashes) == 3
    for name in archive.namelist():
        data = archive.read(name)
        for value in hashes:
            assert value.encode() not in data, f"{name} holds a credential hash"


def test_is_credential_reads_the_column_name():
    assert all(map(is_credential, ["password_hash", "secret_hash", "token_hash", "api_secret"]))
    assert all(map(is_credential, ["refresh_token", "totp_secret", "PasswordSalt"]))
    assert not any(map(is_credential, ["sha256", "name", "prefix", "email", "session_version"]))
