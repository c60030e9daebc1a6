"""The workspace across documents (issue 12): digest items, owner links, notifications, feeds.

- ``digest_items``: the actions, decisions and risks of every digest, one row each, written
  when a digest is stored (``webapp.workspace.items.sync_digest``), so the Actions page is one
  indexed query. ``origin`` is ``analyser`` or ``human``; an analyser item a person corrected
  has ``edited_at``, one a person removed keeps its row with ``removed_at`` (so reprocessing
  does not bring it back): a human edit wins over the analyser.
- ``owner_links``: "this is …" — an owner as written in documents (``name_key``, lower case)
  linked to a member, remembered per organization.
- ``notifications`` (in-app, and mailed once), ``notification_preferences`` (opt-outs), and
  ``calendar_feeds`` (a personal ICS feed behind a secret URL; only its SHA-256 is stored).
- The door ``app_organizations_with_overdue(date, integer)``, the platform role's: which
  active organizations have an overdue open action owned by a member (ids only), for the
  daily overdue digest.

``member_id`` and ``created_by`` have no foreign key on purpose (as ``invitations.invited_by``):
removing a member neither deletes the actions they owned nor is blocked by them; the match is
simply gone.

Revision ID: 0014_workspace
Revises: 0013_operate
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from migrations.rls import enable_tenant_rls, grant, grant_door

revision = "0014_workspace"
down_revision = "0013_operate"
branch_labels = None
depends_on = None

DOOR = "app_organizations_with_overdue(date, integer)"
TABLES = (
    "calendar_feeds",
    "notification_preferences",
    "notifications",
    "owner_links",
    "digest_items",
)


def _org() -> sa.Column:
    return sa.Column(
        "organization_id",
        sa.Uuid,
        sa.ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    )


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=None if nullable else sa.func.now(),
    )


def _user_fk(table: str, column: str = "user_id") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["organization_id", column],
        ["users.organization_id", "users.id"],
        ondelete="CASCADE",
        name=f"fk_{table}_{column}_users",
    )


def upgrade() -> None:
    op.create_table(
        "digest_items",
        _org(),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("document_id", sa.Uuid, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("position", sa.Integer, nullable=False, server_default="0"),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("owner_text", sa.String(200)),
        sa.Column("owner_key", sa.String(200)),
        sa.Column("member_id", sa.Uuid),
        sa.Column("due_date", sa.Date),
        sa.Column("due_text", sa.String(100)),
        sa.Column("priority", sa.String(16)),
        sa.Column("severity", sa.String(16)),
        sa.Column("category", sa.String(64)),
        sa.Column("done", sa.Boolean, nullable=False, server_default=sa.false()),
        _timestamp("done_at", nullable=True),
        sa.Column("origin", sa.String(16), nullable=False),
        _timestamp("edited_at", nullable=True),
        sa.Column("edited_by", sa.Uuid),
        _timestamp("removed_at", nullable=True),
        sa.Column("analyser_key", sa.String(500)),
        sa.Column("source_line", sa.Integer),
        sa.Column("source_page", sa.Integer),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("organization_id", "id", name="pk_digest_items"),
        sa.ForeignKeyConstraint(
            ["organization_id", "document_id"],
            ["documents.organization_id", "documents.id"],
            ondelete="CASCADE",
            name="fk_digest_items_document_id_documents",
        ),
        sa.CheckConstraint("kind IN ('action', 'decision', 'risk')", name="kind"),
        sa.CheckConstraint("origin IN ('analyser', 'human')", name="origin"),
    )
    live = sa.text("removed_at IS NULL")
    # The Actions page: open actions of the organization by due date; a member's own.
    op.create_index(
        "ix_digest_items_org_open",
        "digest_items",
        ["organization_id", "kind", "done", "due_date"],
        postgresql_where=live,
    )
    op.create_index(
        "ix_digest_items_org_member",
        "digest_items",
        ["organization_id", "member_id", "kind", "done", "due_date"],
        postgresql_where=live,
    )
    op.create_index(
        "ix_digest_items_org_document",
        "digest_items",
        ["organization_id", "document_id", "kind", "position"],
    )
    op.create_index("ix_digest_items_org_owner", "digest_items", ["organization_id", "owner_key"])
    # The daily overdue digest's door reads only open, owned actions by due date.
    op.create_index(
        "ix_digest_items_overdue",
        "digest_items",
        ["due_date", "organization_id"],
        postgresql_where=sa.text(
            "kind = 'action' AND NOT done AND removed_at IS NULL AND member_id IS NOT NULL"
        ),
    )

    op.create_table(
        "owner_links",
        _org(),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("name_key", sa.String(200), nullable=False),
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("created_by", sa.Uuid),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("organization_id", "id", name="pk_owner_links"),
        _user_fk("owner_links"),
        sa.UniqueConstraint("organization_id", "name_key", name="uq_owner_links_name_key"),
    )

    op.create_table(
        "notifications",
        _org(),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("link", sa.String(500)),
        sa.Column("mail_pending", sa.Boolean, nullable=False, server_default=sa.false()),
        _timestamp("created_at"),
        _timestamp("read_at", nullable=True),
        _timestamp("mailed_at", nullable=True),
        sa.PrimaryKeyConstraint("organization_id", "id", name="pk_notifications"),
        _user_fk("notifications"),
    )
    op.create_index(
        "ix_notifications_org_user",
        "notifications",
        ["organization_id", "user_id", "created_at"],
    )
    op.create_index(
        "ix_notifications_org_unread",
        "notifications",
        ["organization_id", "user_id"],
        postgresql_where=sa.text("read_at IS NULL"),
    )
    op.create_index(
        "ix_notifications_org_mail",
        "notifications",
        ["organization_id", "created_at"],
        postgresql_where=sa.text("mail_pending"),
    )

    op.create_table(
        "notification_preferences",
        _org(),
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("overdue_digest", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("mail", sa.Boolean, nullable=False, server_default=sa.true()),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("organization_id", "user_id", name="pk_notification_preferences"),
        _user_fk("notification_preferences"),
    )

    op.create_table(
        "calendar_feeds",
        _org(),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        _timestamp("created_at"),
        _timestamp("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("organization_id", "id", name="pk_calendar_feeds"),
        _user_fk("calendar_feeds"),
    )
    op.create_index("ix_calendar_feeds_org_user", "calendar_feeds", ["organization_id", "user_id"])

    for table in TABLES:
        enable_tenant_rls(table)
        grant("SELECT, INSERT, UPDATE, DELETE", table)

    op.execute(
        "CREATE FUNCTION app_organizations_with_overdue(p_today date, p_limit integer) "
        "RETURNS TABLE (organization_id uuid) LANGUAGE sql STABLE SECURITY DEFINER "
        "SET search_path = '' AS $$ SELECT DISTINCT i.organization_id "
        "FROM public.digest_items i JOIN public.organizations o "
        "ON o.id = i.organization_id AND o.status = 'active' "
        "WHERE i.kind = 'action' AND NOT i.done AND i.removed_at IS NULL "
        "AND i.member_id IS NOT NULL AND i.due_date < p_today "
        "ORDER BY 1 LIMIT least(greatest(p_limit, 0), 10000) $$"
    )
    # Across organizations (ids only): the platform role's, for the beat task.
    grant_door(DOOR, "platform")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {DOOR}")
    for table in TABLES:
        op.drop_table(table)
