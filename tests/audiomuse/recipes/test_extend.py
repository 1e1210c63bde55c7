"""The extend recipe on a small real Voyager index and a fake provider: the playlist's own songs
first in their order, then the centroid's nearest neighbours, under the artist cap, no song twice."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest

from audiomuse.index import SimilarityIndex
from audiomuse.playlists.artist_cap import ArtistCap, track_identities
from audiomuse.playlists.vectors import cosine_distance, weighted_centroid
from audiomuse.providers.base import ProviderError
from audiomuse.recipes.extend import build_extend
from audiomuse.recipes.model import Recipe, RecipeError

PLAYLIST = ["A03", "A00", "not-analysed", "A07", "A00", "A21"]  # A00 twice, one song without an embedding
ORIGINALS = ["A03", "A00", "not-analysed", "A07", "A21"]


@pytest.fixture(scope="module")
def library():
    """Two styles far apart, 60 songs each by 6 artists (10 each); A50 is A00 again (same song key,
    almost the same sound) under another id."""
    rng = np.random.default_rng(11)
    ids, vecs, meta = [], [], {}
    for name in ("A", "B"):
        centre = rng.standard_normal(64) * 3
        for i in range(60):
            tid = f"{name}{i:02d}"
            ids.append(tid)
            vecs.append(centre + rng.standard_normal(64))
            meta[tid] = {"title": tid, "artist": f"{name}-artist-{i % 6}", "album": name,
                         "song_key": f"{name.lower()}|{tid}", "canonical": tid}
    vecs[ids.index("A50")] = vecs[ids.index("A00")] + rng.standard_normal(64) * 0.01
    meta["A50"] = {**meta["A50"], "song_key": meta["A00"]["song_key"], "artist": meta["A00"]["artist"]}
    return SimilarityIndex.build(ids, np.array(vecs, np.float32)), meta


class FakeProvider:
    def __init__(self, playlists: dict[str, list[str]]):
        self.playlists, self.calls = playlists, []

    def playlist_tracks(self, playlist_id: str, owner: str | None = None) -> list[str]:
        self.calls.append((playlist_id, owner))
        if playlist_id not in self.playlists:
            raise ProviderError("fake server", f"no playlist with id {playlist_id}")
        return list(self.playlists[playlist_id])


def _ctx(library, playlists, max_per_artist=2):
    index, meta = library
    return SimpleNamespace(db=None, index=index, metadata=meta, provider=FakeProvider(playlists),
                           max_per_artist=max_per_artist)


def _recipe(size=12, playlist_id="pl-1", owner="ann"):
    return Recipe(name="More of it", kind="extend", params={"playlist_id": playlist_id}, owner=owner, size=size)


def _expected(library, originals, size, per_artist):
    """By brute force: every other song by its distance to the centroid, through the cap."""
    index, meta = library
    centroid = weighted_centroid(np.stack([index.vector(t) for t in originals if t in index]))
    cap = ArtistCap(per_artist)
    for tid in originals:
        if tid in meta:
            cap.exclude(track_identities(meta, tid))
    ranked = sorted((t for t in meta if t not in originals), key=lambda t: cosine_distance(index.vector(t), centroid))
    return [t for t in ranked if cap.admit_track(meta, t)][:size]


def test_originals_first_in_order_then_the_centroids_neighbours(library):
    ctx = _ctx(library, {"pl-1": PLAYLIST})
    result = build_extend(_recipe(), ctx)
    assert ctx.provider.calls == [("pl-1", "ann")]  # read as the recipe's owner
    assert result[: len(ORIGINALS)] == ORIGINALS
    added = result[len(ORIGINALS):]
    assert added == _expected(library, ORIGINALS, 12, 2)
    assert len(added) == 12 and all(t.startswith("A") for t in added)  # the playlist's style


def test_added_songs_keep_the_cap_and_no_song_comes_twice(library):
    _, meta = library
    result = build_extend(_recipe(size=12), _ctx(library, {"pl-1": PLAYLIST}, max_per_artist=2))
    added = result[len(ORIGINALS):]
    assert len(set(result)) == len(result)
    assert "A50" not in added  # A00 under another id: the same song
    assert max(Counter(meta[t]["artist"] for t in added).values()) == 2  # 6 artists x 2 = 12
    uncapped = build_extend(_recipe(size=12), _ctx(library, {"pl-1": PLAYLIST}, max_per_artist=0))
    assert uncapped[len(ORIGINALS):] == _expected(library, ORIGINALS, 12, 0)
    assert "A50" not in uncapped and len(set(uncapped)) == len(uncapped)
    # the cap counts added songs only: a playlist full of one artist still grows
    one_artist = [t for t in meta if meta[t]["artist"] == "A-artist-0"][:5]
    grown = build_extend(_recipe(size=6), _ctx(library, {"pl-1": one_artist}, max_per_artist=1))
    assert grown[:5] == one_artist and len(grown) == 11
    assert sum(meta[t]["artist"] == "A-artist-0" for t in grown[5:]) <= 1


def test_size_bounds_the_added_songs(library):
    result = build_extend(_recipe(size=3), _ctx(library, {"pl-1": PLAYLIST}))
    assert result == ORIGINALS + _expected(library, ORIGINALS, 3, 2)


def test_a_playlist_without_analysed_songs_is_a_clear_recipe_error(library):
    ctx = _ctx(library, {"raw": ["x1", "x2"], "empty": []})
    with pytest.raises(RecipeError, match="playlist raw has none of its 2 songs analysed") as err:
        build_extend(_recipe(playlist_id="raw"), ctx)
    assert isinstance(err.value, ValueError)
    with pytest.raises(RecipeError, match="playlist empty is empty"):
        build_extend(_recipe(playlist_id="empty"), ctx)
    with pytest.raises(RecipeError, match="needs the server playlist"):
        build_extend(Recipe(name="x", kind="extend", params={}), ctx)
    with pytest.raises(ProviderError, match="fake server: no playlist with id gone"):
        build_extend(_recipe(playlist_id="gone"), ctx)
