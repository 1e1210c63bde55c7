"""The OpenSubsonic ``sonicSimilarity`` extension, framework-free: answers and id mapping (the
protocol's envelopes and errors are :mod:`audiomuse.subsonic_protocol`'s).

What the published extension asks (opensubsonic.netlify.app, docs/extensions/sonicsimilarity,
docs/endpoints/getsonicsimilartracks, docs/endpoints/findsonicpath, docs/responses/sonicmatch;
repository opensubsonic/open-subsonic-api, merged in pull request #219; Navidrome 0.62 implements
it the same way, navidrome/navidrome#5419):

* ``getSonicSimilarTracks``: parameters ``id`` (required) and ``count`` (default 10); results
  ordered from most to least similar.
* ``findSonicPath``: parameters ``startSongId`` and ``endSongId`` (required) and ``count`` (default
  25, the maximum number of songs in the path); the path MUST start with the start song and end
  with the end song.
* Both answer a ``subsonic-response`` with a top-level ``sonicMatch`` array (no wrapper element;
  the older drafts' ``sonicSimilarTracksResult`` / ``findSonicPathResult`` were dropped). Each
  ``sonicMatch`` is ``{"entry": <Child>, "similarity": <number>}``; similarity is normalised, 1.0
  = the same song, 0.0 = the most different; for a path it is relative to the start song.
* ``getOpenSubsonicExtensions`` lists ``{"name": "sonicSimilarity", "versions": [1]}``.

XML follows the Subsonic convention for a JSON object holding a Child (``bookmark``): scalars are
attributes, the Child is an ``<entry>`` element, arrays are repeated elements:
``<sonicMatch similarity="0.93"><entry id=".." title=".." .../></sonicMatch>``.

Similarity here is the cosine similarity of the MusiCNN embeddings, clipped to [0, 1] (the index
works in cosine distance d = 1 - cos, so similarity = 1 - d).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

from audiomuse.index.persist import INDEX_CACHE
from audiomuse.index.similar import similar_by_track
from audiomuse.index.voyager_index import SimilarityIndex
from audiomuse.playlists.path import find_path
from audiomuse.playlists.vectors import cosine_distance
from audiomuse.radio import RadioSessions, Seed, SeedKind, group_seed, radio, song_seed
from audiomuse.store import Database, connect
from audiomuse.store import catalog as catalog_store
from audiomuse.store.analysis import track_metadata
from audiomuse.subsonic_protocol import GENERIC, NOT_FOUND, SubsonicError

log = logging.getLogger(__name__)

EXTENSION = {"name": "sonicSimilarity", "versions": [1]}
SIMILAR_METHOD = "getSonicSimilarTracks"
PATH_METHOD = "findSonicPath"
EXTENSIONS_METHOD = "getOpenSubsonicExtensions"
SIMILAR_DEFAULT, SIMILAR_MAX = 10, 500
PATH_DEFAULT, PATH_MAX = 25, 200


def is_sonic_method(method: str) -> bool:
    return method.lower() in (SIMILAR_METHOD.lower(), PATH_METHOD.lower())


def with_extension(body: Mapping) -> dict:
    """An upstream ``getOpenSubsonicExtensions`` answer with ``sonicSimilarity`` added once."""
    out = dict(body)
    extensions = [e for e in (out.get("openSubsonicExtensions") or []) if isinstance(e, Mapping)]
    if not any(e.get("name") == EXTENSION["name"] for e in extensions):
        extensions.append(dict(EXTENSION))
    out["openSubsonicExtensions"] = extensions
    out["openSubsonic"] = True
    return out


def sonic_matches(matches: Sequence[tuple[str, float]], songs: Mapping[str, Mapping]) -> list[dict]:
    """``sonicMatch`` entries in order, for the ids that have a song object."""
    return [{"entry": dict(songs[tid]), "similarity": round(sim, 4)} for tid, sim in matches if tid in songs]


def catalog_child(row: Mapping) -> dict:
    """A Subsonic ``Child`` built from a catalog row (when the upstream's own is not available).

    ``row`` holds the tracks columns; its ``server_song`` (the server's own song fields, stored by
    the catalog since migration 0004) wins over what the catalog builds: the server's ``parent``
    (its folder/directory id), ``albumId``, ``artistId``, ``coverArt``, ``contentType``, ``size``...
    A row without them (not refreshed since, or another provider) gets the catalog's fields and no
    ``parent``: the only parent known would be AudioMuse's album id, which is the server's folder
    id on no Subsonic server in particular (supysonic's ``getMusicDirectory`` rejects it)."""
    child = {"id": row["id"], "isDir": False, "title": row.get("title") or "",
             "album": row.get("album") or "", "artist": row.get("artist") or "", "type": "music",
             "isVideo": False, "albumId": row.get("album_id"), "mediaType": "song"}
    if row.get("track_number") is not None:
        child["track"] = int(row["track_number"])
    if row.get("duration") is not None:
        child["duration"] = int(round(float(row["duration"])))
    if row.get("file_format"):
        child["suffix"] = row["file_format"]
    server = row.get("server_song")
    if isinstance(server, tuple):  # a Track's (name, value) pairs
        server = dict(server)
    if isinstance(server, Mapping):
        child.update((k, v) for k, v in server.items() if k != "id" and isinstance(v, (str, int, float, bool)))
    return {k: v for k, v in child.items() if v is not None}


def similarity(distance: float) -> float:
    """Cosine distance (0 = same direction) -> normalised similarity (1 = identical)."""
    return float(min(1.0, max(0.0, 1.0 - distance)))


# The library behind the answers -----------------------------------------------------------------
@dataclass
class Loaded:
    """One version of the index with the track metadata read when it was loaded."""

    sha256: str
    index: SimilarityIndex
    metadata: dict[str, dict]


class SonicLibrary:
    """The similarity index and track metadata of one database, loaded once per process.

    The stored index checksum is checked at most every ``check_interval`` seconds, on one
    long-lived connection (no connection per request); a new checksum reloads index (through the
    process's :data:`~audiomuse.index.persist.INDEX_CACHE`) and metadata.
    Track ids are the catalog's, which for the Subsonic provider are the server's own ids.
    """

    def __init__(self, db: Database, cache_dir: Path | None = None, *, max_per_artist: int = 3,
                 check_interval: float = 2.0):
        self.db = db
        self.cache_dir = cache_dir
        self.max_per_artist = max_per_artist
        self.check_interval = check_interval
        self._conn: psycopg.Connection | None = None
        self._conn_lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._loaded: Loaded | None = None
        self._checked_at = float("-inf")
        self.radio_sessions = RadioSessions()

    def __repr__(self) -> str:
        return f"SonicLibrary({self.db!r})"

    # Database access on one connection, reopened if it broke
    def _run(self, fn):
        with self._conn_lock:
            for attempt in range(2):
                if self._conn is None or self._conn.closed:
                    self._conn = connect(self.db.url, autocommit=True)
                try:
                    return fn(self._conn)
                except psycopg.OperationalError:
                    self._conn.close()
                    self._conn = None
                    if attempt:
                        raise

    def close(self) -> None:
        with self._conn_lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def current(self) -> Loaded:
        """The loaded index, reloaded when the stored checksum changed; 70 when none exists."""
        now = time.monotonic()
        loaded = self._loaded
        if loaded is not None and now - self._checked_at < self.check_interval:
            return loaded
        with self._load_lock:
            if self._loaded is not None and time.monotonic() - self._checked_at < self.check_interval:
                return self._loaded
            stored = self._run(lambda conn: INDEX_CACHE.get(self.db, self.cache_dir, conn=conn))
            if stored is None:
                self._loaded = None
                raise SubsonicError(NOT_FOUND, "AudioMuse has no similarity index yet: analyse the library and "
                                               "materialise similarity_index")
            if self._loaded is None or self._loaded.sha256 != stored.sha256:
                self._loaded = Loaded(stored.sha256, stored.value, self._run(track_metadata))
                log.info("similarity index loaded: %d tracks", len(stored.value))
            self._checked_at = time.monotonic()
            return self._loaded

    def resolve(self, loaded: Loaded, track_id: str) -> str:
        """The catalog track of a server id, or a Subsonic "not found" saying why."""
        if track_id in loaded.index:
            return track_id
        known = track_id in loaded.metadata or self._run(
            lambda conn: conn.execute("SELECT 1 FROM tracks WHERE id = %s", (track_id,)).fetchone() is not None)
        if known:
            raise SubsonicError(NOT_FOUND, f"Song {track_id} has not been analysed by AudioMuse yet")
        raise SubsonicError(NOT_FOUND, f"Song {track_id} is not in AudioMuse's catalog (not synced yet?)")

    def similar(self, track_id: str, count: int = SIMILAR_DEFAULT) -> list[tuple[str, float]]:
        """(track id, similarity) of up to ``count`` songs that sound like ``track_id``."""
        loaded = self.current()
        seed = self.resolve(loaded, track_id)
        hits = similar_by_track(loaded.index, loaded.metadata, seed, count, max_per_artist=self.max_per_artist)
        return [(tid, similarity(dist)) for tid, dist in hits]

    def path(self, start_id: str, end_id: str, count: int = PATH_DEFAULT) -> list[tuple[str, float]]:
        """(track id, similarity to the start) along a song path, start first and end last."""
        loaded = self.current()
        start, end = self.resolve(loaded, start_id), self.resolve(loaded, end_id)
        if start == end:
            return [(start, 1.0)]
        if count < 2:
            raise SubsonicError(GENERIC, "a path has at least two songs: count must be at least 2")
        song_path = find_path(loaded.index, loaded.metadata, start, end, count)
        origin = loaded.index.vector(start)
        out = []
        for tid in song_path.track_ids:
            out.append((tid, 1.0 if tid == start else similarity(cosine_distance(origin, loaded.index.vector(tid)))))
        return out

    def radio_seed(self, seed_id: str) -> Seed | None:
        """The radio seed a Subsonic id names: an analysed song, or an album or artist with analysed
        songs; None when AudioMuse cannot answer for it (the server should)."""
        loaded = self.current()
        if seed_id in loaded.index:
            return song_seed(seed_id)

        def group(conn) -> tuple[SeedKind, list[str]] | None:
            for kind, tracks_of in (("album", catalog_store.tracks_of_album),
                                    ("artist", catalog_store.tracks_of_server_artist)):
                analysed = [t for t in tracks_of(conn, seed_id) if t in loaded.index]
                if analysed:
                    return kind, analysed
            return None

        found = self._run(group)
        return group_seed(found[0], seed_id, found[1], loaded.metadata) if found else None

    def radio(self, seed: Seed, count: int, listener: str) -> list[str]:
        """The next ``count`` songs of ``listener``'s radio from ``seed`` (see :mod:`audiomuse.radio`)."""
        loaded = self.current()
        return radio(loaded.index, loaded.metadata, seed, count, listener=listener, sessions=self.radio_sessions,
                     max_per_artist=self.max_per_artist)

    def catalog_songs(self, ids: Iterable[str]) -> dict[str, dict]:
        """Child objects built from the catalog for ``ids`` (one query): the server's own stored
        song fields where the catalog has them (see :func:`catalog_child`)."""
        ids = list(dict.fromkeys(ids))

        def query(conn):
            cols = ("id", "album_id", "title", "artist", "album", "duration", "file_format", "track_number",
                    "server_song")
            rows = conn.execute(f"SELECT {', '.join(cols)} FROM tracks WHERE id = ANY(%s)", (ids,)).fetchall()
            return {r[0]: catalog_child(dict(zip(cols, r))) for r in rows}

        return self._run(query) if ids else {}
