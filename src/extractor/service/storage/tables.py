"""The database tables (SQLAlchemy Core); Alembic migrations create and change them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

images = Table(
    "images",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("data", LargeBinary, nullable=False),
    Column("size", Integer, nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # The photo's dimensions, for input drift (null for photos stored before they were recorded).
    Column("width", Integer),
    Column("height", Integer),
)

extractions = Table(
    "extractions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("user_id", String(200), nullable=False),
    Column("variant", String(100), nullable=False),
    Column("model", String(200), nullable=False),
    Column("prompt_id", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("error_type", String(50)),
    Column("error_message", Text),
    Column("output", JSON),
    Column("response_id", String(200)),
    Column("latency_ms", Integer),
    Column("input_tokens", Integer),
    Column("output_tokens", Integer),
    Column("image_sha256", String(64), ForeignKey("images.sha256")),
    Column("rating", String(10)),
    Column("comment", Text),
    Column("rated_at", DateTime(timezone=True)),
    Column("final_listing", JSON),
    Column("corrected_fields", JSON),
    Column("finalized_at", DateTime(timezone=True)),
    # Set when a running rollout split this request between its control and candidate.
    Column("rollout_id", String(32)),
    # Online evaluation: scored once every online check has a result; claimed while a replica scores it.
    Column("online_scored_at", DateTime(timezone=True)),
    Column("online_claimed_at", DateTime(timezone=True)),
    # Why the row should be reviewed first (an online check it failed), set by `cases promote --from-online`.
    Column("review_flag", String(200)),
    Index("ix_extractions_created_at", "created_at"),
    Index("ix_extractions_variant_created_at", "variant", "created_at"),
    Index("ix_extractions_status", "status"),
    Index("ix_extractions_rollout_id", "rollout_id", "variant"),
    Index("ix_extractions_online_scored_at", "online_scored_at", "created_at"),
)

corrections = Table(
    "corrections",
    metadata,
    Column("extraction_id", String(32), ForeignKey("extractions.id"), primary_key=True),
    Column("field", String(50), primary_key=True),
    Column("variant", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_corrections_variant_created_at", "variant", "created_at"),
)

reviews = Table(
    "reviews",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("extraction_id", String(32), ForeignKey("extractions.id"), nullable=False),
    Column("annotator", String(200), nullable=False),
    Column("variant", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("fields", JSON, nullable=False),
    Column("comment", Text),
    Index("ix_reviews_extraction_id", "extraction_id"),
    Index("ix_reviews_created_at", "created_at"),
)

review_leases = Table(
    "review_leases",
    metadata,
    Column("extraction_id", String(32), ForeignKey("extractions.id"), primary_key=True),
    Column("annotator", String(200), nullable=False),
    Column("taken_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("skipped", Boolean, nullable=False, default=False),
    Index("ix_review_leases_annotator", "annotator"),
)

revoked_sessions = Table(
    "revoked_sessions",
    metadata,
    Column("sid", String(32), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_revoked_sessions_expires_at", "expires_at"),
)

rollouts = Table(
    "rollouts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("candidate", String(100), nullable=False),
    Column("control", String(100), nullable=False),
    Column("steps", JSON, nullable=False),
    Column("step_index", Integer, nullable=False),
    Column("state", String(20), nullable=False),
    Column("min_requests", Integer),
    Column("min_hours", Float),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("step_started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Index("ix_rollouts_started_at", "started_at"),
)

rollout_events = Table(
    "rollout_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rollout_id", String(32)),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("by", String(200), nullable=False),
    Column("why", Text, nullable=False),
    Column("step_percent", Float),
    Index("ix_rollout_events_rollout_id", "rollout_id"),
)

# One row (id 1): what every replica reads before assigning a request, changed in the same
# transaction as the rollout it describes.
routing = Table(
    "routing",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("data", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

shadow_results = Table(
    "shadow_results",
    metadata,
    Column("extraction_id", String(32), ForeignKey("extractions.id"), primary_key=True),
    Column("variant", String(100), primary_key=True),
    Column("model", String(200), nullable=False),
    Column("prompt_id", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("error_type", String(50)),
    Column("output", JSON),
    Column("latency_ms", Integer),
    Column("input_tokens", Integer),
    Column("output_tokens", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_shadow_results_variant_created_at", "variant", "created_at"),
)

# One row per online check (or judge verdict) of one extraction.
online_results = Table(
    "online_results",
    metadata,
    Column("extraction_id", String(32), ForeignKey("extractions.id"), primary_key=True),
    Column("check", String(200), primary_key=True),
    Column("field", String(100)),
    Column("kind", String(10), nullable=False),  # "check" or "judge"
    Column("result", String(10), nullable=False),  # "pass", "fail" or "error"
    Column("reason", Text),
    Column("rubric_version", String(64)),
    Column("variant", String(100), nullable=False),
    Column("cost_usd", Float),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_online_results_variant_created_at", "variant", "created_at"),
    Index("ix_online_results_kind_created_at", "kind", "created_at"),
)
