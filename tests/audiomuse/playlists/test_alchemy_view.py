"""Alchemy's 2-D view: stored map first, then the spec's projection order for songs the map lacks."""

import numpy as np
import pytest

from audiomuse.index import SimilarityIndex
from audiomuse.music_map import pca_2d
from audiomuse.playlists.alchemy import PROJECTION_ORDER, alchemy_view, local_projection, song_alchemy
from audiomuse.playlists.vectors import unit


@pytest.fixture(scope="module")
def library():
    """Three styles, 40 songs each, well apart; a global PCA of them stands in for the stored map."""
    rng = np.random.default_rng(11)
    ids, vecs, meta = [], [], {}
    for name in "ABC":
        centre = rng.standard_normal(200) * 3
        for i in range(40):
            tid = f"{name}{i:02d}"
            ids.append(tid)
            vecs.append(centre + rng.standard_normal(200))
            meta[tid] = {"title": tid, "artist": f"{name}-{i % 10}", "album": name, "song_key": f"{name}|{tid}",
                         "canonical": tid, "duration": 200.0}
    vecs = np.array(vecs, np.float32)
    coords = pca_2d(unit(vecs).astype(np.float64))
    stored = {t: (float(coords[i, 0]), float(coords[i, 1])) for i, t in enumerate(ids)}
    return SimilarityIndex.build(ids, vecs), meta, stored


def _set(index, add, sub):
    """Vectors and labels the way alchemy_view builds them: 1 = added seeds, 0 = subtracted."""
    ids = [*add, *sub]
    vectors = np.stack([index.vector(t) for t in ids])
    add_c, sub_c = unit(vectors[: len(add)].mean(0)), unit(vectors[len(add):].mean(0)) if sub else None
    return vectors, np.array([1] * len(add) + [0] * len(sub)), add_c, sub_c


def test_the_order_is_the_specs():
    assert PROJECTION_ORDER == ("aligned", "discriminant", "umap", "pca")


def test_aligned_comes_first_and_puts_add_to_subtract_along_x(library):
    index, _, _ = library
    add, sub = [f"A{i:02d}" for i in range(6)], [f"C{i:02d}" for i in range(6)]
    vectors, labels, add_c, sub_c = _set(index, add, sub)
    coords, method = local_projection(vectors, labels, add_c, sub_c)
    assert method == "aligned"
    assert coords[:6, 0].max() < coords[6:, 0].min()  # every added song left of every subtracted one


def test_discriminant_when_add_and_subtract_give_no_axis(library):
    """Subtracting the very songs you add leaves no add -> subtract direction: next in line."""
    index, _, _ = library
    add = [f"A{i:02d}" for i in range(6)] + [f"B{i:02d}" for i in range(6)]
    vectors, _, add_c, _ = _set(index, add, [])
    labels = np.array([1] * 6 + [0] * 6)  # A near the add side, B filtered out
    coords, method = local_projection(vectors, labels, add_c, add_c.copy())
    assert method == "discriminant"
    assert coords[:6, 0].min() > coords[6:, 0].max()  # the discriminant separates the two groups on x


def test_pca_for_a_small_set_without_subtract(library):
    index, _, _ = library
    vectors, labels, add_c, sub_c = _set(index, [f"A{i:02d}" for i in range(10)] + ["C00", "C01"], [])
    coords, method = local_projection(vectors, labels, add_c, sub_c)
    assert method == "pca" and coords.shape == (12, 2)
    assert np.linalg.norm(coords[10:].mean(0) - coords[:10].mean(0)) > coords[:10].std(0).max()


def test_umap_is_skipped_when_left_out_of_the_order(library):
    index, _, _ = library
    vectors, labels, add_c, _ = _set(index, [f"{s}{i:02d}" for s in "AB" for i in range(40)], [])
    _, method = local_projection(vectors, labels, add_c, None, order=("aligned", "discriminant", "pca"))
    assert method == "pca"


@pytest.mark.slow  # numba compiles UMAP on first use
def test_umap_for_a_large_set_without_subtract(library):
    index, _, _ = library
    ids = [f"{s}{i:02d}" for s in "AB" for i in range(40)]
    vectors, labels, add_c, _ = _set(index, ids, [])
    coords, method = local_projection(vectors, labels, add_c, None)
    assert method == "umap"
    a, b = coords[:40], coords[40:]
    assert np.linalg.norm(a.mean(0) - b.mean(0)) > 2 * max(a.std(0).max(), b.std(0).max())


def test_view_uses_the_stored_map_when_it_has_every_song(library):
    index, meta, stored = library
    result = song_alchemy(index, meta, ["A01", "A02"], ["B01"], n=20, temperature=0)
    view = alchemy_view(index, result, stored)
    assert view.method == "stored" and view.missing_from_map == 0
    assert all(view.coords[t] == stored[t] for t in view.coords)
    want = np.mean([stored["A01"], stored["A02"]], axis=0)
    assert np.allclose(view.add_centroid, want) and np.allclose(view.subtract_centroid, stored["B01"])


def test_view_places_songs_missing_from_the_map_beside_their_style(library):
    index, meta, stored = library
    result = song_alchemy(index, meta, ["A01", "A02"], ["B01"], n=30, temperature=0)
    lacking = [t for t, _ in result.results[:3]]
    assert all(t.startswith("A") for t in lacking)
    partial = {t: xy for t, xy in stored.items() if t not in lacking}
    view = alchemy_view(index, result, partial)
    assert view.method == "stored+aligned" and view.missing_from_map == 3
    assert all(view.coords[t] == stored[t] for t in view.coords if t not in lacking)  # map points do not move
    centres = {s: np.mean([xy for t, xy in stored.items() if t.startswith(s)], axis=0) for s in "ABC"}
    for t in lacking:
        nearest = min(centres, key=lambda s: np.linalg.norm(np.array(view.coords[t]) - centres[s]))
        assert nearest == "A", (t, view.coords[t], centres)


def test_view_without_a_map_projects_everything_locally(library):
    index, meta, _ = library
    result = song_alchemy(index, meta, ["A01"], ["C01"], n=15, temperature=0)
    view = alchemy_view(index, result, None)
    assert view.method == "aligned"
    assert set(view.coords) == {"A01", "C01", *(t for t, _ in result.results), *(t for t, _ in result.filtered_out)}
