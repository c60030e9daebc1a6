"""The workspace across documents: digest items, owner links, notifications, calendar feeds."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.base import Base, TenantScoped, created_at_column

ITEM_KINDS = ("action", "decision", "risk")
ORIGINS = ("analyser", "human")


def _user_fk(table: str, column: str = "user_id") -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["organization_id", column],
        ["users.organization_id", "users.id"],
        ondelete="CASCADE",
        name=f"fk_{table}_{column}_users",
    )


class DigestItem(TenantScoped, Base):
    """One action, decision or risk of a document's digest, as the analyser or a person made it.

    An analyser item a person corrected carries ``edited_at``; one a person removed keeps its
    row with ``removed_at``: reprocessing replaces only untouched analyser items.
    """

    __tablename__ = "digest_items"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        ForeignKeyConstraint(
            ["organization_id", "document_id"],
            ["documents.organization_id", "documents.id"],
            ondelete="CASCADE",
            name="fk_digest_items_document_id_documents",
        ),
        Index(
            "ix_digest_items_org_open",
            "organization_id",
            "kind",
            "done",
            "due_date",
            postgresql_where=text("removed_at IS NULL"),
        ),
        Index(
            "ix_digest_items_org_member",
            "organization_id",
            "member_id",
            "kind",
            "done",
            "due_date",
            postgresql_where=text("removed_at IS NULL"),
        ),
        Index("ix_digest_items_org_document", "organization_id", "document_id", "kind", "position"),
        Index("ix_digest_items_org_owner", "organization_id", "owner_key"),
    )

    id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    document_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(default=0)
    text: Mapped[str] = mapped_column(Text)
    owner_text: Mapped[str | None] = mapped_column(String(200))
    owner_key: Mapped[str | None] = mapped_column(String(200))
    member_id: Mapped[uuid.UUID | None]
    due_date: Mapped[date | None] = mapped_column(Date)
    due_text: Mapped[str | None] = mapped_column(String(100))
    priority: Mapped[str | None] = mapped_column(String(16))
    severity: Mapped[str | None] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(64))
    done: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    origin: Mapped[str] = mapped_column(String(16))
    edited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    edited_by: Mapped[uuid.UUID | None]
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    analyser_key: Mapped[str | None] = mapped_column(String(500))
    source_line: Mapped[int | None]
    source_page: Mapped[int | None]
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()

    @property
    def human(self) -> bool:
        """Made or corrected by a person (shown as such; kept across reprocessing)."""
        return self.origin == "human" or self.edited_at is not None


class OwnerLink(TenantScoped, Base):
    """ "This is …": an owner as documents write it, linked to a member of the organization."""

    __tablename__ = "owner_links"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        _user_fk("owner_links"),
        UniqueConstraint("organization_id", "name_key", name="uq_owner_links_name_key"),
    )

    id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    name_key: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[uuid.UUID]
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = created_at_column()


class Notification(TenantScoped, Base):
    """An in-app notification for one member; mailed once when ``mail_pending``."""

    __tablename__ = "notifications"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        _user_fk("notifications"),
        Index("ix_notifications_org_user", "organization_id", "user_id", "created_at"),
        Index(
            "ix_notifications_org_unread",
            "organization_id",
            "user_id",
            postgresql_where=text("read_at IS NULL"),
        ),
        Index(
            "ix_notifications_org_mail",
            "organization_id",
            "created_at",
            postgresql_where=text("mail_pending"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    user_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    mail_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = created_at_column()
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    mailed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NotificationPreference(TenantScoped, Base):
    """A member's opt-outs (no row: everything on)."""

    __tablename__ = "notification_preferences"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "user_id"),
        _user_fk("notification_preferences"),
    )

    user_id: Mapped[uuid.UUID]
    overdue_digest: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    mail: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    updated_at: Mapped[datetime] = created_at_column()


class CalendarFeed(TenantScoped, Base):
    """A member's personal ICS feed; only the SHA-256 of its secret is stored."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        _user_fk("calendar_feeds"),
        Index("ix_calendar_feeds_org_user", "organization_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    user_id: Mapped[uuid.UUID]
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at_column()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
