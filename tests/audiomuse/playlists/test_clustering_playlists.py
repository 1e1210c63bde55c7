"""Clustering playlists end to end on a seeded PostgreSQL library: store, cancel, name, publish."""

from pathlib import Path

import pytest

from audiomuse.clustering.data import ClusteringCancelled
from audiomuse.clustering.params import ClusteringParams
from audiomuse.config import Settings
from audiomuse.llm import make_llm
from audiomuse.playlists import clustering as core
from audiomuse.providers.local import LocalFolderProvider
from tests.audiomuse.chat.fakes import FakeProviderServer
from tests.seed import seed_library

PARAMS = ClusteringParams(runs=60, k_min=2, k_max=6, min_playlist_size=5, top_playlists=5, batch_size=20)


@pytest.fixture
def library(db):
    styles = seed_library(db)
    return db, styles


def _generate(db, generation, llm=None, should_stop=None):
    lib = core.load_clustering_tracks(db)
    result = core.search_playlists(lib, PARAMS, seed=1, should_stop=should_stop)
    names = core.name_with_llm(result, lib, llm)
    core.store_generation(db, generation, result, names)
    return lib, result, names


def test_playlists_follow_the_styles_and_score_vectors_are_stored(library):
    db, styles = library
    lib, result, names = _generate(db, "run-1")
    stored = core.current_playlists(db)
    assert len(stored) >= 3 and all(n.endswith("_automatic") for n in names)
    style_of = {tid: tag for tag, ids in styles.items() for tid in ids}
    for p in stored:
        tags = [style_of[t] for t in p["track_ids"]]
        dominant = max(set(tags), key=tags.count)
        assert tags.count(dominant) / len(tags) >= 0.9
        assert dominant in p["details"]["dominant_moods"]
    core.store_score_vectors(db, lib)
    with db.connection() as conn:
        dims = conn.execute("SELECT array_length(score_vector, 1) FROM score LIMIT 1").fetchone()[0]
        scaler = conn.execute("SELECT meta FROM artifacts WHERE name = 'score_scaler'").fetchone()
    assert dims == 2 + 50 + 6 and len(scaler[0]["mean"]) == 58


def test_cancelled_run_keeps_the_previous_playlists(library):
    db, _ = library
    _generate(db, "good-run")
    before = core.current_playlists(db)
    with pytest.raises(ClusteringCancelled):
        _generate(db, "cancelled-run", should_stop=lambda: True)
    assert core.current_playlists(db) == before


def test_new_generation_replaces_the_old_one(library):
    db, _ = library
    _generate(db, "a")
    _generate(db, "b")
    assert {p["generation"] for p in core.current_playlists(db)} == {"b"}


@pytest.mark.parametrize("answer,delay,expect_ai", [
    ('"Neon Midnight Highway"', 0.0, True),
    ("Sure! I cannot help with that request, sorry. " * 5, 0.0, False),  # garbage: too long, prose
    ("Late Night Drive", 3.0, False),  # the model hangs past the timeout
])
def test_ai_names_fall_back_to_automatic(library, answer, delay, expect_ai):
    db, _ = library
    with FakeProviderServer("openai", answer, delay=delay) as server:
        llm = make_llm(Settings(ai_model_provider="openai", ai_model_url=server.url, ai_model_name="m",
                                ai_timeout=0.5))
        _, result, names = _generate(db, "ai", llm=llm)
    if expect_ai:
        assert names[0] == "Neon Midnight Highway_automatic"
        assert len(set(names)) == len(names)  # same AI answer for all: made unique
    else:
        assert names == [p.name for p in result.playlists]


def test_unreachable_naming_model_is_asked_once_not_per_playlist(library):
    """A model that never answers would hold the run for timeout x playlists; one timeout is enough."""
    db, _ = library
    with FakeProviderServer("openai", "Late Night Drive", delay=3.0) as server:
        llm = make_llm(Settings(ai_model_provider="openai", ai_model_url=server.url, ai_model_name="m",
                                ai_timeout=0.3))
        _, result, names = _generate(db, "hang", llm=llm)
        asked = len(server.requests)
    assert len(result.playlists) >= 2 and names == [p.name for p in result.playlists]
    assert asked == 1


def _local_provider(db, tmp_path) -> LocalFolderProvider:
    """A local folder provider holding a file per seeded track, under the track's id."""
    music = tmp_path / "music"
    music.mkdir()
    provider = LocalFolderProvider(music)
    provider._albums, provider._tracks = {}, {}
    provider._paths = {}
    with db.connection() as conn:
        for (tid,) in conn.execute("SELECT id FROM tracks"):
            path = music / f"{tid}.flac"
            path.write_bytes(b"x")
            provider._paths[tid] = path
    return provider


def test_publish_creates_new_before_deleting_stale(library, tmp_path):
    db, _ = library
    provider = _local_provider(db, tmp_path)
    provider.create_or_replace_playlist("Old Stuff_automatic", list(provider._paths)[:2])
    provider.create_or_replace_playlist("My own list", list(provider._paths)[:2])
    _generate(db, "g1")
    report = core.publish_generation(db, provider)
    names = {p.name for p in provider.list_playlists()}
    current = {p["name"] for p in core.current_playlists(db)}
    assert report["deleted"] == ["Old Stuff_automatic"]
    assert names == current | {"My own list"}
    assert all(p["provider_id"] for p in core.current_playlists(db))


def test_pinned_playlist_survives_the_next_generation_and_a_colliding_name_is_made_unique(library):
    db, _ = library
    _generate(db, "g1")
    first = core.current_playlists(db)
    assert len(first) >= 2 and not any(p["pinned"] for p in first)
    keep = first[0]
    with db.connection() as conn:
        conn.execute("UPDATE playlists SET provider_id = 'remote-1' WHERE id = %s", (keep["id"],))
    core.pin_playlist(db, keep["id"], True)
    _, result, names = _generate(db, "g2")  # the same seed: the same names, one taken by the pinned one
    assert keep["name"] in names

    now = core.current_playlists(db)
    (pinned,) = [p for p in now if p["pinned"]]
    assert (pinned["id"], pinned["name"], pinned["track_ids"], pinned["generation"]) == (
        keep["id"], keep["name"], keep["track_ids"], "g1")
    assert pinned["provider_id"] == "remote-1"
    new = [p for p in now if not p["pinned"]]
    assert {p["generation"] for p in new} == {"g2"} and len(new) == len(result.playlists)
    assert not {p["id"] for p in new} & {p["id"] for p in first}  # the unpinned ones were replaced
    stored_names = [p["name"] for p in now]
    assert len(set(stored_names)) == len(stored_names)
    assert keep["name"].replace("_automatic", "_2_automatic") in {p["name"] for p in new}

    core.pin_playlist(db, keep["id"], False)  # unpinned: the next run replaces it like the others
    _generate(db, "g3")
    assert {p["generation"] for p in core.current_playlists(db)} == {"g3"}
    with pytest.raises(ValueError, match="no clustering playlist"):
        core.pin_playlist(db, keep["id"], True)


def test_publish_keeps_the_pinned_playlist_on_the_server(library, tmp_path):
    db, _ = library
    provider = _local_provider(db, tmp_path)
    _generate(db, "g1")
    core.publish_generation(db, provider)
    first = core.current_playlists(db)
    keep = first[-1]
    core.pin_playlist(db, keep["id"], True)
    _generate(db, "g2")
    with db.connection() as conn:  # the new run's names all differ from the first run's
        conn.execute("UPDATE playlists SET name = 'Other ' || id || '_automatic' WHERE generation = 'g2'")
    report = core.publish_generation(db, provider)

    current = core.current_playlists(db)
    on_server = {p.name: p for p in provider.list_playlists()}
    assert keep["name"] in on_server and keep["name"] in {p["name"] for p in current if p["pinned"]}
    assert set(on_server) == {p["name"] for p in current}
    assert set(report["deleted"]) == {p["name"] for p in first} - {keep["name"]}
    m3u = (provider.playlist_dir / on_server[keep["name"]].id).read_text().splitlines()
    assert [Path(line).stem for line in m3u if not line.startswith("#")] == keep["track_ids"]
