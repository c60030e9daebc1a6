"""Invitations to join an organization: a hashed single-use secret, a role, an expiry."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Index, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.base import Base, TenantScoped, created_at_column


class Invitation(TenantScoped, Base):
    """An invitation by e-mail with a role; only the SHA-256 of its secret is stored."""

    __tablename__ = "invitations"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        CheckConstraint("role IN ('owner', 'admin', 'member', 'viewer')", name="role"),
        Index("ix_invitations_org_created", "organization_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64))
    invited_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def state(self, now: datetime) -> str:
        """pending, accepted, revoked or expired."""
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "pending"
