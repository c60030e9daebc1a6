"""Organization lifecycle: branding logo, exports (chunked zips), deletion with a grace period.

* ``organizations`` gains ``deletion_requested_at`` and ``logo_png`` (the branding logo, a
  small PNG; the row is already guarded by RLS on its own id), and its status may now be
  ``pending_deletion``.
* ``exports`` (one requested export and its progress) and ``export_chunks`` (the zip, in
  chunks like ``document_blobs``) are tenant tables with the three walls.
* Two door functions for the purge task (DESIGN.md §3): ``app_organizations_due_for_purge``
  returns only the ids of organizations whose grace period ended, and
  ``app_purge_organization`` removes one of them — every row of every table that has an
  ``organization_id`` column (read from the catalog, so later tables are purged too), then the
  organization itself. It re-checks the status and the grace period itself, so the runtime
  role can never purge an active organization through it.

Revision ID: 0007_org_lifecycle
Revises: 0006_invitations
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from migrations.rls import app_role, enable_tenant_rls, grant

revision = "0007_org_lifecycle"
down_revision = "0006_invitations"
branch_labels = None
depends_on = None

FUNCTIONS = (
    "app_organizations_due_for_purge(interval, integer)",
    "app_purge_organization(uuid, interval)",
)


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=None if nullable else sa.func.now(),
    )


def upgrade() -> None:
    op.add_column("organizations", sa.Column("deletion_requested_at", sa.DateTime(timezone=True)))
    op.add_column("organizations", sa.Column("logo_png", sa.LargeBinary))
    op.execute("ALTER TABLE organizations DROP CONSTRAINT IF EXISTS ck_organizations_status")
    op.execute(
        "ALTER TABLE organizations ADD CONSTRAINT ck_organizations_status "
        "CHECK (status IN ('active', 'suspended', 'pending_deletion'))"
    )
    op.execute(
        "ALTER TABLE organizations ADD CONSTRAINT ck_organizations_deletion_date "
        "CHECK (status <> 'pending_deletion' OR deletion_requested_at IS NOT NULL)"
    )
    op.execute(
        "ALTER TABLE organizations ADD CONSTRAINT ck_organizations_logo_size "
        "CHECK (logo_png IS NULL OR octet_length(logo_png) <= 204800)"
    )

    op.create_table(
        "exports",
        sa.Column(
            "organization_id",
            sa.Uuid,
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("requested_by", sa.Uuid),
        sa.Column("status", sa.String(16), nullable=False, server_default="queued"),
        sa.Column("progress", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("error", sa.Text),
        sa.Column("size_bytes", sa.BigInteger),
        sa.Column("sha256", sa.String(64)),
        _timestamp("created_at"),
        _timestamp("finished_at", nullable=True),
        _timestamp("expires_at", nullable=True),
        sa.PrimaryKeyConstraint("organization_id", "id", name="pk_exports"),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name="ck_exports_status"
        ),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name="ck_exports_progress"),
    )
    op.create_index("ix_exports_org_created", "exports", ["organization_id", "created_at"])
    enable_tenant_rls("exports")
    grant("SELECT, INSERT, UPDATE, DELETE", "exports")

    op.create_table(
        "export_chunks",
        sa.Column("organization_id", sa.Uuid, nullable=False),
        sa.Column("export_id", sa.Uuid, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "export_id", "seq", name="pk_export_chunks"),
        sa.ForeignKeyConstraint(
            ["organization_id", "export_id"],
            ["exports.organization_id", "exports.id"],
            name="fk_export_chunks_export",
            ondelete="CASCADE",
        ),
    )
    # A zip is already compressed: skip TOAST compression.
    op.execute("ALTER TABLE export_chunks ALTER COLUMN data SET STORAGE EXTERNAL")
    enable_tenant_rls("export_chunks")
    grant("SELECT, INSERT, DELETE", "export_chunks")

    op.execute(
        "CREATE FUNCTION app_organizations_due_for_purge(p_grace interval, p_limit integer) "
        "RETURNS TABLE (id uuid) LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$ "
        "SELECT o.id FROM public.organizations o WHERE o.status = 'pending_deletion' "
        "AND o.deletion_requested_at <= now() - GREATEST(p_grace, interval '1 day') "
        "ORDER BY o.deletion_requested_at LIMIT p_limit $$"
    )
    # The grace period has a floor of one day whatever the caller passes, so a bug (or a
    # compromised runtime role) cannot purge an organization the moment it asks to leave.
    op.execute(
        """
        CREATE FUNCTION app_purge_organization(p_id uuid, p_grace interval)
        RETURNS TABLE (table_name text, deleted bigint)
        LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
        DECLARE
            v_table text;
            v_count bigint;
        BEGIN
            PERFORM 1 FROM public.organizations o
            WHERE o.id = p_id AND o.status = 'pending_deletion'
              AND o.deletion_requested_at <= now() - GREATEST(p_grace, interval '1 day')
            FOR UPDATE;
            IF NOT FOUND THEN
                RETURN;
            END IF;
            -- Children first where foreign keys chain (blobs before documents), then the rest;
            -- every table with an organization_id column, read from the catalog.
            FOR v_table IN
                SELECT c.relname FROM pg_catalog.pg_class c
                JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
                     AND a.attname = 'organization_id' AND NOT a.attisdropped
                WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
                ORDER BY (SELECT count(*) FROM pg_catalog.pg_constraint f
                          WHERE f.conrelid = c.oid AND f.contype = 'f') DESC, c.relname
            LOOP
                EXECUTE format('DELETE FROM public.%I WHERE organization_id = $1', v_table)
                USING p_id;
                GET DIAGNOSTICS v_count = ROW_COUNT;
                table_name := v_table;
                deleted := v_count;
                RETURN NEXT;
            END LOOP;
            DELETE FROM public.organizations WHERE id = p_id;
            GET DIAGNOSTICS v_count = ROW_COUNT;
            table_name := 'organizations';
            deleted := v_count;
            RETURN NEXT;
        END
        $$
        """
    )
    for function in FUNCTIONS:
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {app_role()}")


def downgrade() -> None:
    for function in reversed(FUNCTIONS):
        op.execute(f"DROP FUNCTION {function}")
    op.drop_table("export_chunks")
    op.drop_table("exports")
    op.execute("ALTER TABLE organizations DROP CONSTRAINT ck_organizations_logo_size")
    op.execute("ALTER TABLE organizations DROP CONSTRAINT ck_organizations_deletion_date")
    op.execute("ALTER TABLE organizations DROP CONSTRAINT ck_organizations_status")
    op.execute(
        "ALTER TABLE organizations ADD CONSTRAINT ck_organizations_status "
        "CHECK (status IN ('active', 'suspended'))"
    )
    op.drop_column("organizations", "logo_png")
    op.drop_column("organizations", "deletion_requested_at")
