"""Links sent by mail that act on an account once: a password reset, a new e-mail address."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.base import Base, TenantScoped, created_at_column

ACCOUNT_TOKEN_PURPOSES = ("password_reset", "email_change")


class AccountToken(TenantScoped, Base):
    """A single-use, expiring secret for one user; only its SHA-256 is stored."""

    __tablename__ = "account_tokens"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        ForeignKeyConstraint(
            ["organization_id", "user_id"],
            ["users.organization_id", "users.id"],
            ondelete="CASCADE",
        ),
        CheckConstraint("purpose IN ('password_reset', 'email_change')", name="purpose"),
        Index("ix_account_tokens_org_user", "organization_id", "user_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    user_id: Mapped[uuid.UUID]
    purpose: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64))
    # The address an e-mail change moves to (confirmed by opening the link sent there).
    new_email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
