"""Song alchemy: songs like the ones you add, unlike the ones you subtract.

The add centroid is the mean direction of the added songs; candidates near it are drawn from
the index, those within ``subtract_distance`` (cosine distance) of the subtract centroid are
filtered out (and returned, so the user sees what was excluded), and the rest are ordered by
distance, or sampled with a softmax when ``temperature`` > 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from audiomuse.index.similar import similar_by_vector
from audiomuse.index.voyager_index import SimilarityIndex
from audiomuse.playlists.vectors import cosine_distance, weighted_centroid


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
    max_per_artist: int = 0,
    seed: int | None = None,
) -> AlchemyResult:
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
    kept, filtered = [], []
    for tid, dist in pool:
        if sub_c is not None:
            d_sub = cosine_distance(index.vector(tid), sub_c)
            if d_sub < subtract_distance:
                filtered.append((tid, d_sub))
                continue
        kept.append((tid, dist))
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
