"""Initial schema: images, extractions, corrections."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the three tables and their indexes."""
    op.create_table(
        "images",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "extractions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("finished_at", _TS),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("variant", sa.String(100), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("prompt_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error_type", sa.String(50)),
        sa.Column("error_message", sa.Text),
        sa.Column("output", sa.JSON),
        sa.Column("response_id", sa.String(200)),
        sa.Column("latency_ms", sa.Integer),
        sa.Column("input_tokens", sa.Integer),
        sa.Column("output_tokens", sa.Integer),
        sa.Column("image_sha256", sa.String(64), sa.ForeignKey("images.sha256")),
        sa.Column("rating", sa.String(10)),
        sa.Column("comment", sa.Text),
        sa.Column("rated_at", _TS),
        sa.Column("final_listing", sa.JSON),
        sa.Column("corrected_fields", sa.JSON),
        sa.Column("finalized_at", _TS),
    )
    op.create_index("ix_extractions_created_at", "extractions", ["created_at"])
    op.create_index("ix_extractions_variant_created_at", "extractions", ["variant", "created_at"])
    op.create_index("ix_extractions_status", "extractions", ["status"])
    op.create_table(
        "corrections",
        sa.Column("extraction_id", sa.String(32), sa.ForeignKey("extractions.id"), primary_key=True),
        sa.Column("field", sa.String(50), primary_key=True),
        sa.Column("variant", sa.String(100), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_corrections_variant_created_at", "corrections", ["variant", "created_at"])


def downgrade() -> None:
    """Drop everything this revision created."""
    op.drop_table("corrections")
    op.drop_table("extractions")
    op.drop_table("images")
