import numpy as np
import pytest

from audiomuse.index import SimilarityIndex
from audiomuse.index.persist import INDEX_ARTIFACT, INDEX_CACHE, load_index, save_index
from audiomuse.index.similar import similar_by_track, similar_by_vector
from audiomuse.store.artifacts import load_artifact


def _vectors(n=600, d=200, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((12, d))
    return (centres[rng.integers(0, 12, n)] + 0.6 * rng.standard_normal((n, d))).astype(np.float32)


def _brute_force(x, q, k):
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    sims = xn @ (q / np.linalg.norm(q))
    return list(np.argsort(-sims)[:k])


def test_neighbours_match_brute_force():
    x = _vectors()
    ids = [f"t{i:04d}" for i in range(len(x))]
    index = SimilarityIndex.build(ids, x)
    hits = 0
    for qi in range(0, 600, 20):
        got = [tid for tid, _ in index.query(x[qi], 10)]
        want = [ids[i] for i in _brute_force(x, x[qi], 10)]
        hits += len(set(got) & set(want))
    assert hits / (30 * 10) >= 0.99


def test_roundtrip_bytes_keeps_ids_and_answers():
    x = _vectors(100)
    ids = [f"id-{i}" for i in range(100)]
    index = SimilarityIndex.build(ids, x)
    again = SimilarityIndex.from_bytes(index.to_bytes())
    assert again.track_ids == ids
    assert again.query(x[5], 5) == index.query(x[5], 5)
    with pytest.raises(ValueError):
        SimilarityIndex.from_bytes(b"garbage")


def _meta(ids, artists, keys=None, canonical=None):
    return {
        tid: {"title": tid, "artist": artists[i], "album": "", "song_key": (keys or {}).get(tid, f"a|{tid}"),
              "canonical": (canonical or {}).get(tid, tid), "duration": 100.0}
        for i, tid in enumerate(ids)
    }


def test_similar_excludes_seed_duplicates_and_caps_artists():
    x = _vectors(200)
    ids = [f"t{i:03d}" for i in range(200)]
    artists = ["Same"] * 100 + [f"A{i}" for i in range(100)]
    seed = "t000"
    near = [tid for tid, _ in SimilarityIndex.build(ids, x).query(x[0], 3)]
    dup = near[1]  # the seed's nearest neighbour is the same song on another album
    meta = _meta(ids, artists, canonical={dup: seed})
    index = SimilarityIndex.build(ids, x)
    result = similar_by_track(index, meta, seed, 20, max_per_artist=3)
    got = [tid for tid, _ in result]
    assert len(got) == 20 and seed not in got and dup not in got
    assert sum(1 for tid in got if meta[tid]["artist"] == "Same") <= 3
    dists = [d for _, d in result]
    assert dists == sorted(dists)


def test_similar_returns_fewer_when_library_is_small():
    x = _vectors(5)
    ids = list("abcde")
    got = similar_by_vector(SimilarityIndex.build(ids, x), _meta(ids, ["x"] * 5), x[0], 10, max_per_artist=0)
    assert sorted(t for t, _ in got) == ids


def test_index_persisted_in_postgres_with_verified_file_cache(db, tmp_path):
    x = _vectors(50)
    ids = [f"t{i}" for i in range(50)]
    sha = save_index(db, SimilarityIndex.build(ids, x), {"M": 16})
    loaded = load_index(db, tmp_path)
    assert loaded.track_ids == ids
    cached = tmp_path / "index" / f"{sha}.amvx"
    assert cached.exists()
    # a corrupted cache file is detected and replaced from the database
    cached.write_bytes(b"corrupt")
    INDEX_CACHE.clear()
    assert load_index(db, tmp_path).track_ids == ids
    with db.connection() as conn:
        blob, meta = load_artifact(conn, INDEX_ARTIFACT)
    assert meta["tracks"] == 50 and blob == cached.read_bytes()


def test_no_index_yet_is_none(db):
    assert load_index(db) is None
