import numpy as np
import pytest

from audiomuse.media import Album, Track
from audiomuse.music_map import load_map, map_points, project, sample_indices, save_map
from audiomuse.store import catalog


def test_sample_indices_are_deterministic_and_sized():
    assert list(sample_indices(8, 50)) == [0, 2, 5, 7]
    assert len(sample_indices(1000, 25)) == 250
    assert list(sample_indices(3, 100)) == [0, 1, 2]
    assert (sample_indices(1000, 75) == sample_indices(1000, 75)).all()


def test_small_library_uses_pca_and_separates_clusters():
    rng = np.random.default_rng(1)
    a = rng.standard_normal(200) * 3
    x = np.vstack([a + rng.standard_normal((20, 200)), -a + rng.standard_normal((20, 200))]).astype(np.float32)
    coords, method = project(x)
    assert method == "pca" and coords.shape == (40, 2)
    assert np.abs(coords).max() <= 1.0 + 1e-6
    # the two groups land on opposite sides of the first axis
    assert np.sign(coords[:20, 0].mean()) != np.sign(coords[20:, 0].mean())


@pytest.mark.slow  # numba compiles UMAP on first use (~45 s)
def test_umap_for_larger_libraries_keeps_neighbours_close():
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((4, 200)) * 3
    labels = np.repeat(np.arange(4), 40)
    x = (centres[labels] + rng.standard_normal((160, 200))).astype(np.float32)
    coords, method = project(x)
    assert method == "umap"
    # nearest 2-D neighbour shares the group for nearly every point
    d = np.linalg.norm(coords[:, None] - coords[None], axis=2)
    np.fill_diagonal(d, np.inf)
    assert (labels[d.argmin(axis=1)] == labels).mean() > 0.95


def test_map_roundtrip_and_points(db):
    with db.connection() as conn:
        catalog.upsert_albums(conn, [Album("a", "A", "X")])
        catalog.upsert_tracks(conn, "a", [Track(f"t{i}", "a", f"Song {i}", "X", "A") for i in range(4)])
        conn.execute("""INSERT INTO score (track_id, mood_vector) VALUES ('t1', '{"rock": 0.9, "pop": 0.1}')""")
    coords = np.array([[0, 0], [1, 1], [-1, 0.5], [0.2, -1]], np.float32)
    save_map(db, ["t0", "t1", "t2", "t3"], coords, {"method": "pca"})
    ids, got, meta = load_map(db)
    assert ids == ["t0", "t1", "t2", "t3"] and np.allclose(got, coords) and meta["tracks"] == 4
    points = map_points(db, 100)
    assert [p["id"] for p in points] == ids
    assert points[1]["top_mood"] == "rock" and points[1]["x"] == 1.0
    assert len(map_points(db, 50)) == 2
