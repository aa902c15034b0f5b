"""Online evaluation: check and judge results per extraction, the scoring claim, image dimensions, review flags.

`extractions.online_scored_at` is set once every online check (and the judge, when sampled)
has a result for the row; `online_claimed_at` is a short lease a replica takes while it scores
the row, so several replicas share the work and a crashed one's rows are picked up again.
`images.width` / `height` are the stored photo's dimensions, for input drift.
`extractions.review_flag` names why a row should be reviewed first (an online check it failed).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create `online_results`; add the scoring, dimension and review-flag columns."""
    op.create_table(
        "online_results",
        sa.Column("extraction_id", sa.String(32), sa.ForeignKey("extractions.id"), primary_key=True),
        sa.Column("check", sa.String(200), primary_key=True),
        sa.Column("field", sa.String(100)),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("result", sa.String(10), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("rubric_version", sa.String(64)),
        sa.Column("variant", sa.String(100), nullable=False),
        sa.Column("cost_usd", sa.Float),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_online_results_variant_created_at", "online_results", ["variant", "created_at"])
    op.create_index("ix_online_results_kind_created_at", "online_results", ["kind", "created_at"])
    with op.batch_alter_table("extractions") as batch:
        batch.add_column(sa.Column("online_scored_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("online_claimed_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("review_flag", sa.String(200)))
        batch.create_index("ix_extractions_online_scored_at", ["online_scored_at", "created_at"])
    with op.batch_alter_table("images") as batch:
        batch.add_column(sa.Column("width", sa.Integer))
        batch.add_column(sa.Column("height", sa.Integer))


def downgrade() -> None:
    """Drop what this revision created."""
    with op.batch_alter_table("images") as batch:
        batch.drop_column("height")
        batch.drop_column("width")
    with op.batch_alter_table("extractions") as batch:
        batch.drop_index("ix_extractions_online_scored_at")
        batch.drop_column("review_flag")
        batch.drop_column("online_claimed_at")
        batch.drop_column("online_scored_at")
    op.drop_index("ix_online_results_kind_created_at", "online_results")
    op.drop_index("ix_online_results_variant_created_at", "online_results")
    op.drop_table("online_results")
