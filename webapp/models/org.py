"""Plans, organizations and their users."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.base import Base, TenantScoped, created_at_column

ROLES = ("owner", "admin", "member", "viewer")


class Plan(Base):
    """What a plan allows; global (not a tenant table). ``None`` means unlimited."""

    __tablename__ = "plans"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    requests_per_minute: Mapped[int]  # the API, per organization (migration 0016)
    page_requests_per_minute: Mapped[int]  # pages, per organization
    user_requests_per_minute: Mapped[int]  # pages, per member
    token_requests_per_minute: Mapped[int]  # the API, per token
    uploads_per_hour: Mapped[int]
    documents_per_month: Mapped[int | None]
    storage_bytes: Mapped[int | None] = mapped_column(BigInteger)
    members: Mapped[int | None]
    max_file_bytes: Mapped[int] = mapped_column(BigInteger)
    worker_slots: Mapped[int]


class Organization(Base):
    """A tenant. Row-level security shows an organization only its own row."""

    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id"), default="free")
    status: Mapped[str] = mapped_column(String(16), default="active")
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    quota_overrides: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = created_at_column()
    # Organization lifecycle (migration 0007): deletion grace period and the branding logo,
    # deferred so the PNG is read only by the logo route, never with every request's user.
    deletion_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    logo_png: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)

    plan: Mapped[Plan] = relationship(lazy="joined")

    @property
    def is_active(self) -> bool:
        return self.status == "active"


class User(TenantScoped, UserMixin, Base):
    """A member of one organization; the e-mail is unique across the platform."""

    __tablename__ = "users"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        Index("uq_users_email", func.lower("email"), unique=True),
        Index("ix_users_org_created", "organization_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="member")
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = created_at_column()
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The generation of this user's sessions (migration 0011): a session cookie names the one
    # it was issued under and stops working once it is bumped (log-out, password or role
    # change), checked against this row as loaded on each request, with no extra query.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")

    organization: Mapped[Organization] = relationship(lazy="joined")

    def get_id(self) -> str:
        """Flask-Login identity: ``org:user:generation``, signed in the session cookie."""
        return f"{self.organization_id}:{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:
        return self.status == "active"
