"""Invitations: a tenant table of pending, accepted and revoked invitations.

Only the SHA-256 of each invitation's 256-bit secret is stored. The link carries the
organization id, the invitation id and the secret, so acceptance (by a person who is not
logged in) sets the tenant context from the link before the lookup: no cross-tenant door.
``invited_by`` has no foreign key on purpose: removing the inviting member must neither delete
the invitation history nor block the removal.

Revision ID: 0006_invitations
Revises: 0005_platform_admin
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from migrations.rls import enable_tenant_rls, grant

revision = "0006_invitations"
down_revision = "0005_platform_admin"
branch_labels = None
depends_on = None


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=None if nullable else sa.func.now(),
    )


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column(
            "organization_id",
            sa.Uuid,
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("invited_by", sa.Uuid, nullable=True),
        _timestamp("created_at"),
        _timestamp("expires_at"),
        _timestamp("accepted_at", nullable=True),
        _timestamp("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("organization_id", "id", name="pk_invitations"),
        sa.CheckConstraint("role IN ('owner', 'admin', 'member', 'viewer')", name="role"),
    )
    op.create_index("ix_invitations_org_created", "invitations", ["organization_id", "created_at"])
    enable_tenant_rls("invitations")
    grant("SELECT, INSERT, UPDATE", "invitations")


def downgrade() -> None:
    op.drop_table("invitations")
