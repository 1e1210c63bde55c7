"""Sonic radio: the songs a player's "Instant mix" / "Start radio" button queues, by sound.

Subsonic players ask ``getSimilarSongs`` (a song, album or artist id) or ``getSimilarSongs2`` (an
artist id) and ask again as the queue runs out. A radio here is:

* **a seed**: a song (its own embedding), or the centroid of an album's or an artist's analysed
  songs;
* **its neighbours** in the similarity index, through the one per-artist rule
  (:class:`~audiomuse.playlists.artist_cap.ArtistCap`: at most N songs per artist, no song twice);
* **leaving the seed**: a song seed is never returned itself (as Navidrome's answer, whose web
  player then queues the seed first on its own); for an album or artist seed, songs by other
  artists and from other albums come first, the seed's own songs only after them;
* **no loops**: within a listening session (:class:`RadioSessions`, 30 minutes per listener and
  seed), a song already returned comes back only when no other candidate is left.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from audiomuse.index.similar import similar_by_vector
from audiomuse.index.voyager_index import SimilarityIndex
from audiomuse.playlists.artist_cap import MAX_SONGS_PER_ARTIST, normalised_artist
from audiomuse.playlists.vectors import weighted_centroid

SeedKind = Literal["song", "album", "artist"]
SESSION_SECONDS = 30 * 60
POOL_MAX = 2000  # candidates considered per call: enough to avoid repeats for a long session


@dataclass(frozen=True)
class Seed:
    """What a radio starts from: ``tracks`` are its analysed songs (one for a song seed)."""

    kind: SeedKind
    id: str
    tracks: tuple[str, ...]
    artists: frozenset[str] = field(default_factory=frozenset)  # normalised; an artist seed's own

    def vector(self, index: SimilarityIndex) -> np.ndarray:
        if self.kind == "song":
            return index.vector(self.tracks[0])
        return weighted_centroid(np.stack([index.vector(t) for t in self.tracks]))

    def is_own(self, metadata: Mapping[str, Mapping], track_id: str) -> bool:
        """A song of the seed itself: one of its tracks, or by its artist (artist seeds)."""
        artist = normalised_artist((metadata.get(track_id) or {}).get("artist"))
        return track_id in self.tracks or artist in self.artists


def song_seed(track_id: str) -> Seed:
    return Seed("song", track_id, (track_id,))


def group_seed(kind: SeedKind, seed_id: str, track_ids: Iterable[str], metadata: Mapping[str, Mapping]) -> Seed:
    """An album or artist seed over its analysed tracks (the caller keeps to ids in the index)."""
    tracks = tuple(dict.fromkeys(track_ids))
    artists = frozenset(normalised_artist((metadata.get(t) or {}).get("artist")) for t in tracks)
    return Seed(kind, seed_id, tracks, artists if kind == "artist" else frozenset())


def candidates(index: SimilarityIndex, metadata: dict[str, dict], seed: Seed, n: int, *,
               max_per_artist: int = MAX_SONGS_PER_ARTIST) -> list[str]:
    """Up to ``n`` track ids for a radio from ``seed``, best first, the seed's own songs last."""
    exclude = seed.tracks if seed.kind == "song" else ()
    hits = similar_by_vector(index, metadata, seed.vector(index), n, exclude=exclude, max_per_artist=max_per_artist)
    ids = [tid for tid, _ in hits]
    return [t for t in ids if not seed.is_own(metadata, t)] + [t for t in ids if seed.is_own(metadata, t)]


def next_songs(pool: list[str], count: int, already: set[str]) -> list[str]:
    """``count`` songs of ``pool`` (best first), those not returned ``already`` before any repeat."""
    fresh = [t for t in pool if t not in already]
    if len(fresh) >= count:
        return fresh[:count]
    return fresh + [t for t in pool if t in already][: count - len(fresh)]


class RadioSessions:
    """The songs each listener's radio for each seed returned in the last ``ttl`` seconds.

    In memory, per process, bounded (the least recently used sessions are forgotten first): a
    listening session is short and a restart only means a song may come back once.
    """

    def __init__(self, ttl: float = SESSION_SECONDS, max_sessions: int = 10_000):
        self.ttl = ttl
        self.max_sessions = max_sessions
        self._lock = threading.Lock()
        self._sessions: OrderedDict[tuple[str, str], tuple[float, set[str]]] = OrderedDict()

    def returned(self, listener: str, seed: Seed) -> set[str]:
        with self._lock:
            hit = self._sessions.get((listener, seed.id))
            if hit is None or hit[0] < time.monotonic():
                return set()
            return set(hit[1])

    def remember(self, listener: str, seed: Seed, track_ids: Iterable[str]) -> None:
        key = (listener, seed.id)
        with self._lock:
            now = time.monotonic()
            _, seen = self._sessions.pop(key, (0.0, set()))
            if self._sessions and next(iter(self._sessions.values()))[0] < now:
                self._sessions = OrderedDict((k, v) for k, v in self._sessions.items() if v[0] >= now)
            while len(self._sessions) >= self.max_sessions:
                self._sessions.popitem(last=False)
            self._sessions[key] = (now + self.ttl, seen | set(track_ids))


def radio(index: SimilarityIndex, metadata: dict[str, dict], seed: Seed, count: int, *, listener: str,
          sessions: RadioSessions, max_per_artist: int = MAX_SONGS_PER_ARTIST) -> list[str]:
    """The next ``count`` songs of ``listener``'s radio from ``seed`` (remembered for the session)."""
    already = sessions.returned(listener, seed)
    pool = candidates(index, metadata, seed, min(POOL_MAX, count + len(already)), max_per_artist=max_per_artist)
    songs = next_songs(pool, count, already)
    sessions.remember(listener, seed, songs)
    return songs
