"""Batched catalog writes: the same rows as one upsert per album, with progress kept on failure."""

from datetime import datetime, timedelta, timezone

import pytest

from audiomuse.catalog import refresh_catalog
from audiomuse.media import Album, Track
from audiomuse.providers.base import ProviderError
from audiomuse.store import Database
from audiomuse.store import catalog
from audiomuse.text import song_key

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


class InMemoryServer:
    """A media server's two catalog calls over fixed data; some albums fail, one may crash."""

    kind = "memory"

    def __init__(self, albums: dict[Album, list[Track]], failing=(), crash_at: str | None = None):
        self.albums, self.failing, self.crash_at = albums, set(failing), crash_at

    def newest_albums(self, limit: int = 0):
        listed = list(self.albums)
        return listed[:limit] if limit else listed

    def album_tracks(self, album_id: str):
        if album_id == self.crash_at:
            raise RuntimeError("server process died")
        if album_id in self.failing:
            raise ProviderError("memory", f"album {album_id} unreadable")
        return next(tracks for a, tracks in self.albums.items() if a.id == album_id)


def _library(n_albums: int, tracks_per_album: int = 3, title_prefix: str = "Song") -> dict[Album, list[Track]]:
    out = {}
    for j in range(n_albums):
        album = Album(f"a{j}", f"Album {j}", f"Artist {j % 2}", 2000 + j, START - timedelta(days=j))
        out[album] = [Track(f"t{j}-{k}", album.id, f"{title_prefix} {j}.{k} (Remastered)", album.artist, album.name,
                            180.0 + k, "flac", k + 1) for k in range(tracks_per_album)]
    return out


def _reference_refresh(provider, db: Database) -> None:
    """What refresh_catalog did before batching: one connection and one upsert per album."""
    albums = provider.newest_albums()
    with db.connection() as conn:
        catalog.upsert_albums(conn, albums)
    for album in albums:
        try:
            tracks = provider.album_tracks(album.id)
        except ProviderError:
            continue
        with db.connection() as conn:
            catalog.upsert_tracks(conn, album.id, tracks)


def _state(db: Database) -> tuple[list, list]:
    with db.connection() as conn:
        albums = conn.execute(
            "SELECT id, name, artist, year, added_at, track_count FROM albums ORDER BY id").fetchall()
        tracks = conn.execute(
            """SELECT id, album_id, title, artist, album, duration, file_format, track_number, song_key,
                      analysed_at FROM tracks ORDER BY id""").fetchall()
    return albums, tracks


def test_batched_refresh_writes_what_one_upsert_per_album_wrote(pg_admin_url, migrated_template):
    from audiomuse.store.server import with_database
    from tests.conftest import create_database, drop_database

    library = _library(7)
    provider = InMemoryServer(library, failing={"a3"})
    names = [create_database(pg_admin_url, template=migrated_template) for _ in range(2)]
    try:
        batched, reference = (Database(with_database(pg_admin_url, n)) for n in names)
        result = refresh_catalog(provider, batched, batch_albums=2)
        _reference_refresh(provider, reference)
        assert _state(batched) == _state(reference)
        # and a second refresh over the first (updates, not inserts) stays identical too
        renamed = InMemoryServer(_library(7, title_prefix="Tune"), failing={"a5"})
        refresh_catalog(renamed, batched, batch_albums=3)
        _reference_refresh(renamed, reference)
        assert _state(batched) == _state(reference)
        albums, tracks = _state(batched)
    finally:
        for n in names:
            drop_database(pg_admin_url, n)
    assert result.failed_albums.keys() == {"a3"}
    assert result.tracks == 6 * 3
    assert result.new_album_ids == [f"a{j}" for j in range(7)]
    assert dict((a[0], a[5]) for a in albums)["a2"] == 3
    assert tracks[0][8] == song_key("Artist 0", "Tune 0.0 (Remastered)")


def test_progress_reports_each_stored_album_once_in_order(db: Database):
    calls = []
    refresh_catalog(InMemoryServer(_library(5), failing={"a1"}), db, progress=lambda i, n: calls.append((i, n)),
                 batch_albums=2)
    assert calls == [(1, 5), (3, 5), (4, 5), (5, 5)]


def test_a_crash_mid_refresh_keeps_the_albums_read_before_it(db: Database):
    """A failure the refresh does not handle propagates, after the tracks already read are stored."""
    library = _library(6)
    with pytest.raises(RuntimeError, match="died"):
        refresh_catalog(InMemoryServer(library, crash_at="a4"), db, batch_albums=3)
    with db.connection() as conn:
        stored = conn.execute("SELECT DISTINCT album_id FROM tracks ORDER BY 1").fetchall()
        counts = dict(conn.execute("SELECT id, track_count FROM albums").fetchall())
    assert [r[0] for r in stored] == ["a0", "a1", "a2", "a3"]
    assert counts["a3"] == 3 and counts["a4"] == 0


def test_reupsert_refreshes_last_seen_and_keeps_analysis_and_removed_tracks(db: Database):
    library = _library(2)
    with db.connection() as conn:
        catalog.upsert_albums(conn, library)
        catalog.upsert_album_tracks(conn, {a.id: t for a, t in library.items()})
        conn.execute("UPDATE tracks SET analysed_at = now() WHERE id = 't0-0'")
        conn.execute("UPDATE tracks SET last_seen = now() - interval '1 day'")
        conn.execute("UPDATE albums SET last_seen = now() - interval '1 day'")
    first = next(iter(library))
    with db.connection() as conn:
        # the server now lists album a0 without its last track, and album a1 twice
        new = catalog.upsert_albums(conn, [first, first, Album("a9", "New", "X")])
        written = catalog.upsert_album_tracks(conn, {"a0": library[first][:2]})
        stale_tracks = dict(conn.execute(
            "SELECT id, last_seen < now() - interval '1 hour' FROM tracks").fetchall())
        stale_albums = dict(conn.execute(
            "SELECT id, last_seen < now() - interval '1 hour' FROM albums").fetchall())
        analysed = conn.execute("SELECT analysed_at IS NOT NULL FROM tracks WHERE id = 't0-0'").fetchone()[0]
        count = conn.execute("SELECT track_count FROM albums WHERE id = 'a0'").fetchone()[0]
    assert new == ["a9"] and written == 2
    assert stale_tracks == {"t0-0": False, "t0-1": False, "t0-2": True,
                            "t1-0": True, "t1-1": True, "t1-2": True}
    assert stale_albums == {"a0": False, "a1": True, "a9": False}
    assert analysed
    assert count == 3  # a track the server stopped listing is kept (and counted), as before


def test_a_track_moved_to_a_later_album_in_the_same_batch_ends_there(db: Database):
    library = _library(2)
    a0, a1 = library
    moved = Track("t0-0", "a1", "Moved", "Artist 1", "Album 1")
    with db.connection() as conn:
        catalog.upsert_albums(conn, library)
        catalog.upsert_album_tracks(conn, {"a0": library[a0], "a1": [*library[a1], moved]})
        where = conn.execute("SELECT album_id, title FROM tracks WHERE id = 't0-0'").fetchone()
        counts = dict(conn.execute("SELECT id, track_count FROM albums").fetchall())
    assert where == ("a1", "Moved")
    assert counts == {"a0": 2, "a1": 4}
