"""A small synthetic analysed library in a real database: three styles, index and map built."""

from __future__ import annotations

import numpy as np

from audiomuse.artifact_builds import build_music_map, build_similarity_index
from audiomuse.media import Album, Track
from audiomuse.store import Database
from audiomuse.store import analysis as analysis_store
from audiomuse.store import catalog

STYLES = {"Rockers": "rock", "Ambienteers": "ambient", "Orchestra": "instrumental"}


def seed_library(db: Database, per_style: int = 30, seed: int = 0) -> dict[str, list[str]]:
    """Returns style tag -> track ids. Titles are '<Artist> Song NN', six artists per style."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[str]] = {}
    with db.connection() as conn:
        for s, (artist, tag) in enumerate(STYLES.items()):
            centre = rng.standard_normal(200) * 3
            album_id = f"album{s}"
            catalog.upsert_albums(conn, [Album(album_id, f"{artist} Album", artist)])
            tracks = [Track(f"{tag[:3]}{i:02d}", album_id, f"{artist} Song {i:02d}", f"{artist} {i % 6}",
                            f"{artist} Album",
                            180.0 + i, "flac", i + 1) for i in range(per_style)]
            catalog.upsert_tracks(conn, album_id, tracks)
            for i, t in enumerate(tracks):
                moods = {tag: 0.8 + 0.01 * (i % 10), "pop": 0.1}
                analysis_store.save_track_analysis(
                    conn, t.id, embedding=(centre + rng.standard_normal(200)).astype(np.float32), n_patches=5,
                    model="test", tempo=80 + 40 * s + i % 5, key="C", scale="major", energy=0.1 + 0.3 * s,
                    mood_vector=moods, other_features={"relaxed": 0.5}, signal_features={},
                )
            out[tag] = [t.id for t in tracks]
    build_similarity_index(db)
    build_music_map(db)
    return out


def store_generation(db, generation: str, playlists: list[tuple[str, list[str]]]) -> None:
    """Make ``playlists`` (name, track ids) the stored clustering generation, as clustering would."""
    from psycopg.types.json import Jsonb

    with db.connection() as conn:
        conn.execute("DELETE FROM playlists")
        for name, tracks in playlists:
            conn.execute("INSERT INTO playlists (name, kind, generation, track_ids, details) "
                         "VALUES (%s, 'clustering', %s, %s, %s)", (name, generation, tracks, Jsonb({})))
