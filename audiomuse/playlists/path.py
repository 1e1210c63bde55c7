"""Song path: a fixed-length walk from one song to another that sounds coherent at every step.

Backbone points are interpolated along the great circle between the two embeddings; each
interior point takes the nearest track that is not already in the path, is not the same song
again, and is not a near-copy of the last few picks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audiomuse.index.voyager_index import SimilarityIndex
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
    used_songs = {_identity(metadata, start_id), _identity(metadata, end_id)}
    for point in backbone[1:-1]:
        pick = _best_unique(index, metadata, point, path, used_songs, candidates, lookback, min_gap)
        if pick is not None:
            path.append(pick)
            used_songs.add(_identity(metadata, pick))
    path.append(end_id)
    reason = None
    if len(path) < length:
        distinct = len({_identity(metadata, t) for t in index.track_ids})
        reason = (f"the library has {distinct} distinct songs, {len(path)} of which could be placed without "
                  f"repeating a song or a near-copy of the previous {lookback} (asked for {length})")
    return SongPath(path, angle(a, b), step, length, reason)


def _best_unique(index, metadata, point, path, used_songs, candidates, lookback, min_gap):
    recent = [index.vector(t) for t in path[-lookback:]]
    k = candidates
    while True:
        for tid, _ in index.query(point, k):
            if tid in path or _identity(metadata, tid) in used_songs:
                continue
            vec = index.vector(tid)
            if any(angle(vec, r) < min_gap for r in recent):
                continue
            return tid
        if k >= len(index):
            return None
        k = min(len(index), k * 4)


def _identity(metadata: dict[str, dict], track_id: str) -> str:
    info = metadata.get(track_id)
    if info is None:
        return track_id
    key = info.get("song_key")
    return key if key and key != "|" else info.get("canonical", track_id)
