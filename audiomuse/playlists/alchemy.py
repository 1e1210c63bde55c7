"""Song alchemy: songs like the ones you add, unlike the ones you subtract.

The add centroid is the mean direction of the added songs; candidates near it are drawn from
the index, those within ``subtract_distance`` (cosine distance) of the subtract centroid are
filtered out (and returned, so the user sees what was excluded), and the rest are ordered by
distance, or sampled with a softmax when ``temperature`` > 0. Every candidate passes the artist cap
(:mod:`audiomuse.playlists.artist_cap`), so the results do too.

``alchemy_view`` gives the 2-D picture: the stored music map where it has the songs, else a local
projection in the spec's order (aligned add -> subtract, discriminant, UMAP, PCA).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from audiomuse.index.similar import similar_by_vector
from audiomuse.index.voyager_index import SimilarityIndex
from audiomuse.music_map import UMAP_MIN_TRACKS, pca_2d, umap_2d
from audiomuse.playlists.artist_cap import MAX_SONGS_PER_ARTIST
from audiomuse.playlists.vectors import unit, weighted_centroid


@dataclass
class AlchemyResult:
    results: list[tuple[str, float]]  # (track id, distance to the add centroid)
    filtered_out: list[tuple[str, float]]  # (track id, distance to the subtract centroid)
    add_centroid: np.ndarray
    subtract_centroid: np.ndarray | None
    add_ids: list[str] = field(default_factory=list)
    subtract_ids: list[str] = field(default_factory=list)


def song_alchemy(
    index: SimilarityIndex,
    metadata: dict[str, dict],
    add_ids: list[str],
    subtract_ids: list[str] = (),
    n: int = 100,
    *,
    subtract_distance: float = 0.2,
    temperature: float = 1.0,
    max_per_artist: int = MAX_SONGS_PER_ARTIST,
    seed: int | None = None,
) -> AlchemyResult:
    """Up to ``n`` songs near the add centroid and away from the subtract one; the candidates come
    from :func:`similar_by_vector`, so the results keep to the artist cap (``max_per_artist``, 0 = none)."""
    if not add_ids:
        raise ValueError("add at least one song")
    missing = [t for t in [*add_ids, *subtract_ids] if t not in index]
    if missing:
        raise KeyError(f"not in the similarity index (not analysed yet?): {', '.join(missing)}")
    add_c = weighted_centroid(np.stack([index.vector(t) for t in add_ids]))
    sub_c = weighted_centroid(np.stack([index.vector(t) for t in subtract_ids])) if subtract_ids else None
    pool = similar_by_vector(
        index, metadata, add_c, 4 * n, exclude=[*add_ids, *subtract_ids], max_per_artist=max_per_artist
    )
    kept, filtered = list(pool), []
    if sub_c is not None and pool:
        d_sub = 1.0 - unit(np.stack([index.vector(t) for t, _ in pool])) @ unit(sub_c)
        kept = [item for item, d in zip(pool, d_sub) if d >= subtract_distance]
        filtered = [(item[0], float(d)) for item, d in zip(pool, d_sub) if d < subtract_distance]
    return AlchemyResult(
        results=_choose(kept, n, temperature, seed), filtered_out=filtered, add_centroid=add_c,
        subtract_centroid=sub_c, add_ids=list(add_ids), subtract_ids=list(subtract_ids),
    )


def _choose(kept: list[tuple[str, float]], n: int, temperature: float, seed: int | None):
    """Top-n by distance, or a softmax draw without replacement when temperature > 0.

    Distances are scaled by their spread so that temperature 1.0 means "a strong preference for the
    nearest, with variety"; the chosen songs are returned nearest first.
    """
    if temperature <= 0 or len(kept) <= n:
        return kept[:n]
    d = np.array([dist for _, dist in kept])
    spread = max(float(d.std()), 1e-6)
    logits = -(d - d.min()) / (spread * temperature)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(kept), size=n, replace=False, p=p)
    return sorted((kept[i] for i in chosen), key=lambda item: item[1])


# --- 2-D view -------------------------------------------------------------------------------------
# Tracks already on the stored music map keep their map coordinates, so alchemy and the map look
# the same. Tracks missing from it (analysed since the map was built, or no map yet) get a local
# projection of the alchemy set, tried in the spec's preference order, fitted into the map's frame.

PROJECTION_ORDER = ("aligned", "discriminant", "umap", "pca")


@dataclass
class AlchemyView:
    coords: dict[str, tuple[float, float]]  # every seed, result and filtered-out track
    add_centroid: tuple[float, float]
    subtract_centroid: tuple[float, float] | None
    method: str  # "stored", a PROJECTION_ORDER entry, or "stored+<entry>" when both were needed
    missing_from_map: int = 0


def alchemy_view(
    index: SimilarityIndex,
    result: AlchemyResult,
    stored: dict[str, tuple[float, float]] | None = None,
    *,
    order: tuple[str, ...] = PROJECTION_ORDER,
) -> AlchemyView:
    """2-D positions for ``result``'s tracks and centroids; ``stored`` is the music map (id -> x, y)."""
    stored = stored or {}
    ids = list(dict.fromkeys([*result.add_ids, *result.subtract_ids, *(t for t, _ in result.results),
                              *(t for t, _ in result.filtered_out)]))
    missing = [t for t in ids if t not in stored]
    if not missing:
        coords, method = {t: tuple(map(float, stored[t])) for t in ids}, "stored"
    else:
        vectors = np.stack([index.vector(t) for t in ids])
        near_add = {*result.add_ids, *(t for t, _ in result.results)}
        labels = np.array([1 if t in near_add else 0 for t in ids])
        local, name = local_projection(vectors, labels, result.add_centroid, result.subtract_centroid, order=order)
        coords, method = _into_map_frame(ids, local, stored, name)
    return AlchemyView(coords, _mean_point(coords, result.add_ids), _mean_point(coords, result.subtract_ids),
                       method, len(missing))


def local_projection(
    vectors: np.ndarray,
    labels: np.ndarray,
    add_centroid: np.ndarray,
    subtract_centroid: np.ndarray | None,
    *,
    order: tuple[str, ...] = PROJECTION_ORDER,
) -> tuple[np.ndarray, str]:
    """(n x 2 coordinates, method): the first projection in ``order`` that applies to this set.

    aligned: X along add -> subtract centroid, Y the main spread across it (needs a subtract set);
    discriminant: PCA then a logistic discriminant of near-add (1) vs subtracted (0) tracks;
    umap: cosine UMAP (installed, and at least 64 points); pca: always applies.
    """
    from threadpoolctl import threadpool_limits  # scikit-learn's dependency

    x = unit(np.asarray(vectors, dtype=np.float64))
    # One BLAS thread: these matrices are small, and a threaded BLAS on a busy 2-core machine took
    # 0.8 s instead of 9 ms for the same 200 x 200 eigen-decomposition.
    with threadpool_limits(1):
        for name in order:
            out = _PROJECTIONS[name](x, labels, add_centroid, subtract_centroid)
            if out is not None:
                return np.asarray(out, dtype=np.float64), name
        return _pca(x, None, None, None), "pca"


def _aligned(x, labels, add_c, sub_c):
    if sub_c is None or len(x) < 2:
        return None
    axis = unit(np.asarray(sub_c, np.float64)) - unit(np.asarray(add_c, np.float64))
    if np.linalg.norm(axis) < 1e-3:  # add and subtract point the same way: no axis to align to
        return None
    axis = unit(axis)
    centred = x - x.mean(axis=0)
    along = centred @ axis
    rest = centred - np.outer(along, axis)
    return np.column_stack([along, rest @ _main_direction(rest)])


def _discriminant(x, labels, add_c, sub_c):
    if labels is None or min((labels == 0).sum(), (labels == 1).sum()) < 2:
        return None
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        return None
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    basis = vt[: min(10, len(x) - 1)]
    z = centred @ basis.T
    w = LogisticRegression(max_iter=500).fit(z, labels).coef_[0]
    if np.linalg.norm(w) < 1e-9:
        return None
    w = w / np.linalg.norm(w)
    along = z @ w
    rest = z - np.outer(along, w)
    return np.column_stack([along, rest @ _main_direction(rest)])


def _main_direction(m: np.ndarray) -> np.ndarray:
    """The unit direction of largest spread of the (centred) rows of ``m``: top eigenvector of m'm."""
    _, vectors = np.linalg.eigh(m.T @ m)
    return vectors[:, -1]


def _umap(x, labels, add_c, sub_c):
    if len(x) < UMAP_MIN_TRACKS:  # as the music map: below this UMAP's neighbourhood graph is too thin
        return None
    try:
        return umap_2d(x.astype(np.float32), n_epochs=200)  # 500 by default for small sets
    except ImportError:
        return None


def _pca(x, labels, add_c, sub_c):
    return pca_2d(x)


_PROJECTIONS = {"aligned": _aligned, "discriminant": _discriminant, "umap": _umap, "pca": _pca}


def _into_map_frame(ids, local, stored, name):
    """Stored tracks keep their map position; the others go through an affine fit local -> map."""
    shared = [i for i, t in enumerate(ids) if t in stored]
    if len(shared) < 3:
        return {t: (float(local[i, 0]), float(local[i, 1])) for i, t in enumerate(ids)}, name
    design = np.column_stack([local[shared], np.ones(len(shared))])
    target = np.array([stored[ids[i]] for i in shared], dtype=np.float64)
    affine, *_ = np.linalg.lstsq(design, target, rcond=None)
    placed = np.column_stack([local, np.ones(len(local))]) @ affine
    coords = {t: (tuple(map(float, stored[t])) if t in stored else (float(placed[i, 0]), float(placed[i, 1])))
              for i, t in enumerate(ids)}
    return coords, f"stored+{name}"


def _mean_point(coords, members) -> tuple[float, float] | None:
    pts = [coords[t] for t in members if t in coords]
    if not pts:
        return None
    return (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))
