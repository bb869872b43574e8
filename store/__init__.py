"""Persistence: the SQLAlchemy schema, engines and sessions, Alembic migrations, read queries.

Imports `domain` for types only; never imported by `domain` or `workflows`.
"""
