"""Connections and schema migrations.

psycopg 3 everywhere in the core; alembic (through SQLAlchemy's psycopg dialect) owns the schema.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from audiomuse.config import redact_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def connect(url: str, **kwargs) -> psycopg.Connection:
    """A psycopg connection with pgvector's numpy adapters registered."""
    try:
        conn = psycopg.connect(url, **kwargs)
    except psycopg.OperationalError as exc:
        raise ConnectionError(
            f"Cannot connect to PostgreSQL at {redact_url(url)}: {_first_line(exc)}"
        ) from None
    try:
        from pgvector.psycopg import register_vector

        register_vector(conn)
    except psycopg.ProgrammingError:
        pass  # extension not created yet (before the first migration)
    return conn


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class Database:
    """The app database at one URL: short-lived connections, migrations on demand."""

    def __init__(self, url: str):
        self.url = url

    def __repr__(self) -> str:
        return f"Database({redact_url(self.url)!r})"

    @contextlib.contextmanager
    def connection(self, *, autocommit: bool = False, dict_rows: bool = False) -> Iterator[psycopg.Connection]:
        """Commit on success, roll back on error, always close."""
        conn = connect(self.url, autocommit=autocommit, row_factory=dict_row if dict_rows else None)
        try:
            yield conn
            if not autocommit:
                conn.commit()
        except BaseException:
            if not autocommit:
                conn.rollback()
            raise
        finally:
            conn.close()

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` with alembic."""
        from alembic import command

        command.upgrade(alembic_config(self.url), revision)

    def current_revision(self) -> str | None:
        with self.connection() as conn:
            exists = conn.execute("SELECT to_regclass('public.alembic_version')").fetchone()[0]
            if exists is None:
                return None
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            return row[0] if row else None


def alembic_config(url: str):
    from alembic.config import Config

    from audiomuse.store.server import with_driver

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolates '%': escape it (URL-encoded passwords contain it).
    cfg.set_main_option("sqlalchemy.url", with_driver(url, "psycopg").replace("%", "%%"))
    return cfg
