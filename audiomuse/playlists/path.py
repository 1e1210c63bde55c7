"""Song path: a fixed-length walk from one song to another that sounds coherent at every step.

Backbone points are interpolated along the great circle between the two embeddings; each
interior point takes the nearest track that the artist cap admits (not the same song again, at most
``max_per_artist`` songs per artist; :mod:`audiomuse.playlists.artist_cap`) and that is not a
near-copy of the last few picks. The start and end songs are always in and count for the cap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audiomuse.index.voyager_index import SimilarityIndex
from audiomuse.playlists.artist_cap import MAX_SONGS_PER_ARTIST, NO_CAP, ArtistCap
from audiomuse.playlists.vectors import angle, slerp


@dataclass
class SongPath:
    track_ids: list[str]
    direct_angle: float  # radians between start and end
    local_step: float  # typical neighbour-to-neighbour angle near the endpoints
    requested: int
    reason: str | None = None  # why the path is shorter than requested (None when it is not)

    @property
    def complete(self) -> bool:
        return len(self.track_ids) == self.requested


def local_step(index: SimilarityIndex, track_id: str, hops: int = 4) -> float:
    """Mean angle of a short nearest-neighbour chain from ``track_id``: a realistic step size."""
    current, seen, steps = track_id, {track_id}, []
    for _ in range(hops):
        vec = index.vector(current)
        nxt = next(((t, d) for t, d in index.query(vec, len(seen) + 5) if t not in seen), None)
        if nxt is None:
            break
        steps.append(angle(vec, index.vector(nxt[0])))
        current = nxt[0]
        seen.add(current)
    return float(np.mean(steps)) if steps else 0.0


def find_path(
    index: SimilarityIndex,
    metadata: dict[str, dict],
    start_id: str,
    end_id: str,
    length: int = 25,
    *,
    candidates: int = 25,
    lookback: int = 3,
    min_step_fraction: float = 0.1,
    max_per_artist: int = MAX_SONGS_PER_ARTIST,
) -> SongPath:
    """``length`` songs from ``start_id`` to ``end_id`` (both included); shorter if the library runs out."""
    for tid in (start_id, end_id):
        if tid not in index:
            raise KeyError(f"track {tid!r} is not in the similarity index (not analysed yet?)")
    if length < 2:
        raise ValueError("a path has at least two songs")
    a, b = index.vector(start_id), index.vector(end_id)
    step = (local_step(index, start_id) + local_step(index, end_id)) / 2
    min_gap = min_step_fraction * step
    backbone = slerp(a, b, length)
    path = [start_id]
    cap = ArtistCap(max_per_artist)
    cap.take_track(metadata, start_id)
    cap.take_track(metadata, end_id)
    for point in backbone[1:-1]:
        pick = _best_admitted(index, metadata, point, path, cap, candidates, lookback, min_gap)
        if pick is not None:
            path.append(pick)
    path.append(end_id)
    reason = None
    if len(path) < length:
        songs = ArtistCap(NO_CAP)
        distinct = sum(songs.admit_track(metadata, t) for t in index.track_ids)
        per_artist = f", more than {max_per_artist} songs by one artist" if max_per_artist else ""
        reason = (f"the library has {distinct} distinct songs, {len(path)} of which could be placed without "
                  f"repeating a song{per_artist} or a near-copy of the previous {lookback} (asked for {length})")
    return SongPath(path, angle(a, b), step, length, reason)


def _best_admitted(index, metadata, point, path, cap, candidates, lookback, min_gap):
    """The nearest track to ``point`` that is no near-copy of the last picks and that ``cap`` admits."""
    recent = [index.vector(t) for t in path[-lookback:]]
    k = candidates
    while True:
        for tid, _ in index.query(point, k):
            if tid in path:
                continue
            vec = index.vector(tid)
            if any(angle(vec, r) < min_gap for r in recent) or not cap.admit_track(metadata, tid):
                continue
            return tid
        if k >= len(index):
            return None
        k = min(len(index), k * 4)
