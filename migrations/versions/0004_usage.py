"""Usage: the running storage total per organization and the per-month counters.

Two tenant tables, because the two kinds of counter live differently:

* ``usage_totals`` holds one row per organization with what is true *now* (``storage_bytes``).
  It is also the organization's quota lock: every hard-quota check (documents, storage,
  members) takes ``SELECT ... FOR UPDATE`` on this one row in the write's own transaction,
  so concurrent uploads and member additions of one organization queue behind each other,
  while other organizations never wait.
* ``usage`` holds one row per organization and calendar month (``period`` is the month's
  first day, UTC) with what happened *in* that month (``documents_uploaded``,
  ``bytes_uploaded``). A new month simply starts a new row, so last month never counts
  against this month, and the history stays for the usage page and billing.

Rows are created lazily by the application (``INSERT ... ON CONFLICT DO NOTHING``) inside the
tenant's own context, initialised from the organization's existing documents, so no backfill
is needed here (and none could see through row-level security).

Revision ID: 0004_usage
Revises: 0003_search_door
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from migrations.rls import enable_tenant_rls, grant

revision = "0004_usage"
down_revision = "0003_search_door"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_totals",
        sa.Column(
            "organization_id",
            sa.Uuid,
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("storage_bytes", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("organization_id", name="pk_usage_totals"),
        sa.CheckConstraint("storage_bytes >= 0", name="storage_not_negative"),
    )
    enable_tenant_rls("usage_totals")
    grant("SELECT, INSERT, UPDATE", "usage_totals")

    op.create_table(
        "usage",
        sa.Column(
            "organization_id",
            sa.Uuid,
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("period", sa.Date, nullable=False),
        sa.Column("documents_uploaded", sa.Integer, nullable=False, server_default="0"),
        sa.Column("bytes_uploaded", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("organization_id", "period", name="pk_usage"),
        sa.CheckConstraint("EXTRACT(DAY FROM period) = 1", name="period_is_month"),
        sa.CheckConstraint("documents_uploaded >= 0", name="documents_not_negative"),
        sa.CheckConstraint("bytes_uploaded >= 0", name="bytes_not_negative"),
    )
    enable_tenant_rls("usage")
    grant("SELECT, INSERT, UPDATE", "usage")


def downgrade() -> None:
    op.drop_table("usage")
    op.drop_table("usage_totals")
