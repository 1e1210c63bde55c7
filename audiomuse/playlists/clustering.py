"""Clustering playlists end to end: library -> search -> names -> stored generation -> published.

A generation (one clustering run) is stored in a single transaction that also removes the older
generations, so a cancelled or failed run leaves the previous playlists untouched. Publishing
creates the new ``_automatic`` playlists on the server before it deletes the old ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from psycopg.types.json import Jsonb

from audiomuse.analysis.features import OTHER_FEATURES
from audiomuse.analysis.musicnn import MSD_TAGS
from audiomuse.clustering.naming import AUTOMATIC_SUFFIX, ai_naming_prompt, clean_ai_name, unique_names
from audiomuse.clustering.search import ClusteringInput, ClusteringParams, RunProgress, SearchResult, run_search
from audiomuse.providers.base import MediaProvider
from audiomuse.store import Database
from audiomuse.store.artifacts import save_artifact

log = logging.getLogger(__name__)
KIND = "clustering"
SCALER_ARTIFACT = "score_scaler"


@dataclass
class LibraryVectors:
    track_ids: list[str]
    titles: list[str]
    artists: list[str]
    embeddings: np.ndarray
    moods: np.ndarray
    other: np.ndarray
    tempo: np.ndarray  # min-max normalised
    energy: np.ndarray  # min-max normalised


def load_library(db: Database) -> LibraryVectors:
    """Every analysed track that is not a duplicate of another, with its vectors."""
    with db.connection() as conn, conn.cursor(binary=True) as cur:
        cur.execute(
            """SELECT t.id, t.title, t.artist, e.embedding, s.mood_vector, s.other_features, s.tempo, s.energy
               FROM tracks t JOIN embedding e ON e.track_id = t.id JOIN score s ON s.track_id = t.id
               WHERE t.duplicate_of IS NULL ORDER BY t.id"""
        )
        rows = cur.fetchall()
    if not rows:
        raise ValueError("no analysed tracks yet: analyse some albums first")
    moods = np.array([[r[4].get(tag, 0.0) for tag in MSD_TAGS] for r in rows], np.float32)
    other = np.array([[r[5].get(f, 0.0) for f in OTHER_FEATURES] for r in rows], np.float32)
    return LibraryVectors(
        track_ids=[r[0] for r in rows], titles=[r[1] for r in rows], artists=[r[2] for r in rows],
        embeddings=np.vstack([r[3].to_numpy() for r in rows]).astype(np.float32), moods=moods, other=other,
        tempo=_minmax(np.array([r[6] or 0.0 for r in rows], np.float32)),
        energy=_minmax(np.array([r[7] or 0.0 for r in rows], np.float32)),
    )


def _minmax(x: np.ndarray) -> np.ndarray:
    span = float(x.max() - x.min())
    return (x - x.min()) / span if span > 0 else np.zeros_like(x)


def store_score_vectors(db: Database, lib: LibraryVectors) -> dict:
    """The interpretable score vector [tempo, energy, 50 moods, 6 features], standardised; the
    scaler's mean and scale are stored so centroids can be mapped back to moods and tempo."""
    raw = np.column_stack([lib.tempo, lib.energy, lib.moods, lib.other]).astype(np.float64)
    mean, scale = raw.mean(axis=0), raw.std(axis=0)
    scale[scale == 0] = 1.0
    z = ((raw - mean) / scale).astype(np.float32)
    labels = ["tempo", "energy", *MSD_TAGS, *OTHER_FEATURES]
    with db.connection() as conn:
        with conn.cursor() as cur:
            cur.executemany("UPDATE score SET score_vector = %s WHERE track_id = %s",
                            [(z[i].tolist(), tid) for i, tid in enumerate(lib.track_ids)])
        save_artifact(conn, SCALER_ARTIFACT, None, {"labels": labels, "mean": mean.tolist(), "scale": scale.tolist()})
    return {"labels": labels, "mean": mean, "scale": scale}


def search_playlists(
    lib: LibraryVectors, params: ClusteringParams, seed: int,
    progress: Callable[[RunProgress], None] | None = None, should_stop: Callable[[], bool] | None = None,
    workers: int = 1,
) -> SearchResult:
    inp = ClusteringInput(
        X=lib.embeddings if params.use_embeddings else None, moods=lib.moods, mood_labels=list(MSD_TAGS),
        other=lib.other, other_labels=list(OTHER_FEATURES), tempo=lib.tempo, energy=lib.energy,
        track_ids=lib.track_ids, artists=lib.artists,
    )
    return run_search(inp, params, seed, progress=progress, should_stop=should_stop, workers=workers)


def name_with_llm(result: SearchResult, lib: LibraryVectors, llm) -> list[str]:
    """AI names where the model gives a valid one, the automatic name otherwise; unique, suffixed."""
    names = []
    for p in result.playlists:
        name = None
        if llm is not None:
            songs = [(lib.titles[i], lib.artists[i]) for i in p.track_indices[:25]]
            prompt = ai_naming_prompt(p.profile, songs, tempo_mean=p.tempo_mean, energy_mean=p.energy_mean,
                                      other_means=p.other_means)
            try:
                name = clean_ai_name(llm.complete("You name music playlists.", prompt))
            except Exception as exc:  # noqa: BLE001 - any model failure falls back to the automatic name
                log.warning("AI naming failed (%s); using the automatic name", type(exc).__name__)
        names.append(f"{name}{AUTOMATIC_SUFFIX}" if name else p.name)
    return unique_names(names)


def store_generation(db: Database, generation: str, result: SearchResult, names: list[str]) -> int:
    """Store the new playlists and drop the older generations, atomically."""
    with db.connection() as conn:
        for p, name in zip(result.playlists, names, strict=True):
            conn.execute(
                """INSERT INTO playlists (name, kind, generation, track_ids, details)
                   VALUES (%s, %s, %s, %s, %s)""",
                (name, KIND, generation, list(p.track_ids),
                 Jsonb({"profile": {k: round(v, 4) for k, v in list(p.profile.items())[:10]},
                        "dominant_moods": p.dominant_moods, "tempo_mean": p.tempo_mean,
                        "energy_mean": p.energy_mean, "other_means": p.other_means,
                        "score": result.best_score, "params": result.best_params})),
            )
        conn.execute("DELETE FROM playlists WHERE kind = %s AND generation <> %s", (KIND, generation))
    return len(names)


def current_playlists(db: Database) -> list[dict]:
    with db.connection(dict_rows=True) as conn:
        return conn.execute(
            "SELECT id, name, generation, track_ids, details, provider_id, created_at FROM playlists "
            "WHERE kind = %s ORDER BY id", (KIND,)
        ).fetchall()


def publish_generation(db: Database, provider: MediaProvider) -> dict:
    """Create or replace each current playlist on the server, then delete stale ``_automatic`` ones."""
    playlists = current_playlists(db)
    if not playlists:
        raise ValueError("no clustering playlists to publish yet")
    published = {}
    for p in playlists:
        remote = provider.create_or_replace_playlist(p["name"], p["track_ids"])
        published[p["name"]] = remote.id
        with db.connection() as conn:
            conn.execute("UPDATE playlists SET provider_id = %s WHERE id = %s", (remote.id, p["id"]))
    deleted = provider.delete_playlists_by_suffix(AUTOMATIC_SUFFIX, keep=list(published))
    return {"published": len(published), "deleted": deleted}
