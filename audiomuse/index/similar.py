"""Similar songs: nearest neighbours minus the seed, the same song again, and artist floods."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np

from audiomuse.index.voyager_index import SimilarityIndex


def similar_by_vector(
    index: SimilarityIndex,
    metadata: dict[str, dict],
    vector: np.ndarray,
    n: int,
    *,
    exclude: Iterable[str] = (),
    max_per_artist: int = 3,
) -> list[tuple[str, float]]:
    """Up to ``n`` (track id, distance) nearest ``vector``, nearest first.

    Skips ids in ``exclude`` and any track that is the same song as one excluded or already
    chosen (same canonical id or normalised artist+title), and keeps at most ``max_per_artist``
    songs per artist. Asks the index for more candidates until ``n`` are found or none are left.
    """
    excluded = set(exclude)
    seen_songs = set()
    for tid in excluded:
        if tid in metadata:
            seen_songs.update(_song_identity(metadata[tid]))
    chosen: list[tuple[str, float]] = []
    per_artist: Counter[str] = Counter()
    k = min(len(index), max(4 * n + len(excluded), 50))
    considered = 0
    while True:
        for tid, dist in index.query(vector, k)[considered:]:
            considered += 1
            if tid in excluded or tid not in metadata:
                continue
            info = metadata[tid]
            identity = _song_identity(info)
            if seen_songs & identity:
                continue
            artist = info["artist"].casefold()
            if max_per_artist and per_artist[artist] >= max_per_artist:
                continue
            chosen.append((tid, dist))
            seen_songs.update(identity)
            per_artist[artist] += 1
            if len(chosen) == n:
                return chosen
        if k >= len(index):
            return chosen
        k = min(len(index), k * 4)


def similar_by_track(
    index: SimilarityIndex, metadata: dict[str, dict], track_id: str, n: int, *, max_per_artist: int = 3
) -> list[tuple[str, float]]:
    if track_id not in index:
        raise KeyError(f"track {track_id!r} has no embedding in the index (not analysed yet?)")
    return similar_by_vector(
        index, metadata, index.vector(track_id), n, exclude=[track_id], max_per_artist=max_per_artist
    )


def _song_identity(info: dict) -> set[str]:
    ids = {"id:" + info["canonical"]}
    if info.get("song_key") and info["song_key"] != "|":
        ids.add("key:" + info["song_key"])
    return ids
