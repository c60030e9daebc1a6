"""Alembic migrations; a package so versions can share migrations.rls."""
