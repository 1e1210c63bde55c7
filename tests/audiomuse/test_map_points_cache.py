"""map_points keeps track info per process, so it must notice a rebuilt map and a changed catalog."""

import numpy as np
from psycopg.types.json import Jsonb

from audiomuse.media import Album, Track
from audiomuse.music_map import map_points, save_map
from audiomuse.store import catalog


def _library(db, moods: dict[str, dict]):
    with db.connection() as conn:
        catalog.upsert_albums(conn, [Album("a1", "Album", "Band")])
        catalog.upsert_tracks(conn, "a1", [Track(t, "a1", f"Song {t}", "Band", "Album") for t in moods])
        for tid, mood in moods.items():
            conn.execute("INSERT INTO score (track_id, mood_vector) VALUES (%s, %s) ON CONFLICT (track_id) "
                         "DO UPDATE SET mood_vector = EXCLUDED.mood_vector", (tid, Jsonb(mood)))


def _points(db) -> dict[str, dict]:
    return {p["id"]: p for p in map_points(db, 100)}


def test_top_mood_is_the_strongest_tag_and_ties_follow_the_stored_order(db):
    moods = {"t1": {"rock": 0.9, "pop": 0.1}, "t2": {"ambient": 0.2, "jazz": 0.7}, "t3": {},
             "t4": {"pop": 0.5, "rock": 0.5}}  # tie: jsonb orders keys by length, so 'pop' comes first
    _library(db, moods)
    save_map(db, list(moods), np.zeros((4, 2), np.float32), {"method": "test"})
    points = _points(db)
    assert {t: p["top_mood"] for t, p in points.items()} == {"t1": "rock", "t2": "jazz", "t3": "unknown",
                                                             "t4": "pop"}
    assert points["t1"]["title"] == "Song t1" and points["t1"]["artist"] == "Band"


def test_a_rebuilt_map_or_a_catalog_change_is_seen_by_the_next_call(db):
    _library(db, {"t1": {"rock": 0.9}, "t2": {"jazz": 0.8}})
    save_map(db, ["t1", "t2"], np.array([[0, 0], [1, 1]], np.float32), {"method": "test"})
    assert _points(db)["t2"]["x"] == 1.0
    with db.connection() as conn:  # the media server renamed a song: the catalog refresh rewrites the row
        catalog.upsert_tracks(conn, "a1", [Track("t1", "a1", "Renamed", "Band", "Album"),
                                           Track("t2", "a1", "Song t2", "Band", "Album")])
    assert _points(db)["t1"]["title"] == "Renamed"
    _library(db, {"t1": {"rock": 0.1, "metal": 0.9}, "t2": {"jazz": 0.8}})  # re-analysed ...
    save_map(db, ["t1", "t2"], np.array([[0, 0], [-1, 0.5]], np.float32), {"method": "test"})  # ... map rebuilt
    points = _points(db)
    assert points["t1"]["top_mood"] == "metal" and (points["t2"]["x"], points["t2"]["y"]) == (-1.0, 0.5)
    with db.connection() as conn:
        conn.execute("DELETE FROM tracks WHERE id = 't2'")
    assert list(_points(db)) == ["t1"]  # removed from the library since the map was built


def test_top_moods_are_stored_with_the_map_and_older_maps_still_show_them(db):
    import io
    import json

    from audiomuse.music_map import MAP_ARTIFACT, stored_map
    from audiomuse.store.artifacts import save_artifact

    _library(db, {"t1": {"rock": 0.9}, "t2": {"jazz": 0.8}})
    save_map(db, ["t1", "t2", "t9"], np.zeros((3, 2), np.float32), {"method": "test"})  # t9: not analysed
    assert stored_map(db).value.top_moods == ["rock", "jazz", "unknown"]  # read once, by the build
    buf = io.BytesIO()  # a map stored before the moods were kept with it
    np.savez(buf, coords=np.ones((2, 2), np.float32), ids=np.array(json.dumps(["t1", "t2"])))
    with db.connection() as conn:
        save_artifact(conn, MAP_ARTIFACT, buf.getvalue(), {"method": "old"})
    assert {t: p["top_mood"] for t, p in _points(db).items()} == {"t1": "rock", "t2": "jazz"}
