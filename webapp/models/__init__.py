"""Typed models; import them from here."""

from webapp.models.accounts import ACCOUNT_TOKEN_PURPOSES, AccountToken
from webapp.models.audit import AuditEvent
from webapp.models.base import Base, TenantScoped, utcnow
from webapp.models.documents import (
    ACTIVE_STATUSES,
    STATUSES,
    TYPES,
    ApiToken,
    Document,
    DocumentAnalysis,
    DocumentBlob,
    OutboxMessage,
)
from webapp.models.invitations import Invitation
from webapp.models.lifecycle import EXPORT_STATUSES, Export, ExportChunk
from webapp.models.org import ROLES, Organization, Plan, User
from webapp.models.platform import PlatformAdmin, PlatformAuditEvent
from webapp.models.usage import MonthlyUsage, UsageTotals
from webapp.models.workspace import (
    ITEM_KINDS,
    CalendarFeed,
    DigestItem,
    Notification,
    NotificationPreference,
    OwnerLink,
)

__all__ = [
    "ACCOUNT_TOKEN_PURPOSES",
    "AccountToken",
    "ACTIVE_STATUSES",
    "ITEM_KINDS",
    "CalendarFeed",
    "DigestItem",
    "Notification",
    "NotificationPreference",
    "OwnerLink",
    "ROLES",
    "STATUSES",
    "TYPES",
    "EXPORT_STATUSES",
    "ApiToken",
    "AuditEvent",
    "Base",
    "Document",
    "DocumentAnalysis",
    "DocumentBlob",
    "Export",
    "ExportChunk",
    "Invitation",
    "MonthlyUsage",
    "Organization",
    "OutboxMessage",
    "Plan",
    "PlatformAdmin",
    "PlatformAuditEvent",
    "TenantScoped",
    "UsageTotals",
    "User",
    "utcnow",
]
