"""What an organization has used: its running storage total and its monthly counters.

``UsageTotals`` (one row per organization) holds what is true now and doubles as the
organization's quota lock; ``MonthlyUsage`` (one row per organization and month) holds what
happened in a month. See migration 0004 and ``webapp.quotas``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, PrimaryKeyConstraint
from sqlalchemy.orm import Mapped, mapped_column

from webapp.models.base import Base, TenantScoped, created_at_column


class UsageTotals(TenantScoped, Base):
    """The organization's running totals; its row is locked by every hard-quota check."""

    __tablename__ = "usage_totals"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id"),
        CheckConstraint("storage_bytes >= 0", name="storage_not_negative"),
    )

    storage_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    updated_at: Mapped[datetime] = created_at_column()
    # Kept by triggers on users and documents (migration 0018), for the platform admin's
    # list: it reads these instead of counting each organization's rows.
    member_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    document_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class MonthlyUsage(TenantScoped, Base):
    """What the organization did in one calendar month (``period`` is its first day, UTC)."""

    __tablename__ = "usage"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "period"),
        CheckConstraint("EXTRACT(DAY FROM period) = 1", name="period_is_month"),
        CheckConstraint("documents_uploaded >= 0", name="documents_not_negative"),
        CheckConstraint("bytes_uploaded >= 0", name="bytes_not_negative"),
    )

    period: Mapped[date]
    documents_uploaded: Mapped[int] = mapped_column(default=0, server_default="0")
    bytes_uploaded: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    updated_at: Mapped[datetime] = created_at_column()
