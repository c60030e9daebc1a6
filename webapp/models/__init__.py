"""Typed models; import them from here."""

from webapp.models.audit import AuditEvent
from webapp.models.base import Base, TenantScoped, utcnow
from webapp.models.org import ROLES, Organization, Plan, User

__all__ = ["ROLES", "AuditEvent", "Base", "Organization", "Plan", "TenantScoped", "User", "utcnow"]
