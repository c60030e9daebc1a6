"""Leases on documents being processed, and the reconciler's doors (DESIGN.md §6).

A worker that starts a document takes a lease (owner, expiry) and renews it while it works, so
another worker never takes a live worker's document, and a dead worker's document is known
within seconds. ``analyser_version`` records which analyser made the digest, so a message for
a document already done by this analyser changes nothing.

The reconciler learns through two doors which (organization, id) pairs need it: documents
whose lease expired, and the active organizations that have documents waiting, with counts
it compares to what Redis tracks. Both read only the small partial indexes created here.

Revision ID: 0012_leases
Revises: 0011_session_revocation
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from migrations.rls import grant_door

revision = "0012_leases"
down_revision = "0011_session_revocation"
branch_labels = None
depends_on = None

DOORS = (
    "app_expired_leases(integer)",
    "app_waiting_organizations(interval, integer)",
)


def upgrade() -> None:
    op.add_column("documents", sa.Column("lease_owner", sa.String(200)))
    op.add_column("documents", sa.Column("lease_expires_at", sa.DateTime(timezone=True)))
    op.add_column("documents", sa.Column("analyser_version", sa.String(32)))
    # Only documents a worker holds: as many as there are worker slots in use.
    op.create_index(
        "ix_documents_in_progress",
        "documents",
        ["lease_expires_at"],
        postgresql_where=sa.text("status IN ('extracting', 'analysing')"),
    )
    # Documents waiting or being worked on, per organization: counted from the index alone.
    op.create_index(
        "ix_documents_active",
        "documents",
        ["organization_id", "status", "updated_at"],
        postgresql_where=sa.text("status IN ('queued', 'extracting', 'analysing')"),
    )
    # A document left in a processing state before leases existed has none: it counts as
    # expired once it has not moved for ten minutes, as the reaper it replaces judged. A
    # suspended organization's documents wait for its reactivation, which sends them again.
    op.execute(
        "CREATE FUNCTION app_expired_leases(p_limit integer) "
        "RETURNS TABLE (organization_id uuid, id uuid) LANGUAGE sql STABLE SECURITY DEFINER "
        "SET search_path = '' AS $$ SELECT d.organization_id, d.id FROM public.documents d "
        "JOIN public.organizations o ON o.id = d.organization_id AND o.status = 'active' "
        "WHERE d.status IN ('extracting', 'analysing') "
        "AND coalesce(d.lease_expires_at, d.updated_at + interval '10 minutes') < now() "
        "ORDER BY d.lease_expires_at LIMIT least(greatest(p_limit, 0), 10000) $$"
    )
    # With each organization's plan and worker slots (its override, else its plan's: as
    # webapp.plans.effective_limit reads them), so a run with nothing to do reads no
    # organization row of its own.
    op.execute(
        "CREATE FUNCTION app_waiting_organizations(p_settled interval, p_limit integer) "
        "RETURNS TABLE (organization_id uuid, plan_id text, worker_slots integer, "
        "queued bigint, running bigint) "
        "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$ "
        "SELECT w.organization_id, o.plan_id, "
        "coalesce((o.quota_overrides ->> 'worker_slots')::integer, p.worker_slots), "
        "w.queued, w.running FROM ("
        "SELECT d.organization_id, "
        "count(*) FILTER (WHERE d.status = 'queued' AND d.updated_at < now() - p_settled) "
        "AS queued, count(*) FILTER (WHERE d.status <> 'queued') AS running "
        "FROM public.documents d WHERE d.status IN ('queued', 'extracting', 'analysing') "
        "GROUP BY d.organization_id) w "
        "JOIN public.organizations o ON o.id = w.organization_id AND o.status = 'active' "
        "JOIN public.plans p ON p.id = o.plan_id "
        "ORDER BY w.organization_id LIMIT least(greatest(p_limit, 0), 10000) $$"
    )
    # Housekeeping doors: the platform role's alone (0010, "Roles by trust").
    for function in DOORS:
        grant_door(function, "platform")


def downgrade() -> None:
    for function in DOORS:
        op.execute(f"DROP FUNCTION {function}")
    op.drop_index("ix_documents_active", table_name="documents")
    op.drop_index("ix_documents_in_progress", table_name="documents")
    op.drop_column("documents", "analyser_version")
    op.drop_column("documents", "lease_expires_at")
    op.drop_column("documents", "lease_owner")
