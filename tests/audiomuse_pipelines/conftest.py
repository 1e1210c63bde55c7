"""Dagster tests run on a PostgreSQL-backed instance, like production."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from audiomuse.config import get_settings
from tests.conftest import create_database, drop_database
from tests.signals import tone, write_wav
from audiomuse.store.server import with_database, with_driver


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
def app_env(monkeypatch, db, music_dir, tmp_path):
    """Environment the resources read: the test database and a local music folder."""
    monkeypatch.setenv("AUDIOMUSE_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv("AUDIOMUSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MEDIA_SERVER_TYPE", "local")
    monkeypatch.setenv("MUSIC_DIR", str(music_dir))
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()
