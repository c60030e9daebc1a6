"""Documents: documents, chunked blobs, analyses, outbox, API tokens; RLS; pipeline doors.

Revision ID: 0002_documents
Revises: 0001_foundation
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import app_role, enable_tenant_rls, grant

revision = "0002_documents"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def _org_fk() -> sa.Column:
    return sa.Column(
        "organization_id",
        sa.Uuid,
        sa.ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    )


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=None if nullable else sa.func.now(),
    )


def upgrade() -> None:
    op.create_table(
        "documents",
        _org_fk(),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(128), nullable=False),
        sa.Column("detected_type", sa.String(16), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="queued"),
        sa.Column("progress", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("error", sa.Text),
        sa.Column("page_count", sa.Integer),
        sa.Column("word_count", sa.Integer),
        sa.Column("uploaded_by", sa.Uuid),
        sa.Column("attempts", sa.SmallInteger, nullable=False, server_default="0"),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _timestamp("processed_at", nullable=True),
        sa.Column("search_vector", postgresql.TSVECTOR),
        sa.PrimaryKeyConstraint("organization_id", "id", name="pk_documents"),
        sa.UniqueConstraint("organization_id", "sha256", name="uq_documents_org_sha256"),
        sa.CheckConstraint(
            "status IN ('queued', 'extracting', 'analysing', 'done', 'failed')", name="status"
        ),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name="progress"),
        sa.CheckConstraint("size_bytes > 0", name="size_positive"),
    )
    # The uploader may leave; their documents stay (only uploaded_by is cleared).
    op.execute(
        "ALTER TABLE documents ADD CONSTRAINT fk_documents_uploaded_by_users "
        "FOREIGN KEY (organization_id, uploaded_by) REFERENCES users (organization_id, id) "
        "ON DELETE SET NULL (uploaded_by)"
    )
    op.create_index("ix_documents_org_created", "documents", ["organization_id", "created_at"])
    op.create_index(
        "ix_documents_org_status", "documents", ["organization_id", "status", "created_at"]
    )
    op.create_index("ix_documents_search", "documents", ["search_vector"], postgresql_using="gin")
    enable_tenant_rls("documents")
    grant("SELECT, INSERT, UPDATE, DELETE", "documents")

    op.create_table(
        "document_blobs",
        sa.Column("organization_id", sa.Uuid, nullable=False),
        sa.Column("document_id", sa.Uuid, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "document_id", "seq", name="pk_document_blobs"),
        sa.ForeignKeyConstraint(
            ["organization_id", "document_id"],
            ["documents.organization_id", "documents.id"],
            name="fk_document_blobs_document",
            ondelete="CASCADE",
        ),
    )
    # Chunks are already compressed or small; skip TOAST compression to save CPU on the hot path.
    op.execute("ALTER TABLE document_blobs ALTER COLUMN data SET STORAGE EXTERNAL")
    enable_tenant_rls("document_blobs")
    grant("SELECT, INSERT, DELETE", "document_blobs")

    op.create_table(
        "document_analyses",
        sa.Column("organization_id", sa.Uuid, nullable=False),
        sa.Column("document_id", sa.Uuid, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("digest", postgresql.JSONB, nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("organization_id", "document_id", name="pk_document_analyses"),
        sa.ForeignKeyConstraint(
            ["organization_id", "document_id"],
            ["documents.organization_id", "documents.id"],
            name="fk_document_analyses_document",
            ondelete="CASCADE",
        ),
    )
    enable_tenant_rls("document_analyses")
    grant("SELECT, INSERT, UPDATE, DELETE", "document_analyses")

    op.create_table(
        "outbox",
        _org_fk(),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("task", sa.String(128), nullable=False),
        sa.Column("payload", postgresql.JSONB, nullable=False),
        _timestamp("created_at"),
        _timestamp("dispatched_at", nullable=True),
        sa.Column("attempts", sa.SmallInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("organization_id", "id", name="pk_outbox"),
    )
    op.create_index(
        "ix_outbox_org_pending",
        "outbox",
        ["organization_id", "created_at"],
        postgresql_where=sa.text("dispatched_at IS NULL"),
    )
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["created_at"],
        postgresql_where=sa.text("dispatched_at IS NULL"),
    )
    enable_tenant_rls("outbox")
    grant("SELECT, INSERT, UPDATE, DELETE", "outbox")

    op.create_table(
        "api_tokens",
        sa.Column("organization_id", sa.Uuid, nullable=False),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        _timestamp("created_at"),
        _timestamp("last_used_at", nullable=True),
        _timestamp("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("organization_id", "id", name="pk_api_tokens"),
        sa.ForeignKeyConstraint(
            ["organization_id", "user_id"],
            ["users.organization_id", "users.id"],
            name="fk_api_tokens_user",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_api_tokens_org_created", "api_tokens", ["organization_id", "created_at"])
    enable_tenant_rls("api_tokens")
    grant("SELECT, INSERT, UPDATE", "api_tokens")

    # Doors for the pipeline's platform-wide housekeeping (DESIGN.md §3): the outbox relay
    # and the reaper learn only which (organization, id) pairs need work, then act on each
    # inside that organization's context. Nothing else crosses tenants.
    op.execute(
        "CREATE FUNCTION app_outbox_pending(p_older_than interval, p_limit integer) "
        "RETURNS TABLE (organization_id uuid, id uuid) LANGUAGE sql STABLE SECURITY DEFINER "
        "SET search_path = '' AS $$ SELECT o.organization_id, o.id FROM public.outbox o "
        "WHERE o.dispatched_at IS NULL AND o.created_at < now() - p_older_than "
        "ORDER BY o.created_at LIMIT p_limit $$"
    )
    op.execute(
        "CREATE FUNCTION app_stuck_documents(p_older_than interval, p_limit integer) "
        "RETURNS TABLE (organization_id uuid, id uuid) LANGUAGE sql STABLE SECURITY DEFINER "
        "SET search_path = '' AS $$ SELECT d.organization_id, d.id FROM public.documents d "
        "WHERE d.status IN ('queued', 'extracting', 'analysing') "
        "AND d.updated_at < now() - p_older_than ORDER BY d.updated_at LIMIT p_limit $$"
    )
    for function in (
        "app_outbox_pending(interval, integer)",
        "app_stuck_documents(interval, integer)",
    ):
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {app_role()}")


def downgrade() -> None:
    op.execute("DROP FUNCTION app_stuck_documents(interval, integer)")
    op.execute("DROP FUNCTION app_outbox_pending(interval, integer)")
    for table in ("api_tokens", "outbox", "document_analyses", "document_blobs", "documents"):
        op.drop_table(table)
