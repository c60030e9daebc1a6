"""Owners as documents write them, matched to members of the organization.

In this order: a remembered "this is …" link (``owner_links``), the e-mail address, the full
name, the e-mail's local part (``@handle``), then a first name that exactly one member has.
Case, an ``@`` prefix and extra spaces never matter.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import OwnerLink, User


def owner_key(name: str | None) -> str | None:
    """The form an owner is matched and linked by: lower case, no ``@``, single spaces."""
    if not name:
        return None
    key = " ".join(name.strip().lstrip("@").lower().split())[:200]
    return key or None


@dataclass
class Directory:
    """The organization's active members and links, loaded once per digest or request."""

    links: dict[str, uuid.UUID] = field(default_factory=dict)
    by_email: dict[str, uuid.UUID] = field(default_factory=dict)
    by_name: dict[str, uuid.UUID] = field(default_factory=dict)
    by_local: dict[str, uuid.UUID] = field(default_factory=dict)
    by_first: dict[str, list[uuid.UUID]] = field(default_factory=dict)

    @classmethod
    def load(cls) -> Directory:
        found = cls()
        # Only the columns matched on: not every member with its organization and plan (the
        # joined loads of ``User``) for each digest stored.
        for link in db.session.execute(select(OwnerLink.name_key, OwnerLink.user_id)):
            found.links[link.name_key] = link.user_id
        active = select(User.id, User.email, User.name).where(User.status == "active")
        for user in db.session.execute(active):
            email = user.email.lower()
            found.by_email[email] = user.id
            found.by_local.setdefault(email.split("@")[0], user.id)
            name = owner_key(user.name)
            if name:
                found.by_name.setdefault(name, user.id)
                found.by_first.setdefault(name.split()[0], []).append(user.id)
        return found

    def match(self, written: str | None) -> uuid.UUID | None:
        """The member an owner as written names, if any (never a guess between two)."""
        key = owner_key(written)
        if key is None:
            return None
        if key in self.links:
            return self.links[key]
        email = re.search(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", key)
        if email:
            return self.by_email.get(email.group(0))
        if key in self.by_name:
            return self.by_name[key]
        if key in self.by_local:
            return self.by_local[key]
        firsts = self.by_first.get(key, []) if " " not in key else []
        return firsts[0] if len(firsts) == 1 else None

    def match_any(self, owners: list[str]) -> tuple[str | None, uuid.UUID | None]:
        """The first of several owners that is a member (its key), else the first owner's key."""
        for written in owners:
            member = self.match(written)
            if member is not None:
                return owner_key(written), member
        return (owner_key(owners[0]) if owners else None), None
