"""Documents, their original bytes (in chunks), their digests, and the dispatch outbox."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.base import Base, TenantScoped, created_at_column

STATUSES = ("queued", "extracting", "analysing", "done", "failed")
ACTIVE_STATUSES = ("queued", "extracting", "analysing")
TYPES = ("pdf", "docx", "txt", "markdown", "html", "csv", "eml", "png", "jpeg", "tiff")


class Document(TenantScoped, Base):
    """An uploaded document and where its processing stands."""

    __tablename__ = "documents"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        UniqueConstraint("organization_id", "sha256", name="uq_documents_org_sha256"),
        Index("ix_documents_org_created", "organization_id", "created_at"),
        Index("ix_documents_org_status", "organization_id", "status", "created_at"),
        Index("ix_documents_search", "search_vector", postgresql_using="gin"),
        Index(
            "ix_documents_in_progress",
            "lease_expires_at",
            postgresql_where="status IN ('extracting', 'analysing')",
        ),
        Index(
            "ix_documents_active",
            "organization_id",
            "status",
            "updated_at",
            postgresql_where="status IN ('queued', 'extracting', 'analysing')",
        ),
        Index(
            "ix_documents_trash",
            "organization_id",
            "deleted_at",
            postgresql_where="deleted_at IS NOT NULL",
        ),
        Index("ix_documents_trash_due", "deleted_at", postgresql_where="deleted_at IS NOT NULL"),
    )

    id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(255))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    detected_type: Mapped[str] = mapped_column(String(16))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[int] = mapped_column(SmallInteger, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    page_count: Mapped[int | None]
    word_count: Mapped[int | None]
    uploaded_by: Mapped[uuid.UUID | None]
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    search_vector: Mapped[Any | None] = mapped_column(TSVECTOR, deferred=True)
    # The worker processing it and until when (renewed while it works); see workers/leases.py.
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The analyser that made its digest: a document done by this one is not processed again.
    analyser_version: Mapped[str | None] = mapped_column(String(32))
    # In the trash since (webapp/documents/trash.py): hidden from every page, the API, search
    # and the workers until restored, purged with its bytes after the grace period.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_by: Mapped[uuid.UUID | None]

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class DocumentBlob(TenantScoped, Base):
    """One chunk of a document's original bytes; ``seq`` orders the chunks."""

    __tablename__ = "document_blobs"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "document_id", "seq"),
        ForeignKeyConstraint(
            ["organization_id", "document_id"],
            ["documents.organization_id", "documents.id"],
            ondelete="CASCADE",
        ),
    )

    document_id: Mapped[uuid.UUID]
    seq: Mapped[int]
    data: Mapped[bytes] = mapped_column(LargeBinary)


class DocumentAnalysis(TenantScoped, Base):
    """The extracted text and the digest of one document (one row per document)."""

    __tablename__ = "document_analyses"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "document_id"),
        ForeignKeyConstraint(
            ["organization_id", "document_id"],
            ["documents.organization_id", "documents.id"],
            ondelete="CASCADE",
        ),
    )

    document_id: Mapped[uuid.UUID]
    text: Mapped[str] = mapped_column(Text, deferred=True)
    digest: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class OutboxMessage(TenantScoped, Base):
    """A task to dispatch, written in the same transaction as the change that needs it."""

    __tablename__ = "outbox"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        Index(
            "ix_outbox_org_pending",
            "organization_id",
            "created_at",
            postgresql_where="dispatched_at IS NULL",
        ),
        Index("ix_outbox_pending", "created_at", postgresql_where="dispatched_at IS NULL"),
    )

    id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    task: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = created_at_column()
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)


class ApiToken(TenantScoped, Base):
    """A bearer token for the JSON API; only a hash of its secret is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        ForeignKeyConstraint(
            ["organization_id", "user_id"],
            ["users.organization_id", "users.id"],
            ondelete="CASCADE",
        ),
        Index("ix_api_tokens_org_created", "organization_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    user_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(80))
    secret_hash: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(16))
    # The secret's last four characters (migration 0015), so the list shows the token as its
    # holder sees it; None for tokens issued before.
    secret_tail: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = created_at_column()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
