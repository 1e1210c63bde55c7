"""The 2-D music map: every embedding projected once, stored, and served in deterministic samples.

UMAP (cosine) for real libraries; PCA when the library is too small for UMAP's neighbourhood
graph. Samples of 25/50/75/100% use evenly spaced indices so the same request always shows the
same points.
"""

from __future__ import annotations

import io
import json

import numpy as np

from audiomuse.store import Database
from audiomuse.store.artifacts import load_artifact, save_artifact

MAP_ARTIFACT = "music_map"
UMAP_MIN_TRACKS = 64
SAMPLE_PERCENTS = (25, 50, 75, 100)


def project(vectors: np.ndarray, seed: int = 42, n_neighbors: int = 15) -> tuple[np.ndarray, str]:
    """(n x 2 coordinates scaled to [-1, 1], method name)."""
    n = len(vectors)
    if n == 0:
        return np.zeros((0, 2), np.float32), "empty"
    x = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    if n < UMAP_MIN_TRACKS:
        coords, method = _pca_2d(x), "pca"
    else:
        import umap  # slow import (numba); only when needed

        reducer = umap.UMAP(
            n_components=2, n_neighbors=min(n_neighbors, n - 1), min_dist=0.1, metric="cosine",
            random_state=seed, low_memory=True, n_jobs=1,
        )
        coords, method = reducer.fit_transform(x), "umap"
    coords = np.asarray(coords, dtype=np.float32)
    coords -= coords.mean(axis=0)
    scale = np.abs(coords).max() or 1.0
    return coords / scale, method


def _pca_2d(x: np.ndarray) -> np.ndarray:
    centred = x - x.mean(axis=0)
    if len(x) < 2:
        return np.zeros((len(x), 2), np.float32)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    out = centred @ vt[:2].T
    return out if out.shape[1] == 2 else np.pad(out, ((0, 0), (0, 2 - out.shape[1])))


def sample_indices(n: int, percent: int) -> np.ndarray:
    """Evenly spaced, deterministic indices covering ``percent`` of ``n`` items."""
    if percent >= 100 or n == 0:
        return np.arange(n)
    count = max(1, round(n * percent / 100))
    return np.unique(np.linspace(0, n - 1, count).round().astype(int))


def save_map(db: Database, track_ids: list[str], coords: np.ndarray, meta: dict) -> str:
    buf = io.BytesIO()
    np.savez(buf, coords=coords.astype(np.float32), ids=np.array(json.dumps(track_ids)))
    with db.connection() as conn:
        return save_artifact(conn, MAP_ARTIFACT, buf.getvalue(), {**meta, "tracks": len(track_ids)})


def load_map(db: Database) -> tuple[list[str], np.ndarray, dict] | None:
    with db.connection() as conn:
        stored = load_artifact(conn, MAP_ARTIFACT)
    if stored is None or stored[0] is None:
        return None
    data = np.load(io.BytesIO(stored[0]))
    return json.loads(str(data["ids"])), data["coords"], stored[1]


def map_points(db: Database, percent: int = 100) -> list[dict]:
    """The points a map view draws: id, x, y, title, artist and top mood, sampled by ``percent``."""
    loaded = load_map(db)
    if loaded is None:
        return []
    ids, coords, _ = loaded
    keep = sample_indices(len(ids), percent)
    chosen = [ids[i] for i in keep]
    with db.connection() as conn:
        rows = conn.execute(
            """SELECT t.id, t.title, t.artist, s.mood_vector FROM tracks t
               LEFT JOIN score s ON s.track_id = t.id WHERE t.id = ANY(%s)""",
            (chosen,),
        ).fetchall()
    info = {r[0]: r for r in rows}
    points = []
    for i in keep:
        tid = ids[i]
        row = info.get(tid)
        if row is None:
            continue  # removed from the library since the map was built
        moods = row[3] or {}
        points.append({
            "id": tid, "x": float(coords[i, 0]), "y": float(coords[i, 1]), "title": row[1], "artist": row[2],
            "top_mood": max(moods, key=moods.get) if moods else "unknown",
        })
    return points
