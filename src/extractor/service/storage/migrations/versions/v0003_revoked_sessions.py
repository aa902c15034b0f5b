"""Signed-out admin sessions: a cookie copied before sign-out is refused until it would have expired."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the revoked_sessions table."""
    op.create_table(
        "revoked_sessions",
        sa.Column("sid", sa.String(32), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_revoked_sessions_expires_at", "revoked_sessions", ["expires_at"])


def downgrade() -> None:
    """Drop what this revision created."""
    op.drop_table("revoked_sessions")
