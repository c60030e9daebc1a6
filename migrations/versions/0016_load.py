"""Separate request budgets for pages and the API, per organization and per user or token.

Until now one ``requests_per_minute`` budget per organization served pages and the API alike,
so one API script could lock every member out of the pages (issue 12). Each plan gains:

- ``page_requests_per_minute``: the organization's interactive pages;
- ``user_requests_per_minute``: one member's pages;
- ``token_requests_per_minute``: one API token;

while ``requests_per_minute`` is now the organization's API budget. Organizations override
them like every other limit (``quota_overrides``), and ``app_admin_update_plan`` (0005) is
replaced by the same function knowing the new columns, so platform admins set them live.

And the platform role's door ``app_admin_usage_history(org, months)``: one organization's
monthly usage rows (documents and bytes uploaded per calendar month), newest first, for the
organization's page of the admin load view (issue 13 §4).

Revision ID: 0016_load
Revises: 0015_accounts
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from migrations.rls import grant_door

revision = "0016_load"
down_revision = "0015_accounts"
branch_labels = None
depends_on = None

OLD_COLUMNS = (
    ("requests_per_minute", "integer"),
    ("uploads_per_hour", "integer"),
    ("documents_per_month", "integer"),
    ("storage_bytes", "bigint"),
    ("members", "integer"),
    ("max_file_bytes", "bigint"),
    ("worker_slots", "integer"),
)
NEW_COLUMNS = (
    ("page_requests_per_minute", "integer"),
    ("user_requests_per_minute", "integer"),
    ("token_requests_per_minute", "integer"),
)
HISTORY = "app_admin_usage_history(uuid, integer)"
# plan -> (pages per organization, pages per member, API per token), per minute. A token may
# spend its organization's whole API budget unless a platform admin sets less (a member's or
# token's window as large as its organization's is not even checked: webapp/ratelimit.py).
DEFAULTS = {
    "free": (60, 60, 60),
    "pro": (600, 300, 600),
    "enterprise": (6000, 1200, 6000),
}


def _update_plan_function(columns: tuple[tuple[str, str], ...]) -> str:
    """``app_admin_update_plan`` (as 0005 wrote it) over ``columns``."""
    known = ", ".join(f"'{name}'" for name, _ in columns)
    assignments = ",\n".join(
        f"{name} = CASE WHEN p_limits ? '{name}' "
        f"THEN (p_limits ->> '{name}')::{kind} ELSE {name} END"
        for name, kind in columns
    )
    limits_json = ", ".join(f"'{name}', p.{name}" for name, _ in columns)
    return f"""
        CREATE OR REPLACE FUNCTION app_admin_update_plan(p_id text, p_limits jsonb)
        RETURNS TABLE (old_value jsonb, new_value jsonb)
        LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
        DECLARE
            v_old jsonb;
            v_new jsonb;
            v_bad text;
        BEGIN
            IF jsonb_typeof(p_limits) <> 'object' THEN
                RAISE EXCEPTION 'plan limits must be a JSON object';
            END IF;
            SELECT k INTO v_bad FROM jsonb_object_keys(p_limits) k
            WHERE k NOT IN ({known}) LIMIT 1;
            IF v_bad IS NOT NULL THEN
                RAISE EXCEPTION 'unknown plan limit %', v_bad;
            END IF;
            SELECT k INTO v_bad FROM jsonb_each(p_limits) e(k, v)
            WHERE jsonb_typeof(v) = 'number' AND (v::text)::numeric < 0 LIMIT 1;
            IF v_bad IS NOT NULL THEN
                RAISE EXCEPTION 'plan limit % must not be negative', v_bad;
            END IF;
            SELECT jsonb_build_object({limits_json}) INTO v_old
            FROM public.plans p WHERE p.id = p_id FOR UPDATE;
            IF NOT FOUND THEN
                RETURN;
            END IF;
            UPDATE public.plans SET
            {assignments}
            WHERE id = p_id;
            SELECT jsonb_build_object({limits_json}) INTO v_new
            FROM public.plans p WHERE p.id = p_id;
            RETURN QUERY SELECT v_old, v_new;
        END
        $$
        """


def upgrade() -> None:
    for name, _ in NEW_COLUMNS:
        op.add_column("plans", sa.Column(name, sa.Integer, nullable=True))
    plans = sa.table("plans", sa.column("id"), *(sa.column(name) for name, _ in NEW_COLUMNS))
    for plan_id, values in DEFAULTS.items():
        op.execute(
            plans.update()
            .where(plans.c.id == plan_id)
            .values(dict(zip((n for n, _ in NEW_COLUMNS), values, strict=True)))
        )
    # A plan added by hand meanwhile takes its organization-wide figure everywhere.
    for name, _ in NEW_COLUMNS:
        op.execute(f"UPDATE plans SET {name} = requests_per_minute WHERE {name} IS NULL")
        op.alter_column("plans", name, nullable=False)
    op.execute(_update_plan_function(OLD_COLUMNS + NEW_COLUMNS))
    op.execute(
        "CREATE FUNCTION app_admin_usage_history(p_org uuid, p_months integer) "
        "RETURNS TABLE (period date, documents_uploaded integer, bytes_uploaded bigint) "
        "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$ "
        "SELECT u.period, u.documents_uploaded, u.bytes_uploaded FROM public.usage u "
        "WHERE u.organization_id = p_org ORDER BY u.period DESC "
        "LIMIT least(greatest(p_months, 1), 120) $$"
    )
    grant_door(HISTORY)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {HISTORY}")
    op.execute(_update_plan_function(OLD_COLUMNS))
    for name, _ in reversed(NEW_COLUMNS):
        op.drop_column("plans", name)
