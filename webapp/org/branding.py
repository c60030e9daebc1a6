"""Settings and white-label branding: display name, primary colour, logo.

Branding (colour and logo) is for plans listed in ``BRANDING_PLANS`` (enterprise); the display
name is the organization's name, which every plan may change. The colour is stored in
``organizations.settings["branding"]["primary"]`` only as a validated ``#rrggbb`` and checked
again when a page renders it, so nothing else can reach the page's CSS. The logo is a small
PNG (magic bytes, at most ``MAX_LOGO_BYTES``, dimensions read from the IHDR header) kept in
``organizations.logo_png``; SVG is refused, since sanitising SVG safely needs a dedicated
library. The logo is served from ``/branding/logo/<version>`` with its content type and
``nosniff``; the version (a hash prefix) changes with the logo and is unknown to anyone else.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm.attributes import flag_modified

from webapp import audit, tenancy
from webapp.extensions import db
from webapp.models import Organization, User
from webapp.names import clean_name
from webapp.org.lifecycle import LifecycleError, NotAllowed
from webapp.permissions import allows
from workers.extract.ocr import DEFAULT_LANGUAGE as DEFAULT_OCR_LANGUAGE
from workers.extract.ocr import LANGUAGE as OCR_LANGUAGE

BRANDING_PLANS = frozenset({"enterprise"})
MAX_LOGO_BYTES = 200 * 1024
MAX_LOGO_SIDE = 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
COLOUR_RE = re.compile(r"#[0-9a-fA-F]{6}")


class BrandingError(LifecycleError):
    """A refused setting, with a message for the person."""


@dataclass(frozen=True)
class Branding:
    """What a page of the organization applies: a safe colour and a logo URL version."""

    primary: str | None
    logo_version: str | None
    display_name: str


def branding_allowed(org: Organization) -> bool:
    """Whether the organization's plan includes white-label branding."""
    return org.plan_id in BRANDING_PLANS


def require_settings_role(user: User) -> None:
    """Owners and admins manage settings; others get a clear 403."""
    if not allows(user.role, "settings.manage"):
        raise NotAllowed("Only the organization's owners and admins can change its settings.")


def valid_colour(value: object) -> str | None:
    """``#rrggbb`` lower-cased, or None for anything else."""
    if isinstance(value, str) and COLOUR_RE.fullmatch(value.strip()):
        return value.strip().lower()
    return None


def png_dimensions(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG from its IHDR chunk; raises ``BrandingError`` if not a PNG."""
    if data.lstrip()[:5].lower() in (b"<?xml", b"<svg ") or b"<svg" in data[:512].lower():
        raise BrandingError(
            "SVG logos are not accepted (they can carry scripts, and cleaning them safely needs "
            "a dedicated library). Upload a PNG instead."
        )
    if len(data) < 24 or not data.startswith(PNG_MAGIC) or data[12:16] != b"IHDR":
        raise BrandingError("The logo must be a PNG image.")
    width, height = struct.unpack(">II", data[16:24])
    if not (0 < width <= MAX_LOGO_SIDE and 0 < height <= MAX_LOGO_SIDE):
        raise BrandingError(
            f"The logo must be at most {MAX_LOGO_SIDE}×{MAX_LOGO_SIDE} pixels "
            f"(this one is {width}×{height})."
        )
    return width, height


def _branding_settings(org: Organization) -> dict[str, Any]:
    return dict((org.settings or {}).get("branding") or {})


def update_settings(
    actor: User,
    display_name: str | None = None,
    primary: str | None = None,
    logo: bytes | None = None,
    remove_logo: bool = False,
    ocr_language: str | None = None,
) -> Organization:
    """Change the display name, the OCR language and, on plans that allow it, the colour and
    logo; audited."""
    require_settings_role(actor)
    org = tenancy.current_organization()
    changes: dict[str, Any] = {}
    if ocr_language:
        language = ocr_language.strip()
        if not OCR_LANGUAGE.match(language):
            raise BrandingError(
                "The OCR language must be Tesseract language codes such as eng, deu or "
                "eng+fra (letters and underscores, up to four joined by +)."
            )
        current = (org.settings or {}).get("ocr_language", DEFAULT_OCR_LANGUAGE)
        if language != current:
            changes["ocr_language"] = {"old": current, "new": language}
            org.settings = {**(org.settings or {}), "ocr_language": language}
    name = clean_name(display_name)
    if display_name is not None:
        if not 1 <= len(name) <= 120:
            raise BrandingError("The display name must be between 1 and 120 characters.")
        if name != org.name:
            changes["name"] = {"old": org.name, "new": name}
            org.name = name
    wants_branding = bool(primary) or logo is not None or remove_logo
    if wants_branding and not branding_allowed(org):
        raise BrandingError("Custom colours and logos are part of the Enterprise plan.")
    branding = _branding_settings(org)
    if primary:
        colour = valid_colour(primary)
        if colour is None:
            raise BrandingError("The primary colour must look like #1a2b3c.")
        if colour != branding.get("primary"):
            changes["primary"] = {"old": branding.get("primary"), "new": colour}
            branding["primary"] = colour
    if logo is not None:
        if len(logo) > MAX_LOGO_BYTES:
            raise BrandingError(f"The logo must be at most {MAX_LOGO_BYTES // 1024} KB.")
        width, height = png_dimensions(logo)
        version = hashlib.sha256(logo).hexdigest()[:16]
        org.logo_png = logo
        branding["logo"] = {"version": version, "width": width, "height": height}
        changes["logo"] = {"new": version, "bytes": len(logo)}
    elif remove_logo and branding.get("logo"):
        org.logo_png = None
        changes["logo"] = {"old": branding.pop("logo")["version"], "new": None}
    org.settings = {**(org.settings or {}), "branding": branding}
    flag_modified(org, "settings")
    if changes:
        audit.record(
            "settings.changed",
            actor_id=actor.id,
            target_type="organization",
            target_id=org.id,
            details=changes,
        )
    db.session.commit()
    return org


def branding_of(org: Organization) -> Branding:
    """What the pages of ``org`` apply; nothing but its name unless its plan allows branding."""
    if not branding_allowed(org):
        return Branding(None, None, org.name)
    branding = _branding_settings(org)
    logo = branding.get("logo") or {}
    version = logo.get("version") if isinstance(logo, dict) else None
    if not (isinstance(version, str) and re.fullmatch(r"[0-9a-f]{16}", version)):
        version = None
    return Branding(valid_colour(branding.get("primary")), version, org.name)


def logo_bytes(version: str) -> bytes | None:
    """The current organization's logo if ``version`` is its current one (else None → 404)."""
    org = tenancy.current_organization()
    if branding_of(org).logo_version != version:
        return None
    return org.logo_png
