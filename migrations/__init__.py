"""Alembic migrations of the `thotis` schema."""
