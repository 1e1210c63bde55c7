import numpy as np

from audiomuse.media import Album, Track
from audiomuse.store import Database
from audiomuse.store import analysis as store
from audiomuse.store import catalog


def _seed(db: Database):
    with db.connection() as conn:
        catalog.upsert_albums(conn, [Album("a1", "Hits", "Band"), Album("a2", "Best Of", "Band")])
        catalog.upsert_tracks(conn, "a1", [Track("t1", "a1", "Song", "Band", "Hits", 200.0),
                                           Track("t2", "a1", "Other", "Band", "Hits", 180.0)])
        catalog.upsert_tracks(conn, "a2", [Track("t3", "a2", "Song (Remastered)", "The Band", "Best Of", 201.5),
                                           Track("t4", "a2", "Other", "Band", "Best Of", 240.0)])


def _save(conn, track_id, vec):
    store.save_track_analysis(
        conn, track_id, embedding=vec, n_patches=3, model="m", tempo=120, key="C", scale="major",
        energy=0.5, mood_vector={"rock": 0.9}, other_features={"happy": 0.1}, signal_features={})


def test_upsert_is_idempotent_and_counts_tracks(db: Database):
    _seed(db)
    _seed(db)
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM tracks").fetchone()[0] == 4
        assert conn.execute("SELECT track_count FROM albums WHERE id='a1'").fetchone()[0] == 2
        new = catalog.upsert_albums(conn, [Album("a1", "Hits", "Band"), Album("a9", "New", "X")])
    assert new == ["a9"]


def test_save_analysis_twice_updates_in_place(db: Database):
    _seed(db)
    v = np.ones(200, dtype=np.float32)
    with db.connection() as conn:
        _save(conn, "t1", v)
        store.record_track_error(conn, "t2", "DecodeError: empty file")
        _save(conn, "t1", 2 * v)
        assert conn.execute("SELECT count(*) FROM embedding").fetchone()[0] == 1
        assert store.analysed_track_ids(conn, ["t1", "t2"]) == {"t1"}
        assert catalog.albums_needing_analysis(conn) == ["a2"]
        got = conn.execute("SELECT embedding FROM embedding WHERE track_id='t1'").fetchone()[0]
    assert np.allclose(got.to_numpy(), 2.0)


def test_same_song_on_two_albums_is_marked_not_a_different_song(db: Database):
    _seed(db)
    rng = np.random.default_rng(0)
    base = rng.standard_normal(200).astype(np.float32)
    with db.connection() as conn:
        _save(conn, "t1", base)
        _save(conn, "t3", base + 0.01 * rng.standard_normal(200).astype(np.float32))
        _save(conn, "t2", base)  # same title as t4 but t4's duration differs by a minute
        _save(conn, "t4", base)
        marked = store.mark_duplicates(conn, ["t3", "t4"])
        dups = dict(conn.execute("SELECT id, duplicate_of FROM tracks WHERE duplicate_of IS NOT NULL").fetchall())
    assert dups == {"t3": "t1"}
    assert marked == 1
