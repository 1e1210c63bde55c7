"""Clustering playlists end to end: library -> search -> names -> stored generation -> published.

A generation (one clustering run) is stored in a single transaction that also removes the older
generations, so a cancelled or failed run leaves the previous playlists untouched. A playlist the
user pins (``pin_playlist``) is kept by the next runs, with its name, songs and server id; a new
playlist whose name it has is renamed. Publishing creates the current ``_automatic`` playlists
(pinned ones too) on the server before it deletes the stale ones, never a pinned one.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from psycopg import sql
from psycopg.types.json import Jsonb

from audiomuse.analysis.features import OTHER_FEATURES
from audiomuse.analysis.musicnn import MSD_TAGS
from audiomuse.clustering.naming import AUTOMATIC_SUFFIX, ai_naming_prompt, clean_ai_name, unique_names
from audiomuse.clustering.data import ClusteringInput, RunProgress, SearchResult
from audiomuse.clustering.params import ClusteringParams
from audiomuse.clustering.search import run_search
from audiomuse.providers.base import MediaProvider
from audiomuse.store import Database
from audiomuse.store.analysis import RawBinaryLoader, decode_vectors
from audiomuse.store.artifacts import save_artifact

log = logging.getLogger(__name__)
KIND = "clustering"
SCALER_ARTIFACT = "score_scaler"
FLOAT4_OID, FLOAT8_ARRAY_OID = 700, 1022  # PostgreSQL's built-in real and float8[] types


@dataclass
class ClusteringTracks:
    """Every analysed track clustering works on, row i of each array belonging to ``track_ids[i]``."""

    track_ids: list[str]
    titles: list[str]
    artists: list[str]
    embeddings: np.ndarray
    moods: np.ndarray
    other: np.ndarray
    tempo: np.ndarray  # min-max normalised
    energy: np.ndarray  # min-max normalised


SCORE_LABELS = ("tempo", "energy", *MSD_TAGS, *OTHER_FEATURES)


def _score_array() -> sql.Composable:
    """One float8[] per track in SCORE_LABELS order: tempo, energy, the 50 tags, the 6 features.

    A missing tag or feature is 0 and a missing tempo or energy is 0, as the per-row dicts gave.
    The JSON numbers go through float8 (the parse Python's json does) before numpy rounds them
    to float32, so the values are the same bits as the dict-based load."""
    parts = [sql.SQL("coalesce(s.tempo::float8, 0)"), sql.SQL("coalesce(s.energy::float8, 0)")]
    parts += [sql.SQL("coalesce((s.mood_vector ->> {})::float8, 0)").format(sql.Literal(t)) for t in MSD_TAGS]
    parts += [sql.SQL("coalesce((s.other_features ->> {})::float8, 0)").format(sql.Literal(f))
              for f in OTHER_FEATURES]
    return sql.SQL("ARRAY[{}]").format(sql.SQL(", ").join(parts))


def _decode_float8_arrays(raw: bytes, width: int) -> np.ndarray:
    """Rows of 1-d float8[] without NULLs in binary format (20-byte header, then per element a
    4-byte length and 8 big-endian bytes) as an n x width float64 array."""
    wire = np.dtype([("header", "V20"), ("values", [("length", ">i4"), ("value", ">f8")], (width,))])
    rows = np.frombuffer(raw, dtype=wire)
    if not (rows["values"]["length"] == 8).all():
        raise ValueError("unexpected float8[] layout")
    return rows["values"]["value"].astype(np.float64)


def load_clustering_tracks(db: Database, batch: int = 10_000) -> ClusteringTracks:
    """Every analysed track that is not a duplicate of another, with its vectors.

    The 58 score values come from PostgreSQL as one float8[] per track and are decoded by numpy a
    batch at a time (as ``load_embeddings`` does with the embeddings): at 100k tracks no Python
    dict or float is made per value."""
    ids, titles, artists, emb_parts, score_parts = [], [], [], [], []
    query = sql.SQL(
        """SELECT t.id, t.title, t.artist, e.embedding, {scores}
           FROM tracks t JOIN embedding e ON e.track_id = t.id JOIN score s ON s.track_id = t.id
           WHERE t.duplicate_of IS NULL ORDER BY t.id"""
    ).format(scores=_score_array())
    with (db.connection() as conn,
          conn.cursor(name="load_clustering_tracks", binary=True, withhold=conn.autocommit) as cur):
        cur.adapters.register_loader("vector", RawBinaryLoader)
        cur.adapters.register_loader(FLOAT8_ARRAY_OID, RawBinaryLoader)
        cur.itersize = batch
        cur.execute(query)
        while rows := cur.fetchmany(batch):
            ids.extend(r[0] for r in rows)
            titles.extend(r[1] for r in rows)
            artists.extend(r[2] for r in rows)
            emb_parts.append(decode_vectors([r[3] for r in rows]))
            score_parts.append(_decode_float8_arrays(b"".join(r[4] for r in rows), len(SCORE_LABELS)))
    if not ids:
        raise ValueError("no analysed tracks yet: analyse some albums first")
    scores = np.concatenate(score_parts)
    n_moods = len(MSD_TAGS)
    return ClusteringTracks(
        track_ids=ids, titles=titles, artists=artists, embeddings=np.concatenate(emb_parts),
        moods=scores[:, 2:2 + n_moods].astype(np.float32), other=scores[:, 2 + n_moods:].astype(np.float32),
        tempo=_minmax(scores[:, 0].astype(np.float32)), energy=_minmax(scores[:, 1].astype(np.float32)),
    )


def _minmax(x: np.ndarray) -> np.ndarray:
    span = float(x.max() - x.min())
    return (x - x.min()) / span if span > 0 else np.zeros_like(x)


def store_score_vectors(db: Database, tracks: ClusteringTracks) -> dict:
    """The interpretable score vector [tempo, energy, 50 moods, 6 features], standardised; the
    scaler's mean and scale are stored so centroids can be mapped back to moods and tempo.

    The vectors are copied (binary COPY) into a temporary table and set by one UPDATE."""
    raw = np.column_stack([tracks.tempo, tracks.energy, tracks.moods, tracks.other]).astype(np.float64)
    mean, scale = raw.mean(axis=0), raw.std(axis=0)
    scale[scale == 0] = 1.0
    z = ((raw - mean) / scale).astype(np.float32)
    labels = list(SCORE_LABELS)
    with db.connection() as conn:
        conn.execute("CREATE TEMP TABLE new_score_vectors (track_id text, score_vector real[]) ON COMMIT DROP")
        with conn.cursor() as cur:
            with cur.copy("COPY new_score_vectors (track_id, score_vector) FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(_copy_rows(tracks.track_ids, z, conn.info.encoding))
            cur.execute("""UPDATE score SET score_vector = n.score_vector
                           FROM new_score_vectors n WHERE score.track_id = n.track_id""")
        save_artifact(conn, SCALER_ARTIFACT, None, {"labels": labels, "mean": mean.tolist(), "scale": scale.tolist()})
    return {"labels": labels, "mean": mean, "scale": scale}


def _copy_rows(track_ids: list[str], z: np.ndarray, encoding: str) -> bytes:
    """A whole binary COPY stream of (text, real[]) rows, the arrays laid out by numpy."""
    n, width = z.shape
    cells = np.empty((n, width), dtype=[("length", ">i4"), ("value", ">f4")])
    cells["length"], cells["value"] = 4, z
    # per row: 2 fields; the array: ndim 1, no NULLs, float4 elements, width of them from index 1
    array_header = struct.pack(">iiiii", 1, 0, FLOAT4_OID, width, 1)
    array_length = struct.pack(">i", len(array_header) + cells.itemsize * width)
    parts = [b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)]
    for i, track_id in enumerate(track_ids):
        key = track_id.encode(encoding)
        parts.append(b"".join((struct.pack(">hi", 2, len(key)), key, array_length, array_header, cells[i].tobytes())))
    parts.append(struct.pack(">h", -1))
    return b"".join(parts)


def search_playlists(
    tracks: ClusteringTracks, params: ClusteringParams, seed: int,
    progress: Callable[[RunProgress], None] | None = None, should_stop: Callable[[], bool] | None = None,
    workers: int = 1,
) -> SearchResult:
    inp = ClusteringInput(
        X=tracks.embeddings if params.use_embeddings else None,
        moods=tracks.moods, mood_labels=list(MSD_TAGS), other=tracks.other, other_labels=list(OTHER_FEATURES),
        tempo=tracks.tempo, energy=tracks.energy, track_ids=tracks.track_ids, artists=tracks.artists,
    )
    return run_search(inp, params, seed, progress=progress, should_stop=should_stop, workers=workers)


def name_with_llm(result: SearchResult, tracks: ClusteringTracks, llm) -> list[str]:
    """AI names where the model gives a valid one, the automatic name otherwise; unique, suffixed.
    A model that does not answer at all (timeout, refused) is not asked again for the rest."""
    names = []
    for p in result.playlists:
        name = None
        if llm is not None:
            songs = [(tracks.titles[i], tracks.artists[i]) for i in p.track_indices[:25]]
            prompt = ai_naming_prompt(p.profile, songs, tempo_mean=p.tempo_mean, energy_mean=p.energy_mean,
                                      other_means=p.other_means)
            try:
                name = clean_ai_name(llm.complete("You name music playlists.", prompt))
            except Exception as exc:  # noqa: BLE001 - any model failure falls back to the automatic name
                log.warning("AI naming failed (%s); using the automatic name", type(exc).__name__)
                if getattr(exc, "unreachable", False):  # each further call would wait the whole timeout
                    log.warning("the naming model is unreachable: automatic names for the other playlists")
                    llm = None
        names.append(f"{name}{AUTOMATIC_SUFFIX}" if name else p.name)
    return unique_names(names)


def pin_playlist(db: Database, playlist_id: int, pinned: bool) -> None:
    """Pin a clustering playlist (the next clustering runs keep it) or unpin it (the next run
    replaces it with the others)."""
    with db.connection() as conn:
        cur = conn.execute("UPDATE playlists SET pinned = %s WHERE id = %s AND kind = %s",
                           (pinned, playlist_id, KIND))
        if cur.rowcount == 0:
            raise ValueError(f"no clustering playlist {playlist_id}")


def store_generation(db: Database, generation: str, result: SearchResult, names: list[str]) -> int:
    """Store the new playlists and drop the older generations' unpinned ones, atomically.

    Pinned playlists stay as they are; a new name equal to a pinned one's gets the next free
    number (``unique_names``: 'X_automatic' becomes 'X_2_automatic'). Returns how many were stored."""
    with db.connection() as conn:
        # every row locked: a pin or unpin meanwhile waits for this run, so the pinned names read
        # here are the ones kept
        rows = conn.execute("SELECT name, pinned FROM playlists WHERE kind = %s ORDER BY id FOR UPDATE",
                            (KIND,)).fetchall()
        kept = [name for name, pinned in rows if pinned]
        names = unique_names([*kept, *names])[len(kept):]
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
        conn.execute("DELETE FROM playlists WHERE kind = %s AND generation <> %s AND NOT pinned",
                     (KIND, generation))
    return len(names)


def current_playlists(db: Database) -> list[dict]:
    """The last generation's playlists and the pinned ones of earlier runs (``pinned`` true), by id."""
    with db.connection(dict_rows=True) as conn:
        return conn.execute(
            "SELECT id, name, generation, track_ids, details, provider_id, pinned, created_at FROM playlists "
            "WHERE kind = %s ORDER BY id", (KIND,)
        ).fetchall()


def publish_generation(db: Database, provider: MediaProvider) -> dict:
    """Create or replace each current playlist (pinned ones too) on the server, then delete stale
    ``_automatic`` ones; a pinned playlist's name is always kept."""
    playlists = current_playlists(db)
    if not playlists:
        raise ValueError("no clustering playlists to publish yet")
    published = {}
    for p in playlists:
        remote = provider.create_or_replace_playlist(p["name"], p["track_ids"])
        published[p["name"]] = remote.id
        with db.connection() as conn:
            conn.execute("UPDATE playlists SET provider_id = %s WHERE id = %s", (remote.id, p["id"]))
    # every current name is kept, the pinned ones with them
    deleted = provider.delete_playlists_by_suffix(AUTOMATIC_SUFFIX, keep=[p["name"] for p in playlists])
    return {"published": len(published), "deleted": deleted}
