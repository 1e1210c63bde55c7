"""The server's own song fields in the catalog: written, refreshed, read back, and a server
artist's tracks found from them (real PostgreSQL)."""

from audiomuse.catalog import refresh_catalog
from audiomuse.media import Album, Track, server_song
from audiomuse.store import Database
from audiomuse.store import catalog
from tests.audiomuse.store.test_catalog_batch import InMemoryServer


def _song(tid: str, album_id: str, artist_id: str, disc: int = 1, number: int = 1, **extra) -> dict:
    return {"id": tid, "parent": f"dir-{album_id}", "albumId": album_id, "artistId": artist_id,
            "coverArt": f"dir-{album_id}", "contentType": "audio/flac", "suffix": "flac", "size": 1000 + number,
            "discNumber": disc, "track": number, "title": f"Song {tid}", **extra}


def _track(fields: dict, album_id: str, *, with_server: bool = True) -> Track:
    return Track(fields["id"], album_id, fields["title"], "Artist", "Album", 100.0, "flac", fields["track"],
                 server_song=server_song(fields) if with_server else None)


def _library(with_server: bool = True) -> dict[Album, list[Track]]:
    songs = {
        "a1": [_song("t1", "a1", "ar1", 1, 1), _song("t2", "a1", "ar1", 1, 2), _song("t3", "a1", "ar2", 1, 3)],
        # disc 10 sorts after disc 2 (numbers, not text)
        "a2": [_song("t4", "a2", "ar1", 10, 1), _song("t5", "a2", "ar1", 2, 1), _song("t6", "a2", "ar1", 2, 2)],
    }
    return {Album(aid, f"Album {aid}", "Artist"): [_track(s, aid, with_server=with_server) for s in listed]
            for aid, listed in songs.items()}


def test_server_song_is_stored_read_back_and_hashable(db: Database):
    library = _library()
    refresh_catalog(InMemoryServer(library), db)
    first = library[next(iter(library))]
    with db.connection() as conn:
        read = catalog.album_tracks(conn, "a1")
        stored = conn.execute("SELECT server_song FROM tracks WHERE id = 't1'").fetchone()[0]
    assert read == first  # the same Track, server fields included
    assert len({*read, *first}) == 3  # Tracks stay hashable
    assert stored == _song("t1", "a1", "ar1", 1, 1)


def test_a_refresh_fills_rows_stored_without_server_fields_and_only_scalars_are_kept(db: Database):
    refresh_catalog(InMemoryServer(_library(with_server=False)), db)  # as stored before migration 0004
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM tracks WHERE server_song IS NULL").fetchone()[0] == 6
        assert catalog.tracks_of_server_artist(conn, "ar1") == []
        conn.execute("UPDATE tracks SET analysed_at = now() WHERE id = 't1'")
    refresh_catalog(InMemoryServer(_library()), db)
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM tracks WHERE server_song IS NULL").fetchone()[0] == 0
        assert conn.execute("SELECT analysed_at IS NOT NULL FROM tracks WHERE id = 't1'").fetchone()[0]
        changed = _song("t1", "a1", "ar1", 1, 1, size=5, genres=[{"name": "x"}], starred=None)
        catalog.upsert_tracks(conn, "a1", [_track(changed, "a1")])
        assert conn.execute("SELECT server_song FROM tracks WHERE id = 't1'").fetchone()[0] == _song(
            "t1", "a1", "ar1", 1, 1, size=5)


def test_tracks_of_a_server_artist_and_of_an_album(db: Database):
    refresh_catalog(InMemoryServer(_library()), db)
    with db.connection() as conn:
        assert catalog.tracks_of_server_artist(conn, "ar1") == ["t1", "t2", "t5", "t6", "t4"]
        assert catalog.tracks_of_server_artist(conn, "ar2") == ["t3"]
        assert catalog.tracks_of_server_artist(conn, "nobody") == []
        assert catalog.tracks_of_album(conn, "a2") == ["t5", "t6", "t4"]
        assert catalog.tracks_of_album(conn, "a1") == ["t1", "t2", "t3"]
        conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN SELECT id FROM tracks WHERE server_song->>'artistId' = %s", ("ar1",)))
    assert "tracks_server_artist_idx" in plan
