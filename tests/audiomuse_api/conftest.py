"""Fixtures for the Subsonic front: real supysonic on the small sample library, its catalog synced
and partly analysed by the real pipeline into a real PostgreSQL, and the front served by uvicorn."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from audiomuse.config import Settings
from audiomuse.store import Database
from audiomuse.store.server import with_database
from tests.audiomuse.providers.conftest import PASSWORD, USER, small_library, supysonic_sample  # noqa: F401
from tests.conftest import create_database, drop_database
from tests.servers import free_port

ANALYSED_ALBUMS = 4  # of the 15 in the small library: the rest stay "not analysed yet"


@pytest.fixture(scope="session")
def sonic_library(supysonic_sample, pg_admin_url, migrated_template, tmp_path_factory):
    """(Database, analysed track ids, not-analysed track ids) for supysonic's library: catalog
    synced from the server, a few albums analysed (model results cached), index built."""
    from audiomuse.analysis.album import analyse_album
    from audiomuse.artifact_builds import build_similarity_index
    from audiomuse.catalog import refresh_catalog
    from audiomuse.providers.subsonic import SubsonicProvider
    from tests.analysed import CachedAnalyser, cached_results

    url, music = supysonic_sample
    name = create_database(pg_admin_url, template=migrated_template)
    db = Database(with_database(pg_admin_url, name))
    provider = SubsonicProvider(url, USER, PASSWORD, retries=1)
    try:
        refresh_catalog(provider, db)
        albums = _spread_albums(provider.newest_albums(), ANALYSED_ALBUMS)
        files = [p for a in albums for p in _album_files(music, a)]
        analyser = CachedAnalyser(cached_results(files))
        for album in albums:
            analyse_album(album.id, provider, db, analyser, progress=lambda m: None)
        build_similarity_index(db)
        with db.connection() as conn:
            analysed = [r[0] for r in conn.execute("SELECT track_id FROM embedding ORDER BY track_id")]
            pending = [r[0] for r in conn.execute(
                "SELECT id FROM tracks WHERE id NOT IN (SELECT track_id FROM embedding) ORDER BY id")]
    finally:
        provider.close()
    assert len(analysed) >= 10 and pending, (len(analysed), len(pending))
    yield db, analysed, pending
    drop_database(pg_admin_url, name)


def _spread_albums(albums, n):
    """``n`` albums of different artists (so, in this library, of different styles)."""
    chosen, artists = [], set()
    for album in sorted(albums, key=lambda a: (a.artist, a.name)):
        if album.artist not in artists:
            chosen.append(album)
            artists.add(album.artist)
    return chosen[::max(1, len(chosen) // n)][:n]


def _album_files(music: Path, album) -> list[Path]:
    """The album's files by the library manifest (to fill the model-result cache up front)."""
    tracks = json.loads((music / "manifest.json").read_text())["tracks"]
    return [music / t["path"] for t in tracks if t["album"] == album.name]


class ServedApp:
    """An ASGI app served by uvicorn on a free loopback port in a thread."""

    def __init__(self, app):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, access_log=False,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the Subsonic front did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)


def front_settings(upstream: str, db: Database, tmp: Path) -> Settings:
    return Settings(media_server_type="subsonic", media_server_url=upstream, media_server_user=USER,
                    database_url=db.url, data_dir=tmp, http_retries=1)


@pytest.fixture(scope="session")
def sonic_front(supysonic_sample, sonic_library, tmp_path_factory):
    """(front URL, supysonic URL) with the front serving the analysed library."""
    from audiomuse_api import create_app

    db = sonic_library[0]
    app = create_app(front_settings(supysonic_sample[0], db, tmp_path_factory.mktemp("front")))
    with ServedApp(app) as served:
        yield served.url, supysonic_sample[0]


@pytest.fixture
def auth():
    return {"u": USER, "p": PASSWORD, "v": "1.12.0", "c": "tests"}


@pytest.fixture(scope="session")
def http():
    with httpx.Client(timeout=60) as client:
        yield client
