"""Announce changed token identities: NOTIFY pmdi_limits when what an API token acts as changes.

Web processes keep each authenticated API token's identity (its user, role, organization and
plan) for a few seconds, so an API request skips the token lookup (webapp/api/tokens.py,
``TokenCache``). They already LISTEN on ``pmdi_limits`` (migration 0009) and forget what they
keep the moment anything arrives there, so every change that must revoke or alter a token's
identity now announces itself on that channel too, whoever makes it, by whatever means:

* a token revoked, re-keyed, moved or deleted;
* a member deleted, or their status, role, name, e-mail or organization changed;
* an organization deleted or renamed (its plan, overrides and status: migration 0009);
* a plan changed or deleted (migration 0009).

The trigger function is 0009's: one notification per table and transaction (PostgreSQL folds
identical ones), whatever the number of rows. ``last_used_at``, log-ins and session generations
announce nothing.

Revision ID: 0020_identity_changes
Revises: 0017_context
Create Date: 2026-12-02
"""

from alembic import op

revision = "0020_identity_changes"
down_revision = "0017_context"
branch_labels = None
depends_on = None

# (trigger, table, the columns an UPDATE must change to be announced)
UPDATES = (
    (
        "announce_token_change",
        "api_tokens",
        ("revoked_at", "secret_hash", "user_id", "organization_id", "id"),
    ),
    (
        "announce_member_change",
        "users",
        ("status", "role", "name", "email", "organization_id", "id"),
    ),
    ("announce_name_change", "organizations", ("name",)),
)
DELETES = (
    ("announce_token_deleted", "api_tokens"),
    ("announce_member_deleted", "users"),
    ("announce_organization_deleted", "organizations"),
)


def upgrade() -> None:
    for trigger, table, columns in UPDATES:
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)
        op.execute(
            f"CREATE TRIGGER {trigger} AFTER UPDATE OF {', '.join(columns)} ON {table} "
            f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION app_announce_limit_change()"
        )
    for trigger, table in DELETES:
        op.execute(
            f"CREATE TRIGGER {trigger} AFTER DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION app_announce_limit_change()"
        )


def downgrade() -> None:
    for trigger, table, *_ in (*UPDATES, *DELETES):
        op.execute(f"DROP TRIGGER {trigger} ON {table}")
