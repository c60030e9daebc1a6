"""Platform administration: admin accounts and their audit log (global, not tenant tables)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, MetaData, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.base import NAMING_CONVENTION, Base, created_at_column


class PlatformBase(Base):
    """Models of the platform role's tables: the session sends their SQL to its engine.

    Flask-SQLAlchemy routes a table to the engine named by its metadata's ``bind_key``; the
    tenant role (the default engine) holds no privilege on these tables at all.
    """

    __abstract__ = True
    metadata = MetaData(naming_convention=NAMING_CONVENTION, info={"bind_key": "platform"})


class PlatformAdmin(PlatformBase):
    """A platform administrator: belongs to no organization, signs in at ``/admin/login``.

    Not a Flask-Login user: the admin's id lives under its own session key, so an
    organization's session can never be taken for an admin's, nor the other way round.
    """

    __tablename__ = "platform_admins"
    __table_args__ = (Index("uq_platform_admins_email", func.lower("email"), unique=True),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = created_at_column()
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The generation of this admin's sessions (migration 0011), bumped at log-out.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")


class PlatformAuditEvent(PlatformBase):
    """One act of platform administration, with the value before and after.

    Append-only (the platform role may INSERT and SELECT it only). ``actor`` names who acted
    (``admin:<e-mail>`` or ``cli:<os user>``); ``actor_admin_id`` has no foreign key so the
    log outlives the admins in it.
    """

    __tablename__ = "platform_audit_events"
    __table_args__ = (
        Index("ix_platform_audit_events_created", "created_at"),
        Index("ix_platform_audit_events_target", "target_type", "target_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    created_at: Mapped[datetime] = created_at_column()
    actor_admin_id: Mapped[uuid.UUID | None]
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    old_value: Mapped[Any | None] = mapped_column(JSONB)
    new_value: Mapped[Any | None] = mapped_column(JSONB)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
