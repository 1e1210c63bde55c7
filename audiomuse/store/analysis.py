"""Analysis tables: score and embedding rows, per-track errors, duplicate marks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import psycopg
from psycopg.adapt import Loader
from psycopg.types.json import Jsonb


def analysed_track_ids(conn: psycopg.Connection, track_ids: Sequence[str]) -> set[str]:
    rows = conn.execute(
        """SELECT e.track_id FROM embedding e JOIN score s USING (track_id)
           WHERE e.track_id = ANY(%s)""",
        (list(track_ids),),
    )
    return {r[0] for r in rows}


def save_track_analysis(
    conn: psycopg.Connection,
    track_id: str,
    *,
    embedding: np.ndarray,
    n_patches: int,
    model: str,
    tempo: float,
    key: str,
    scale: str,
    energy: float,
    mood_vector: dict[str, float],
    other_features: dict[str, float],
    signal_features: dict[str, float],
    features_version: int | None = None,
) -> None:
    """Upsert one track's results (re-running an album updates, never duplicates).

    ``features_version``: the signal estimators' version (``analysis.features.FEATURES_VERSION``);
    None = unknown (e.g. pulled by collection sync), which a features-only refresh recomputes.
    """
    conn.execute(
        """
        INSERT INTO score (track_id, tempo, key, scale, energy, mood_vector, other_features,
                           signal_features, features_version, updated_at)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, now())
        ON CONFLICT (track_id) DO UPDATE SET
            tempo = EXCLUDED.tempo, key = EXCLUDED.key, scale = EXCLUDED.scale,
            energy = EXCLUDED.energy, mood_vector = EXCLUDED.mood_vector,
            other_features = EXCLUDED.other_features, signal_features = EXCLUDED.signal_features,
            features_version = EXCLUDED.features_version, updated_at = now()
        """,
        (track_id, float(tempo), key, scale, float(energy), Jsonb(_floats(mood_vector)),
         Jsonb(_floats(other_features)), Jsonb(_floats(signal_features)), features_version),
    )
    conn.execute(
        """
        INSERT INTO embedding (track_id, embedding, n_patches, model, updated_at)
        VALUES (%s, %s, %s, %s, now())
        ON CONFLICT (track_id) DO UPDATE SET
            embedding = EXCLUDED.embedding, n_patches = EXCLUDED.n_patches,
            model = EXCLUDED.model, updated_at = now()
        """,
        (track_id, np.asarray(embedding, dtype=np.float32), int(n_patches), model),
    )
    conn.execute(
        "UPDATE tracks SET analysed_at = now(), analysis_error = NULL WHERE id = %s", (track_id,)
    )


def stale_features(
    conn: psycopg.Connection, track_ids: Sequence[str], version: int, *, force: bool = False
) -> dict[str, dict[str, float]]:
    """{track id: its stored mood vector} for each of ``track_ids`` that has a full analysis (score
    and embedding) whose features version is older than ``version`` or NULL (every analysed one if
    ``force``). Tracks never analysed are not in it: they need the model, not a refresh."""
    rows = conn.execute(
        """SELECT s.track_id, s.mood_vector FROM score s JOIN embedding e USING (track_id)
           WHERE s.track_id = ANY(%s)
             AND (%s OR s.features_version IS NULL OR s.features_version < %s)""",
        (list(track_ids), force, version),
    )
    return {r[0]: r[1] for r in rows}


def save_track_features(
    conn: psycopg.Connection,
    track_id: str,
    *,
    tempo: float,
    key: str,
    scale: str,
    energy: float,
    other_features: dict[str, float],
    signal_features: dict[str, float],
    features_version: int,
) -> None:
    """Replace one track's signal features and their version; its embedding, model and mood vector
    (the MusiCNN tags) are left as they are."""
    conn.execute(
        """UPDATE score SET tempo = %s, key = %s, scale = %s, energy = %s, other_features = %s,
                  signal_features = %s, features_version = %s, updated_at = now()
           WHERE track_id = %s""",
        (float(tempo), key, scale, float(energy), Jsonb(_floats(other_features)),
         Jsonb(_floats(signal_features)), int(features_version), track_id),
    )
    conn.execute("UPDATE tracks SET analysis_error = NULL WHERE id = %s", (track_id,))


def _floats(d: dict) -> dict:
    return {k: round(float(v), 6) for k, v in d.items()}


def record_track_error(conn: psycopg.Connection, track_id: str, error: str) -> None:
    conn.execute("UPDATE tracks SET analysis_error = %s WHERE id = %s", (error[:2000], track_id))


def mark_duplicates(
    conn: psycopg.Connection,
    track_ids: Sequence[str],
    *,
    max_duration_diff: float = 3.0,
    max_cosine_distance: float = 0.05,
) -> int:
    """Mark each of ``track_ids`` that is the same song as an earlier-seen track.

    Same song = same normalised artist+title key, durations within ``max_duration_diff`` seconds
    and embeddings within ``max_cosine_distance`` (pgvector ``<=>``). The canonical copy is the
    smallest id, so the mark is stable whichever album is analysed first.
    """
    rows = conn.execute(
        """
        WITH pairs AS (
            SELECT t.id, min(o.id) AS canonical
            FROM tracks t
            JOIN embedding e ON e.track_id = t.id
            JOIN tracks o ON o.song_key = t.song_key AND o.id < t.id
            JOIN embedding eo ON eo.track_id = o.id
            WHERE (t.id = ANY(%(ids)s) OR o.id = ANY(%(ids)s))
              AND t.song_key <> '|'
              AND abs(coalesce(t.duration, 0) - coalesce(o.duration, 0)) <= %(dur)s
              AND (e.embedding <=> eo.embedding) <= %(dist)s
            GROUP BY t.id
        )
        UPDATE tracks SET duplicate_of = pairs.canonical
        FROM pairs WHERE tracks.id = pairs.id AND tracks.duplicate_of IS DISTINCT FROM pairs.canonical
        RETURNING tracks.id
        """,
        {"ids": list(track_ids), "dur": max_duration_diff, "dist": max_cosine_distance},
    ).fetchall()
    return len(rows)


class RawBinaryLoader(Loader):
    """A column's binary wire format as bytes, for numpy to decode a whole batch of rows at once
    (registered per cursor for ``vector`` here and for ``float8[]`` by the clustering load)."""

    format = psycopg.pq.Format.BINARY

    def load(self, data):
        return bytes(data)


def decode_vectors(raw: list[bytes]) -> np.ndarray:
    """pgvector values in binary format (uint16 dim, uint16 unused, dim big-endian float32 each),
    as one n x dim float32 array."""
    data = b"".join(raw)
    dim = int.from_bytes(data[:2], "big")
    wire = np.dtype([("dim", ">u2"), ("unused", ">u2"), ("values", ">f4", (dim,))])
    return np.frombuffer(data, dtype=wire)["values"].astype(np.float32)


def load_embeddings(conn: psycopg.Connection, batch: int = 10_000) -> tuple[list[str], np.ndarray]:
    """Every stored embedding as (track ids, n x 200 float32), ordered by track id.

    Streamed from a server-side cursor and decoded a batch at a time straight from the binary
    format: at 100k tracks this peaks at about half the memory of one numpy array per row.
    """
    ids, parts = [], []
    # WITH HOLD only in autocommit mode, where there is no transaction for the cursor to live in
    with conn.cursor(name="load_embeddings", binary=True, withhold=conn.autocommit) as cur:
        cur.adapters.register_loader("vector", RawBinaryLoader)
        cur.itersize = batch
        cur.execute("SELECT track_id, embedding FROM embedding ORDER BY track_id")
        while rows := cur.fetchmany(batch):
            ids.extend(r[0] for r in rows)
            parts.append(decode_vectors([r[1] for r in rows]))
    matrix = np.concatenate(parts) if parts else np.zeros((0, 200), np.float32)
    return ids, matrix


def track_metadata(conn: psycopg.Connection) -> dict[str, dict]:
    """id -> title, artist, album, song key and canonical id (for de-duplication and display)."""
    rows = conn.execute(
        "SELECT id, title, artist, album, song_key, coalesce(duplicate_of, id), duration FROM tracks"
    )
    return {
        r[0]: {"title": r[1], "artist": r[2], "album": r[3], "song_key": r[4], "canonical": r[5], "duration": r[6]}
        for r in rows
    }
