"""Declarative base, naming convention and the mixin that marks tenant models."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every model; stable constraint names for Alembic."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """Aware UTC now, for Python-side defaults."""
    return datetime.now(UTC)


class TenantScoped:
    """Marks a model whose rows belong to one organization.

    The tenancy module filters every ORM query on such a model by the current organization
    and stamps ``organization_id`` on new rows; PostgreSQL row-level security enforces the
    same rule underneath. Subclasses declare ``PrimaryKeyConstraint("organization_id", "id")``.
    """

    @declared_attr
    def organization_id(cls) -> Mapped[uuid.UUID]:  # noqa: N805 - declared_attr receives the class
        return mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))


def created_at_column() -> Mapped[datetime]:
    """A non-null creation timestamp filled by the database."""
    return mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)
