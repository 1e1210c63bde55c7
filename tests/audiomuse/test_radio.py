"""Sonic radio: song, album and artist seeds, leaving the seed, the artist cap, no loops in a session."""

from collections import Counter

import numpy as np
import pytest

from audiomuse.index import SimilarityIndex
from audiomuse.playlists.artist_cap import normalised_artist
from audiomuse.radio import RadioSessions, candidates, group_seed, next_songs, radio, song_seed


@pytest.fixture(scope="module")
def library():
    """Three styles far apart; 40 songs each by 8 artists, 4 albums per style (10 songs each)."""
    rng = np.random.default_rng(11)
    ids, vecs, meta, albums = [], [], {}, {}
    for style in ("A", "B", "C"):
        centre = rng.standard_normal(48) * 4
        for i in range(40):
            tid = f"{style}{i:02d}"
            ids.append(tid)
            vecs.append(centre + rng.standard_normal(48))
            meta[tid] = {"title": tid, "artist": f"{style} artist {i % 8}", "song_key": f"{style}|{tid}",
                         "canonical": tid}
            albums.setdefault(f"{style}-album-{i // 10}", []).append(tid)
    return SimilarityIndex.build(ids, np.array(vecs, np.float32)), meta, albums


def artists_of(meta, ids):
    return Counter(normalised_artist(meta[t]["artist"]) for t in ids)


def test_song_radio_leaves_out_the_seed_keeps_to_its_style_and_the_cap(library):
    index, meta, _ = library
    songs = candidates(index, meta, song_seed("A05"), 20, max_per_artist=2)
    assert len(songs) == 20 and "A05" not in songs
    assert all(t.startswith("A") for t in songs[:16])  # 8 artists of style A x 2, then other styles
    assert not any(t.startswith("A") for t in songs[16:])
    assert max(artists_of(meta, songs).values()) == 2


def test_album_radio_starts_from_other_albums(library):
    index, meta, albums = library
    seed = group_seed("album", "A-album-1", albums["A-album-1"], meta)
    songs = candidates(index, meta, seed, 24, max_per_artist=3)
    own = [i for i, t in enumerate(songs) if t in albums["A-album-1"]]
    assert len(songs) == 24 and all(t.startswith("A") for t in songs)
    assert own and own == list(range(len(songs) - len(own), len(songs)))  # the album's own songs last


def test_artist_radio_plays_other_artists_first(library):
    index, meta, _ = library
    tracks = [t for t in meta if meta[t]["artist"] == "B artist 3"]
    seed = group_seed("artist", "artist-B3", tracks, meta)
    songs = candidates(index, meta, seed, 22, max_per_artist=3)
    by_seed_artist = [i for i, t in enumerate(songs) if meta[t]["artist"] == "B artist 3"]
    assert by_seed_artist == list(range(len(songs) - 3, len(songs)))  # capped, and only at the end
    assert all(t.startswith("B") for t in songs[:8])


def test_next_songs_repeats_only_when_nothing_else_is_left():
    pool = ["a", "b", "c", "d"]
    assert next_songs(pool, 2, {"a"}) == ["b", "c"]
    assert next_songs(pool, 3, {"a", "b", "c"}) == ["d", "a", "b"]


def test_consecutive_radio_calls_are_disjoint_per_listener_and_seed(library):
    index, meta, _ = library
    sessions = RadioSessions()
    seed = song_seed("C10")
    first = radio(index, meta, seed, 10, listener="ann", sessions=sessions, max_per_artist=0)
    second = radio(index, meta, seed, 10, listener="ann", sessions=sessions, max_per_artist=0)
    assert len(first) == len(second) == 10 and not set(first) & set(second)
    assert all(t.startswith("C") for t in first + second)  # still the nearest songs, not random ones
    # another listener, or another seed, starts afresh
    assert radio(index, meta, seed, 10, listener="bob", sessions=sessions, max_per_artist=0) == first
    other = radio(index, meta, song_seed("C11"), 10, listener="ann", sessions=sessions, max_per_artist=0)
    assert set(other) & set(first + second)


def test_a_session_ends_and_the_radio_starts_again(library):
    index, meta, _ = library
    sessions = RadioSessions(ttl=0.0)
    seed = song_seed("A01")
    first = radio(index, meta, seed, 5, listener="ann", sessions=sessions)
    assert radio(index, meta, seed, 5, listener="ann", sessions=sessions) == first


def test_sessions_are_bounded():
    sessions = RadioSessions(max_sessions=3)
    for i in range(5):
        sessions.remember(f"user{i}", song_seed("x"), [f"t{i}"])
    assert sessions.returned("user0", song_seed("x")) == set()
    assert sessions.returned("user4", song_seed("x")) == {"t4"}
