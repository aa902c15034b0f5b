"""Guarded rollouts: the rollouts, their events, the routing every replica reads, shadow results.

`extractions.rollout_id` marks the requests a running rollout split between its control and
its candidate, so its statistics compare two randomised arms of the same users and nothing else.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the rollout tables and add `rollout_id` to extractions."""
    op.create_table(
        "rollouts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("candidate", sa.String(100), nullable=False),
        sa.Column("control", sa.String(100), nullable=False),
        sa.Column("steps", sa.JSON, nullable=False),
        sa.Column("step_index", sa.Integer, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("min_requests", sa.Integer),
        sa.Column("min_hours", sa.Float),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("step_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_rollouts_started_at", "rollouts", ["started_at"])
    op.create_table(
        "rollout_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rollout_id", sa.String(32)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("why", sa.Text, nullable=False),
        sa.Column("step_percent", sa.Float),
    )
    op.create_index("ix_rollout_events_rollout_id", "rollout_events", ["rollout_id"])
    op.create_table(
        "routing",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "shadow_results",
        sa.Column("extraction_id", sa.String(32), sa.ForeignKey("extractions.id"), primary_key=True),
        sa.Column("variant", sa.String(100), primary_key=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("prompt_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error_type", sa.String(50)),
        sa.Column("output", sa.JSON),
        sa.Column("latency_ms", sa.Integer),
        sa.Column("input_tokens", sa.Integer),
        sa.Column("output_tokens", sa.Integer),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_shadow_results_variant_created_at", "shadow_results", ["variant", "created_at"])
    with op.batch_alter_table("extractions") as batch:
        batch.add_column(sa.Column("rollout_id", sa.String(32)))
        batch.create_index("ix_extractions_rollout_id", ["rollout_id", "variant"])


def downgrade() -> None:
    """Drop what this revision created."""
    with op.batch_alter_table("extractions") as batch:
        batch.drop_index("ix_extractions_rollout_id")
        batch.drop_column("rollout_id")
    op.drop_table("shadow_results")
    op.drop_table("routing")
    op.drop_table("rollout_events")
    op.drop_table("rollouts")
