"""Accounts that run themselves, and a trash for documents (issue 12).

* ``account_tokens``: single-use, expiring links sent by mail — a password reset, or the
  confirmation of a new e-mail address. Only the SHA-256 of the 256-bit secret is stored; the
  link carries the organization id, the token id and the secret (as invitations do), so the
  page that opens it sets the tenant context from the link before an ordinary RLS-guarded read.
* ``api_tokens.secret_tail``: the last four characters of a token, so the token list shows the
  token as its holder sees it (``pmdi_a2326b…k3Fq``).
* ``documents.deleted_at`` / ``deleted_by``: a deleted document waits in the trash for
  ``TRASH_GRACE_DAYS`` and can be restored; the housekeeping task purges it afterwards,
  learning the (organization, id) pairs due through the door ``app_trash_due``.

Revision ID: 0015_accounts
Revises: 0018_floor
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from migrations.rls import enable_tenant_rls, grant, grant_door

revision = "0015_accounts"
down_revision = "0018_floor"
branch_labels = None
depends_on = None

TRASH_DOOR = "app_trash_due(interval, integer)"


def upgrade() -> None:
    op.create_table(
        "account_tokens",
        sa.Column(
            "organization_id",
            sa.Uuid,
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("new_email", sa.String(254), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("organization_id", "id", name="pk_account_tokens"),
        sa.ForeignKeyConstraint(
            ["organization_id", "user_id"],
            ["users.organization_id", "users.id"],
            name="fk_account_tokens_organization_id_users",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("purpose IN ('password_reset', 'email_change')", name="purpose"),
    )
    op.create_index(
        "ix_account_tokens_org_user", "account_tokens", ["organization_id", "user_id", "created_at"]
    )
    enable_tenant_rls("account_tokens")
    grant("SELECT, INSERT, UPDATE, DELETE", "account_tokens")

    op.add_column("api_tokens", sa.Column("secret_tail", sa.String(8), nullable=True))

    op.add_column("documents", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("documents", sa.Column("deleted_by", sa.Uuid, nullable=True))
    # The trash page (per organization) and the purge's door (across organizations) read
    # only trashed rows.
    op.create_index(
        "ix_documents_trash",
        "documents",
        ["organization_id", "deleted_at"],
        postgresql_where=sa.text("deleted_at IS NOT NULL"),
    )
    op.create_index(
        "ix_documents_trash_due",
        "documents",
        ["deleted_at"],
        postgresql_where=sa.text("deleted_at IS NOT NULL"),
    )
    op.execute(
        "CREATE FUNCTION app_trash_due(p_grace interval, p_limit integer) "
        "RETURNS TABLE (organization_id uuid, id uuid) LANGUAGE sql STABLE SECURITY DEFINER "
        "SET search_path = '' AS $$ SELECT d.organization_id, d.id FROM public.documents d "
        "WHERE d.deleted_at IS NOT NULL AND d.deleted_at <= now() - p_grace "
        "ORDER BY d.deleted_at LIMIT least(greatest(p_limit, 0), 1000) $$"
    )
    grant_door(TRASH_DOOR, "platform")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {TRASH_DOOR}")
    op.drop_index("ix_documents_trash_due", table_name="documents")
    op.drop_index("ix_documents_trash", table_name="documents")
    op.drop_column("documents", "deleted_by")
    op.drop_column("documents", "deleted_at")
    op.drop_column("api_tokens", "secret_tail")
    op.drop_table("account_tokens")
