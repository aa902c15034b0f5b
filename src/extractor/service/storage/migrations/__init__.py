"""Alembic migrations of the service database (applied by `listingeval serve` and `db upgrade`)."""
