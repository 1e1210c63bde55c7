"""The artist cap, and the song lists that keep to it: alchemy, path, similar (the same rule)."""

from collections import Counter

import numpy as np
import pytest

from audiomuse.index import SimilarityIndex
from audiomuse.index.similar import similar_by_vector
from audiomuse.playlists.alchemy import song_alchemy
from audiomuse.playlists.artist_cap import (
    MAX_SONGS_PER_ARTIST,
    NO_CAP,
    ArtistCap,
    normalised_artist,
    row_identities,
    song_identities,
)
from audiomuse.playlists.path import find_path


@pytest.fixture(scope="module")
def library():
    """Two styles far apart, 60 songs each by 6 artists (10 songs per artist)."""
    rng = np.random.default_rng(3)
    ids, vecs, meta = [], [], {}
    for name in ("A", "B"):
        centre = rng.standard_normal(64) * 3
        for i in range(60):
            tid = f"{name}{i:02d}"
            ids.append(tid)
            vecs.append(centre + rng.standard_normal(64))
            meta[tid] = {"title": tid, "artist": f"{name} artist {i % 6}", "song_key": f"{name.lower()} artist|{tid}",
                         "canonical": tid}
    return SimilarityIndex.build(ids, np.array(vecs, np.float32)), meta


def per_artist(meta, ids) -> Counter:
    return Counter(normalised_artist(meta[t]["artist"]) for t in ids)


def test_cap_counts_normalised_artists_and_refuses_the_same_song():
    cap = ArtistCap(2)
    assert cap.admit("The Cure", song_identities("t1", "cure|lovesong"))
    assert cap.admit("  the  CURE ", song_identities("t2", "cure|friday"))
    assert not cap.admit("The Cure", song_identities("t3", "cure|pictures"))  # a third song by them
    assert not cap.admit("Other", song_identities("t9", "cure|lovesong"))  # same song key, another id
    assert not cap.admit("Other", song_identities("t1"))  # same canonical id
    assert cap.admit("Other", song_identities("t4", "|"))  # an empty song key identifies nothing
    assert row_identities("x", "The Cure", "Lovesong (Remastered)") & row_identities("y", "Cure", "Lovesong")


def test_no_cap_uncapped_artists_and_excluded_songs():
    none = ArtistCap(NO_CAP)
    assert all(none.admit("Solo", song_identities(f"t{i}")) for i in range(10))
    named = ArtistCap(1, uncapped_artists=["Solo"])
    assert all(named.admit("solo", song_identities(f"t{i}")) for i in range(5))
    assert named.admit("Other", song_identities("o1")) and not named.admit("Other", song_identities("o2"))
    cap = ArtistCap(1)
    cap.exclude(song_identities("seed"))
    assert not cap.admit("Seed Artist", song_identities("seed"))
    assert cap.admit("Seed Artist", song_identities("other"))  # the excluded seed used no quota


def test_similar_keeps_to_the_cap(library):
    index, meta = library
    got = [t for t, _ in similar_by_vector(index, meta, index.vector("A00"), 12, max_per_artist=2)]
    assert len(got) == 12 and max(per_artist(meta, got).values()) == 2


@pytest.mark.parametrize("cap", [1, 2, MAX_SONGS_PER_ARTIST])
def test_alchemy_keeps_to_the_cap(library, cap):
    index, meta = library
    uncapped = [t for t, _ in song_alchemy(index, meta, ["A00"], n=30, temperature=0, max_per_artist=NO_CAP).results]
    assert max(per_artist(meta, uncapped).values()) > cap  # the cap has something to do
    for temperature in (0, 1.0):
        result = song_alchemy(index, meta, ["A00", "B00"], ["B01"], n=30, temperature=temperature, seed=1,
                              max_per_artist=cap)
        got = [t for t, _ in result.results]
        assert got and max(per_artist(meta, got).values()) <= cap
        assert len(got) == len(set(got))
    default = [t for t, _ in song_alchemy(index, meta, ["A00"], n=30, temperature=0).results]
    assert max(per_artist(meta, default).values()) <= MAX_SONGS_PER_ARTIST


def test_path_keeps_to_the_cap_and_its_endpoints(library):
    index, meta = library
    path = find_path(index, meta, "A00", "B00", 12, max_per_artist=2)
    ids = path.track_ids
    assert ids[0] == "A00" and ids[-1] == "B00" and path.complete
    assert max(per_artist(meta, ids).values()) <= 2  # the endpoints count for their artists
    assert len(set(ids)) == len(ids)


def test_path_keeps_its_endpoints_when_the_cap_leaves_no_room(library):
    index, meta = library
    solo = {t: {**info, "artist": "Solo"} for t, info in meta.items()}
    path = find_path(index, solo, "A00", "B00", 8, max_per_artist=1)
    assert path.track_ids == ["A00", "B00"]  # both by Solo: over the cap, still in
    assert "more than 1 songs by one artist" in path.reason
    assert find_path(index, solo, "A00", "B00", 8, max_per_artist=NO_CAP).complete
