"""Organization exports: the request and its progress, and the zip in chunks."""

from __future__ import annotations

import uuid
from datetime import datetime

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
)
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.base import Base, TenantScoped, created_at_column

EXPORT_STATUSES = ("queued", "running", "done", "failed")


class Export(TenantScoped, Base):
    """One export of the whole organization, built by a background task."""

    __tablename__ = "exports"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        Index("ix_exports_org_created", "organization_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    requested_by: Mapped[uuid.UUID | None]
    status: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[int] = mapped_column(SmallInteger, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at_column()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ExportChunk(TenantScoped, Base):
    """One chunk of an export's zip; ``seq`` orders the chunks."""

    __tablename__ = "export_chunks"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "export_id", "seq"),
        ForeignKeyConstraint(
            ["organization_id", "export_id"],
            ["exports.organization_id", "exports.id"],
            ondelete="CASCADE",
        ),
    )

    export_id: Mapped[uuid.UUID]
    seq: Mapped[int]
    data: Mapped[bytes] = mapped_column(LargeBinary)
