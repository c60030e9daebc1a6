"""What an organization may do: its plan's limits, overridden per organization."""

from __future__ import annotations

from typing import Any

from webapp.models import Organization

LIMIT_NAMES = (
    "requests_per_minute",
    "page_requests_per_minute",
    "user_requests_per_minute",
    "token_requests_per_minute",
    "uploads_per_hour",
    "documents_per_month",
    "storage_bytes",
    "members",
    "max_file_bytes",
    "worker_slots",
)


def effective_limit(org: Organization, name: str) -> Any:
    """The organization's override for ``name`` if it has one, else its plan's value."""
    if name not in LIMIT_NAMES:
        raise KeyError(name)
    overrides = org.quota_overrides or {}
    if name in overrides:
        return overrides[name]
    return getattr(org.plan, name)


def human_bytes(count: int | None) -> str:
    """1048576 -> '1 MB' (binary multiples, written the way people read them)."""
    if count is None:
        return "unlimited"
    value = float(count)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
