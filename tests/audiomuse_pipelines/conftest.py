"""Dagster tests run on a PostgreSQL-backed instance, like production."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import dagster as dg
import pytest

from audiomuse.config import get_settings
from audiomuse.store.server import with_database, with_driver
from audiomuse_pipelines.defs.resources import (
    AnalysisResource,
    DatabaseResource,
    IndexResource,
    LLMResource,
    MediaServerResource,
    SyncRemoteResource,
)
from tests.conftest import create_database, drop_database
from tests.signals import tone, write_wav

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_current_defs_state_storage():
    """Every test starts and ends with no current defs-state storage.

    Dagster keeps "the current DefsStateStorage" in a process-wide ContextVar that an instance sets
    when entered (a generator context manager) and resets by token on exit. An instance entered and
    never exited resets it whenever the garbage collector closes that generator, to the value of
    its time, which points at a gone instance; the next Definitions load in the same worker process
    (any `dg.materialize`) then fails with "undefined DagsterInstance weakref". So the collector runs
    here first (such leftovers reset now, not in the middle of this test's setup), then the value
    is cleared.
    """
    import gc

    from dagster._core.storage.defs_state.base import _current_storage

    gc.collect()
    _current_storage.set(None)
    yield
    _current_storage.set(None)


@pytest.fixture
def dagster_instance(pg_admin_url):
    name = create_database(pg_admin_url)
    url = with_driver(with_database(pg_admin_url, name), "psycopg2")
    with dg.instance_for_test(overrides={"storage": {"postgres": {"postgres_url": url}}}) as instance:
        yield instance
    drop_database(pg_admin_url, name)


def write_album(root: Path, artist: str, album: str, titles: list[str], seconds: float = 2.0) -> None:
    import mutagen

    for i, title in enumerate(titles, 1):
        path = write_wav(root / artist / album / f"{i:02d} - {title}.flac", tone((220.0 * i,), seconds))
        tags = mutagen.File(path, easy=True)
        tags.update({"artist": artist, "albumartist": artist, "album": album, "title": title,
                     "tracknumber": str(i)})
        tags.save()


@pytest.fixture
def music_dir(tmp_path) -> Path:
    root = tmp_path / "music"
    write_album(root, "Alpha", "First Light", ["Dawn", "Noon"])
    write_album(root, "Beta", "Second Wind", ["Gale", "Breeze", "Calm"])
    return root


@pytest.fixture
def resources(db, music_dir) -> dict[str, dg.ConfigurableResource]:
    """Every resource configured in code for the test database and a local music folder, as a
    deployment would configure them; no environment variable involved."""
    return {
        "database": DatabaseResource(url=db.url),
        "media_server": MediaServerResource(type="local", music_dir=str(music_dir)),
        "analysis": AnalysisResource(recent_albums=0, threads=1, patch_hop=187),
        "index": IndexResource(),
        "llm": LLMResource(provider="none"),
        "sync_remote": SyncRemoteResource(accept_policy=False),
    }


@pytest.fixture
def app_env(monkeypatch, db, music_dir, tmp_path):
    """The environment production processes read, for the code server and run workers a test
    starts (they load the code location the way the webserver and daemon do)."""
    monkeypatch.setenv("AUDIOMUSE_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv("AUDIOMUSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MEDIA_SERVER_TYPE", "local")
    monkeypatch.setenv("MUSIC_DIR", str(music_dir))
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()


@pytest.fixture
def production_instance(pg_admin_url, tmp_path, monkeypatch):
    """The instance `make run` uses: DAGSTER_HOME holding the repo's dagster.yaml (PostgreSQL storage,
    run queue limits, analysis pool, run monitoring), on a fresh database of the test server."""
    name = create_database(pg_admin_url)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_URL", with_driver(with_database(pg_admin_url, name), "psycopg2"))
    instance = dg.DagsterInstance.get()
    try:
        yield instance
    finally:
        instance.dispose()
        drop_database(pg_admin_url, name)


@pytest.fixture
def workspace(production_instance, app_env):
    """The workspace.yaml code location in its own gRPC server, as the webserver and daemon load it
    (started after app_env so the server and its run workers see the test's settings); its run
    workers are real processes (the default run launcher)."""
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    target = WorkspaceFileTarget(paths=[str(ROOT / "workspace.yaml")])
    with WorkspaceProcessContext(production_instance, target) as context:
        entries = context.get_current_workspace().code_location_entries
        assert {name: e.load_error for name, e in entries.items()} == {"audiomuse": None}
        yield context
        # The code server forgets a finished run only on its next cleanup tick, which reads the
        # instance: let it, before the database goes, or the server never shuts down.
        location = context.create_request_context().get_code_location("audiomuse")
        for _ in range(120):
            if not location.get_current_runs():
                break
            time.sleep(0.5)
