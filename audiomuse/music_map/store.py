"""The stored map: saved with each track's top mood, read through the process's :data:`MAP_CACHE`,
and served as positions or as the points a map view draws."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import numpy as np
import psycopg

from audiomuse.music_map.sampling import sample_indices
from audiomuse.store import Database
from audiomuse.store.artifacts import ArtifactCache, CachedArtifact, save_artifact

MAP_ARTIFACT = "music_map"
UNKNOWN_MOOD = "unknown"


def save_map(db: Database, track_ids: list[str], coords: np.ndarray, meta: dict) -> str:
    """Store the map with each track's top mood, read here, in the background build: reading 100k
    mood vectors costs seconds, which the first map view would otherwise spend."""
    with db.connection() as conn:
        moods = _top_moods(conn, track_ids)
        buf = io.BytesIO()
        np.savez(buf, coords=coords.astype(np.float32), ids=np.array(json.dumps(track_ids)),
                 moods=np.array(json.dumps([moods.get(t, UNKNOWN_MOOD) for t in track_ids])))
        return save_artifact(conn, MAP_ARTIFACT, buf.getvalue(), {**meta, "tracks": len(track_ids)})


@dataclass(frozen=True)
class StoredMap:
    """A decoded map artifact; ``top_moods`` is None for a map stored before moods were kept with it."""

    track_ids: list[str]
    coords: np.ndarray
    top_moods: list[str] | None


def _decode_map(blob: bytes) -> StoredMap:
    data = np.load(io.BytesIO(blob))
    moods = json.loads(str(data["moods"])) if "moods" in data.files else None
    coords = data["coords"]
    coords.flags.writeable = False  # shared by every reader of this version
    return StoredMap(json.loads(str(data["ids"])), coords, moods)


#: the process's copy of each database's map, decoded again only when it is rebuilt
MAP_CACHE = ArtifactCache(MAP_ARTIFACT, _decode_map)


def stored_map(db: Database, conn: psycopg.Connection | None = None) -> CachedArtifact[StoredMap] | None:
    """The current map as stored (shared: read-only), or None when none has been built."""
    return MAP_CACHE.get(db, conn=conn)


def load_map(db: Database) -> tuple[list[str], np.ndarray, dict] | None:
    """(track ids, coordinates, meta) of the current map, the caller's own copies."""
    stored = stored_map(db)
    if stored is None:
        return None
    return list(stored.value.track_ids), stored.value.coords.copy(), dict(stored.meta)


def map_positions(db: Database) -> dict[str, tuple[float, float]] | None:
    """Track id -> stored map coordinates (None when no map has been built)."""
    stored = stored_map(db)
    if stored is None:
        return None
    coords = stored.value.coords
    return {t: (float(coords[i, 0]), float(coords[i, 1])) for i, t in enumerate(stored.value.track_ids)}


def map_points(db: Database, percent: int = 100) -> list[dict]:
    """The points a map view draws: id, x, y, title, artist and top mood, sampled by ``percent``."""
    loaded = _map_with_track_info(db)
    if loaded is None:
        return []
    ids, coords, info = loaded
    points = []
    for i in sample_indices(len(ids), percent):
        tid = ids[i]
        row = info.get(tid)
        if row is None:
            continue  # removed from the library since the map was built
        points.append({"id": tid, "x": float(coords[i, 0]), "y": float(coords[i, 1]), "title": row[0],
                       "artist": row[1], "top_mood": row[2]})
    return points


# The strongest tag, ties broken in jsonb's key order (as max() over the decoded dict would).
_TOP_MOOD = """(SELECT m.key FROM jsonb_each(s.mood_vector) m
                ORDER BY m.value::float8 DESC, length(m.key), m.key COLLATE "C" LIMIT 1)"""


def _top_moods(conn, track_ids: list[str] | None = None) -> dict[str, str]:
    """Track id -> its strongest tag, for ``track_ids`` (all analysed tracks when None)."""
    where, params = ("WHERE s.track_id = ANY(%s)", (list(track_ids),)) if track_ids is not None else ("", ())
    rows = conn.execute(f"SELECT s.track_id, {_TOP_MOOD} FROM score s {where}", params).fetchall()
    return {tid: mood for tid, mood in rows if mood is not None}


_points_cache: dict[str, tuple[tuple, list[str], np.ndarray, dict]] = {}  # db url -> (key, ids, coords, info)


def _map_with_track_info(db: Database) -> tuple[list[str], np.ndarray, dict] | None:
    """(ids, coords, id -> (title, artist, top mood)), kept per process until the map is rebuilt or
    the catalog changes (the two freshness checks cost ~20 ms). Top moods come with the map."""
    with db.connection() as conn:
        stored = stored_map(db, conn)
        if stored is None:
            return None
        key = (stored.sha256, *conn.execute("SELECT count(*), max(last_seen) FROM tracks").fetchone())
        cached = _points_cache.get(db.url)
        if cached is not None and cached[0] == key:
            return cached[1:]
        ids, coords, moods = stored.value.track_ids, stored.value.coords, stored.value.top_moods
        rows = conn.execute("SELECT id, title, artist FROM tracks").fetchall()
        top = dict(zip(ids, moods)) if moods is not None else _top_moods(conn)
    info = {tid: (title, artist, top.get(tid, UNKNOWN_MOOD)) for tid, title, artist in rows}
    _points_cache[db.url] = (key, ids, coords, info)
    return ids, coords, info
