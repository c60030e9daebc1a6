"""Session revocation: a session generation on each user and each platform admin.

The signed session cookie names the generation it was issued under; the user (or admin)
loaded on every request carries the current one, so a mismatch ends the session with no
extra query. Log-out, a password change, a role change and removal bump it (removal deletes
the row, which ends the session too); an admin's log-out bumps the admin's.

Revision ID: 0011_session_revocation
Revises: 0010_roles_by_trust
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from migrations.rls import platform_role

revision = "0011_session_revocation"
down_revision = "0010_roles_by_trust"
branch_labels = None
depends_on = None


def upgrade() -> None:
    column = {"nullable": False, "server_default": sa.text("0")}
    op.add_column("users", sa.Column("session_version", sa.Integer, **column))
    op.add_column("platform_admins", sa.Column("session_version", sa.Integer, **column))
    # The tenant role updates users as a whole already; on platform_admins the platform role
    # (which serves /admin, 0010) holds column privileges only, so the new column is granted
    # on its own.
    op.execute(f"GRANT UPDATE (session_version) ON platform_admins TO {platform_role()}")


def downgrade() -> None:
    op.drop_column("platform_admins", "session_version")
    op.drop_column("users", "session_version")
