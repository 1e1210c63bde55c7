"""The batched clustering load and score-vector store give exactly what the per-row code gave."""

import numpy as np
import pytest

from audiomuse.analysis.features import OTHER_FEATURES
from audiomuse.analysis.musicnn import MSD_TAGS
from audiomuse.media import Album, Track
from audiomuse.playlists import clustering as core
from audiomuse.store import Database
from audiomuse.store import analysis as analysis_store
from audiomuse.store import catalog


def _seed(db: Database, n: int = 40, seed: int = 3) -> None:
    """Full-precision random scores, some tags and features missing, a NULL tempo, a duplicate
    and an unanalysed track, and a non-ASCII id."""
    rng = np.random.default_rng(seed)
    ids = [f"t{i:03d}" for i in range(n - 1)] + ["tré-é"]
    with db.connection() as conn:
        catalog.upsert_albums(conn, [Album("a1", "Album", "Band")])
        catalog.upsert_tracks(conn, "a1", [Track(t, "a1", f"Song {t}", f"Artist {i % 4}", "Album", 200.0 + i)
                                           for i, t in enumerate([*ids, "unanalysed"])])
        for i, t in enumerate(ids):
            moods = {tag: float(rng.random()) for tag in MSD_TAGS if rng.random() > 0.1}
            other = {f: float(rng.random()) for f in OTHER_FEATURES if rng.random() > 0.2}
            analysis_store.save_track_analysis(
                conn, t, embedding=rng.standard_normal(200).astype(np.float32), n_patches=3, model="m",
                tempo=float(60 + 120 * rng.random()), key="C", scale="major",
                energy=float(rng.random()), mood_vector=moods, other_features=other, signal_features={},
            )
        conn.execute("UPDATE score SET tempo = NULL WHERE track_id = 't005'")  # older rows may lack it
        conn.execute("UPDATE tracks SET duplicate_of = 't000' WHERE id = 't001'")


def _reference_load(db: Database) -> core.ClusteringTracks:
    """The dict-per-row load the batched one replaced."""
    with db.connection() as conn, conn.cursor(binary=True) as cur:
        cur.execute(
            """SELECT t.id, t.title, t.artist, e.embedding, s.mood_vector, s.other_features, s.tempo, s.energy
               FROM tracks t JOIN embedding e ON e.track_id = t.id JOIN score s ON s.track_id = t.id
               WHERE t.duplicate_of IS NULL ORDER BY t.id"""
        )
        rows = cur.fetchall()
    return core.ClusteringTracks(
        track_ids=[r[0] for r in rows], titles=[r[1] for r in rows], artists=[r[2] for r in rows],
        embeddings=np.vstack([r[3].to_numpy() for r in rows]).astype(np.float32),
        moods=np.array([[r[4].get(tag, 0.0) for tag in MSD_TAGS] for r in rows], np.float32),
        other=np.array([[r[5].get(f, 0.0) for f in OTHER_FEATURES] for r in rows], np.float32),
        tempo=core._minmax(np.array([r[6] or 0.0 for r in rows], np.float32)),
        energy=core._minmax(np.array([r[7] or 0.0 for r in rows], np.float32)),
    )


@pytest.mark.parametrize("batch", [7, 10_000])
def test_batched_load_equals_the_dict_based_load_bit_for_bit(db: Database, batch: int):
    _seed(db)
    got, want = core.load_clustering_tracks(db, batch=batch), _reference_load(db)
    assert got.track_ids == want.track_ids and len(got.track_ids) == 39  # no duplicate, no unanalysed
    assert "tré-é" in got.track_ids and "t001" not in got.track_ids
    assert got.titles == want.titles and got.artists == want.artists
    for name in ("embeddings", "moods", "other", "tempo", "energy"):
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype == np.float32 and a.shape == b.shape, name
        assert np.array_equal(a, b), name
    assert got.moods.shape == (39, len(MSD_TAGS)) and (got.moods == 0).any()  # missing tags are 0


def test_score_vectors_stored_in_one_update_are_the_standardised_scores(db: Database):
    _seed(db)
    lib = core.load_clustering_tracks(db)
    scaler = core.store_score_vectors(db, lib)
    raw = np.column_stack([lib.tempo, lib.energy, lib.moods, lib.other]).astype(np.float64)
    want = ((raw - scaler["mean"]) / scaler["scale"]).astype(np.float32)
    with db.connection() as conn:
        stored = dict(conn.execute("SELECT track_id, score_vector FROM score WHERE score_vector IS NOT NULL"))
        dims = conn.execute("SELECT DISTINCT array_ndims(score_vector), array_lower(score_vector, 1) FROM score"
                            " WHERE score_vector IS NOT NULL").fetchall()
    assert sorted(stored) == sorted(lib.track_ids)  # the duplicate gets none
    assert dims == [(1, 1)]
    got = np.array([stored[t] for t in lib.track_ids], np.float32)
    assert np.array_equal(got, want)
    assert scaler["labels"][:3] == ["tempo", "energy", MSD_TAGS[0]] and len(scaler["labels"]) == 58


def test_an_empty_library_is_refused_with_a_clear_message(db: Database):
    with pytest.raises(ValueError, match="analyse some albums first"):
        core.load_clustering_tracks(db)
