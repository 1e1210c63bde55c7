"""The sonicSimilarity core: its answers in XML, id mapping through the catalog, answers
from the stored index (real PostgreSQL, a real Voyager index over synthetic embeddings)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from audiomuse import media, sonic
from audiomuse.index import SimilarityIndex
from audiomuse.index.persist import save_index
from audiomuse.media import Album, Track
from audiomuse.sonic import SonicLibrary
from audiomuse.store import catalog as catalog_store
from audiomuse.subsonic_protocol import NOT_FOUND, ServerInfo, SubsonicError, ok_body, render

NS = "{http://subsonic.org/restapi}"


def test_sonic_method_names_in_any_case():
    assert sonic.is_sonic_method("getSonicSimilarTracks") and sonic.is_sonic_method("findsonicpath")
    assert not sonic.is_sonic_method("getSimilarSongs2")


def test_xml_sonic_matches_nest_the_entry_and_escape_text():
    songs = {"1": {"id": "1", "title": 'Rock & "Roll" <live>', "isDir": False, "genres": [{"name": "a"}, {"name": "b"}],
                   "moods": ["calm", "dark"]}}
    body = ok_body(ServerInfo(), {"sonicMatch": sonic.sonic_matches([("1", 0.91234), ("gone", 0.5)], songs)})
    content, ctype = render(body, None)
    assert ctype == "application/xml"
    root = ET.fromstring(content)
    assert root.tag == NS + "subsonic-response" and root.get("status") == "ok" and root.get("openSubsonic") == "true"
    (match,) = root.findall(NS + "sonicMatch")  # the id without a song object is dropped
    assert match.get("similarity") == "0.9123"
    entry = match.find(NS + "entry")
    assert entry.get("title") == 'Rock & "Roll" <live>' and entry.get("isDir") == "false"
    assert [g.get("name") for g in entry.findall(NS + "genres")] == ["a", "b"]
    assert [m.text for m in entry.findall(NS + "moods")] == ["calm", "dark"]


def test_extension_is_added_once_beside_the_upstreams():
    upstream = {"status": "ok", "version": "1.16.1", "openSubsonicExtensions": [{"name": "formPost", "versions": [1]}]}
    once = sonic.with_extension(upstream)
    assert once["openSubsonicExtensions"] == [{"name": "formPost", "versions": [1]}, sonic.EXTENSION]
    assert sonic.with_extension(once)["openSubsonicExtensions"] == once["openSubsonicExtensions"]


def test_similarity_is_one_for_identical():
    assert sonic.similarity(0.0) == 1.0 and sonic.similarity(0.25) == 0.75
    assert sonic.similarity(1.7) == 0.0 and sonic.similarity(-1e-7) == 1.0


# The library, on a real database -------------------------------------------------------------------
N, ANALYSED = 60, 50


def _vectors(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((4, 200)) * 3
    return (centres[np.arange(N) % 4] + rng.standard_normal((N, 200))).astype(np.float32)


def _ids() -> list[str]:
    return [f"sv-{i:03d}" for i in range(N)]


@pytest.fixture
def stored(db):
    """A catalog of N tracks (distinct artists), the first ANALYSED in a stored index."""
    ids = _ids()
    with db.connection() as conn:
        catalog_store.upsert_albums(conn, [Album("al-1", "Album", "Various")])
        catalog_store.upsert_tracks(conn, "al-1", [
            Track(tid, "al-1", f"Song {i}", f"Artist {i}", "Album", 180.4 + i, "flac", i + 1)
            for i, tid in enumerate(ids)])
    vectors = _vectors(1)
    save_index(db, SimilarityIndex.build(ids[:ANALYSED], vectors[:ANALYSED]), {})
    return db, vectors


@pytest.fixture
def library(stored):
    """A SonicLibrary over ``stored`` that checks the index's checksum on every call."""
    lib = SonicLibrary(stored[0], check_interval=0)
    yield lib
    lib.close()


def _brute_nearest(vectors: np.ndarray, i: int, k: int) -> list[int]:
    unit = vectors[:ANALYSED] / np.linalg.norm(vectors[:ANALYSED], axis=1, keepdims=True)
    sims = unit @ unit[i]
    return [int(j) for j in np.argsort(-sims) if j != i][:k]


def test_similar_matches_brute_force_and_reports_cosine(stored, library):
    _, vectors = stored
    got = library.similar("sv-007", 5)
    assert [t for t, _ in got] == [f"sv-{j:03d}" for j in _brute_nearest(vectors, 7, 5)]
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    for tid, sim in got:
        assert sim == pytest.approx(float(unit[7] @ unit[int(tid[3:])]), abs=1e-4)
    assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)


def test_path_runs_from_start_to_end(library):
    path = library.path("sv-000", "sv-001", 8)
    ids = [t for t, _ in path]
    assert ids[0] == "sv-000" and ids[-1] == "sv-001" and len(ids) == 8 and len(set(ids)) == 8
    assert path[0][1] == 1.0 and all(0.0 <= s <= 1.0 for _, s in path)
    assert library.path("sv-003", "sv-003", 5) == [("sv-003", 1.0)]


def test_ids_map_through_the_catalog_with_clear_not_found(library):
    with pytest.raises(SubsonicError) as err:
        library.similar("sv-055")  # in the catalog, not analysed
    assert err.value.code == NOT_FOUND and "not been analysed" in err.value.message
    with pytest.raises(SubsonicError) as err:
        library.path("sv-000", "nope")
    assert err.value.code == NOT_FOUND and "not in AudioMuse's catalog" in err.value.message


def test_no_index_yet_is_not_found(db):
    library = SonicLibrary(db)
    try:
        with pytest.raises(SubsonicError) as err:
            library.similar("x")
        assert err.value.code == NOT_FOUND and "no similarity index" in err.value.message
    finally:
        library.close()


def test_index_reloads_when_the_stored_checksum_changes(stored):
    db, _ = stored
    library = SonicLibrary(db, check_interval=0)
    throttled = SonicLibrary(db, check_interval=3600)
    try:
        before = library.similar("sv-010", 5)
        assert throttled.similar("sv-010", 5) == before
        first = library.current()
        new_vectors = _vectors(2)
        save_index(db, SimilarityIndex.build(_ids(), new_vectors), {})
        after = library.similar("sv-010", 5)
        assert library.current() is not first and len(library.current().index) == N
        assert after != before and [t for t, _ in after] == [
            f"sv-{j:03d}" for j in _nearest_all(new_vectors, 10, 5)]
        assert library.similar("sv-055", 3)  # analysed now
        assert throttled.similar("sv-010", 5) == before  # checked at most once per interval
    finally:
        library.close()
        throttled.close()


def _nearest_all(vectors: np.ndarray, i: int, k: int) -> list[int]:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return [int(j) for j in np.argsort(-(unit @ unit[i])) if j != i][:k]


def test_catalog_songs_are_subsonic_children(stored):
    db, _ = stored
    library = SonicLibrary(db)
    try:
        songs = library.catalog_songs(["sv-002", "missing", "sv-002"])
    finally:
        library.close()
    assert list(songs) == ["sv-002"]
    # stored without the server's fields: the catalog's, and no parent (AudioMuse's album id is no folder id)
    assert songs["sv-002"] == {"id": "sv-002", "isDir": False, "title": "Song 2", "album": "Album",
                               "artist": "Artist 2", "type": "music", "isVideo": False, "albumId": "al-1",
                               "mediaType": "song", "track": 3, "duration": 182, "suffix": "flac"}


SERVER = {"id": "sv-002", "parent": "folder-9", "albumId": "al-1", "artistId": "ar-7", "coverArt": "folder-9",
          "contentType": "audio/flac", "suffix": "flac", "size": 123456, "bitRate": 900, "duration": 182,
          "path": "Artist 2/Album/03 - Song 2.flac", "track": 3, "discNumber": 1, "title": "Song 2",
          "album": "Album", "artist": "Artist 2", "isDir": False, "type": "music", "created": "2026-01-01T00:00:00"}


def test_catalog_songs_carry_the_servers_stored_fields(stored):
    db, _ = stored
    with db.connection() as conn:
        catalog_store.upsert_tracks(conn, "al-1", [
            Track("sv-002", "al-1", "Song 2", "Artist 2", "Album", 182.4, "flac", 3,
                  server_song=media.server_song({**SERVER, "starred": None, "genres": [{"name": "x"}]}))])
    library = SonicLibrary(db)
    try:
        song = library.catalog_songs(["sv-002"])["sv-002"]
    finally:
        library.close()
    assert song == {**SERVER, "isVideo": False, "mediaType": "song"}  # only scalars were kept


def test_server_ids_win_over_the_catalogs():
    row = {"id": "t1", "album_id": "al-1", "title": "Catalog title", "artist": "A", "album": "B", "duration": 10.2,
           "file_format": "mp3", "track_number": 2,
           "server_song": {"id": "other", "parent": "dir-3", "albumId": "id3-al", "artistId": "id3-ar",
                           "coverArt": "cov", "contentType": "audio/mpeg", "size": 5}}
    child = sonic.catalog_child(row)
    assert child["id"] == "t1"  # the catalog's id is the one asked for
    assert (child["parent"], child["albumId"], child["artistId"], child["coverArt"]) == ("dir-3", "id3-al", "id3-ar",
                                                                                         "cov")
    assert child["title"] == "Catalog title" and child["duration"] == 10 and child["suffix"] == "mp3"
    as_pairs = sonic.catalog_child({**row, "server_song": media.server_song(row["server_song"])})
    assert as_pairs == child
    assert "parent" not in sonic.catalog_child({**row, "server_song": None})


def test_a_dropped_connection_is_reopened(library):
    library.similar("sv-001", 2)
    library._conn.close()
    assert library.catalog_songs(["sv-001"])["sv-001"]["title"] == "Song 1"
