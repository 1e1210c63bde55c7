"""Sonic fingerprint: the direction of what a user plays, weighted by plays and recency.

weight = play_count * exp(-ln 2 / 30 * days since last played) (a play a month ago counts half);
tracks with no last-played time get a small fixed recency factor.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

import numpy as np

from audiomuse.index.similar import similar_by_vector
from audiomuse.index.voyager_index import SimilarityIndex
from audiomuse.media import PlayedTrack
from audiomuse.playlists.artist_cap import MAX_SONGS_PER_ARTIST
from audiomuse.playlists.vectors import weighted_centroid

HALF_LIFE_DAYS = 30.0
UNKNOWN_RECENCY = 0.1


def recency_weight(played: PlayedTrack, now: datetime) -> float:
    if played.last_played is None:
        factor = UNKNOWN_RECENCY
    else:
        last = played.last_played if played.last_played.tzinfo else played.last_played.replace(tzinfo=timezone.utc)
        days = max(0.0, (now - last).total_seconds() / 86400)
        factor = math.exp(-math.log(2) / HALF_LIFE_DAYS * days)
    return max(1, played.play_count) * factor


def sonic_fingerprint(
    index: SimilarityIndex,
    metadata: dict[str, dict],
    history: list[PlayedTrack],
    n: int = 100,
    *,
    max_seeds: int = 20,
    max_per_artist: int = MAX_SONGS_PER_ARTIST,
    now: datetime | None = None,
) -> tuple[list[str], np.ndarray | None]:
    """(playlist of up to ``n`` track ids, fingerprint vector): seeds first, then their neighbours."""
    now = now or datetime.now(timezone.utc)
    usable = [p for p in history if p.track_id in index]
    if not usable:
        return [], None
    weights = np.array([recency_weight(p, now) for p in usable])
    fingerprint = weighted_centroid(np.stack([index.vector(p.track_id) for p in usable]), weights)
    ranked = [usable[i].track_id for i in np.argsort(-weights, kind="stable")]
    seeds = list(dict.fromkeys(ranked))[: min(max_seeds, n)]
    more = similar_by_vector(index, metadata, fingerprint, n - len(seeds), exclude=seeds, max_per_artist=max_per_artist)
    return seeds + [t for t, _ in more], fingerprint
