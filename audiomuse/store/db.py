"""Connections and schema migrations.

psycopg 3 everywhere in the core; alembic (through SQLAlchemy's psycopg dialect) owns the schema.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from audiomuse.config import redact_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)

#: how long a Database that has connected before keeps trying while its server restarts
RECONNECT_SECONDS = 60.0
# libpq's words for a server that is stopping, starting or not listening (yet)
_RESTARTING = ("connection refused", "no such file or directory", "starting up", "shutting down",
               "in recovery mode", "server closed the connection", "terminating connection",
               "not yet accepting connections")


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


def _restarting(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(words in text for words in _RESTARTING)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class Database:
    """The app database at one URL: short-lived connections, migrations on demand.

    Once it has reached its server, a Database waits up to ``reconnect_seconds`` for a server that
    restarts (refused, starting up, shutting down) before it gives up; a server never reached
    fails at once, so a wrong URL is reported without delay. A connection lost in the middle of
    a transaction is not replayed: that transaction rolls back and its error propagates."""

    def __init__(self, url: str, *, reconnect_seconds: float = RECONNECT_SECONDS):
        self.url = url
        self.reconnect_seconds = reconnect_seconds
        self._reached = False

    def __repr__(self) -> str:
        return f"Database({redact_url(self.url)!r})"

    def _connect(self, **kwargs) -> psycopg.Connection:
        deadline = time.monotonic() + (self.reconnect_seconds if self._reached else 0.0)
        delay = 0.25
        while True:
            try:
                conn = connect(self.url, **kwargs)
            except ConnectionError as exc:
                if not _restarting(exc) or time.monotonic() + delay > deadline:
                    raise
                log.warning("%s; retrying in %.2fs", exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            else:
                self._reached = True
                return conn

    @contextlib.contextmanager
    def connection(self, *, autocommit: bool = False, dict_rows: bool = False) -> Iterator[psycopg.Connection]:
        """Commit on success, roll back on error, always close."""
        conn = self._connect(autocommit=autocommit, row_factory=dict_row if dict_rows else None)
        try:
            yield conn
            if not autocommit:
                conn.commit()
        except BaseException:
            if not autocommit and not conn.broken:
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
