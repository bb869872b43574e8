"""Alembic migrations of the store schema; a package so that installs ship them."""
