"""Human review: reviews of extractions and the leases that keep two annotators apart."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the reviews and review_leases tables."""
    op.create_table(
        "reviews",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("extraction_id", sa.String(32), sa.ForeignKey("extractions.id"), nullable=False),
        sa.Column("annotator", sa.String(200), nullable=False),
        sa.Column("variant", sa.String(100), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("comment", sa.Text),
    )
    op.create_index("ix_reviews_extraction_id", "reviews", ["extraction_id"])
    op.create_index("ix_reviews_created_at", "reviews", ["created_at"])
    op.create_table(
        "review_leases",
        sa.Column("extraction_id", sa.String(32), sa.ForeignKey("extractions.id"), primary_key=True),
        sa.Column("annotator", sa.String(200), nullable=False),
        sa.Column("taken_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("skipped", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_review_leases_annotator", "review_leases", ["annotator"])


def downgrade() -> None:
    """Drop what this revision created."""
    op.drop_table("review_leases")
    op.drop_table("reviews")
