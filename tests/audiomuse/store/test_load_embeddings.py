"""load_embeddings decodes pgvector's binary format itself, in batches: values and order must be exact."""

import numpy as np

from audiomuse.media import Album, Track
from audiomuse.store import Database, connect
from audiomuse.store import analysis as store
from audiomuse.store import catalog


def _seed(db: Database, n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    vectors = {f"t{i:03d}": (rng.standard_normal(200) * 10.0 ** rng.integers(-3, 4)).astype(np.float32)
               for i in rng.permutation(n)}  # inserted out of order, with tiny and large values
    with db.connection() as conn:
        catalog.upsert_albums(conn, [Album("a1", "Album", "Artist")])
        catalog.upsert_tracks(conn, "a1", [Track(t, "a1", t, "Artist", "Album") for t in vectors])
        for tid, vec in vectors.items():
            store.save_track_analysis(
                conn, tid, embedding=vec, n_patches=1, model="m", tempo=100, key="C", scale="major", energy=0.1,
                mood_vector={}, other_features={}, signal_features={})
    return vectors


def test_embeddings_come_back_exactly_in_track_order_across_batches(db: Database):
    vectors = _seed(db, 25)
    with db.connection() as conn:
        ids, matrix = store.load_embeddings(conn, batch=10)
    assert ids == sorted(vectors)
    assert matrix.dtype == np.float32 and matrix.shape == (25, 200) and matrix.flags.c_contiguous
    np.testing.assert_array_equal(matrix, np.stack([vectors[t] for t in ids]))


def test_autocommit_connection_and_empty_table(db: Database):
    with connect(db.url, autocommit=True) as conn:
        ids, matrix = store.load_embeddings(conn)
    assert ids == [] and matrix.shape == (0, 200)
    vectors = _seed(db, 3)
    with connect(db.url, autocommit=True) as conn:
        ids, matrix = store.load_embeddings(conn)
    np.testing.assert_array_equal(matrix, np.stack([vectors[t] for t in sorted(vectors)]))
