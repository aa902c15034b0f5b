"""The database tables (SQLAlchemy Core); Alembic migrations create and change them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
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
    Index("ix_extractions_created_at", "created_at"),
    Index("ix_extractions_variant_created_at", "variant", "created_at"),
    Index("ix_extractions_status", "status"),
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
