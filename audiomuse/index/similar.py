"""Similar songs: nearest neighbours minus the seed, the same song again, and artist floods."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from audiomuse.index.voyager_index import SimilarityIndex
from audiomuse.playlists.artist_cap import MAX_SONGS_PER_ARTIST, ArtistCap, track_identities


def similar_by_vector(
    index: SimilarityIndex,
    metadata: dict[str, dict],
    vector: np.ndarray,
    n: int,
    *,
    exclude: Iterable[str] = (),
    max_per_artist: int = MAX_SONGS_PER_ARTIST,
) -> list[tuple[str, float]]:
    """Up to ``n`` (track id, distance) nearest ``vector``, nearest first.

    Skips ids in ``exclude`` and keeps to the :class:`~audiomuse.playlists.artist_cap.ArtistCap`
    rule: no song that is the same as one excluded or already chosen, at most ``max_per_artist``
    songs per artist (0 = no cap). Asks the index for more candidates until ``n`` are found or none
    are left.
    """
    excluded = set(exclude)
    cap = ArtistCap(max_per_artist)
    for tid in excluded:
        if tid in metadata:
            cap.exclude(track_identities(metadata, tid))
    chosen: list[tuple[str, float]] = []
    k = min(len(index), max(4 * n + len(excluded), 50))
    considered = 0
    while True:
        for tid, dist in index.query(vector, k)[considered:]:
            considered += 1
            if tid in excluded or tid not in metadata or not cap.admit_track(metadata, tid):
                continue
            chosen.append((tid, dist))
            if len(chosen) == n:
                return chosen
        if k >= len(index):
            return chosen
        k = min(len(index), k * 4)


def similar_by_track(
    index: SimilarityIndex, metadata: dict[str, dict], track_id: str, n: int, *,
    max_per_artist: int = MAX_SONGS_PER_ARTIST,
) -> list[tuple[str, float]]:
    if track_id not in index:
        raise KeyError(f"track {track_id!r} has no embedding in the index (not analysed yet?)")
    return similar_by_vector(
        index, metadata, index.vector(track_id), n, exclude=[track_id], max_per_artist=max_per_artist
    )
