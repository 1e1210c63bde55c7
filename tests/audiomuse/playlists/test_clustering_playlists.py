"""Clustering playlists end to end on a seeded PostgreSQL library: store, cancel, name, publish."""

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


def test_publish_creates_new_before_deleting_stale(library, tmp_path):
    db, _ = library
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
    provider.create_or_replace_playlist("Old Stuff_automatic", list(provider._paths)[:2])
    provider.create_or_replace_playlist("My own list", list(provider._paths)[:2])
    _generate(db, "g1")
    report = core.publish_generation(db, provider)
    names = {p.name for p in provider.list_playlists()}
    current = {p["name"] for p in core.current_playlists(db)}
    assert report["deleted"] == ["Old Stuff_automatic"]
    assert names == current | {"My own list"}
    assert all(p["provider_id"] for p in core.current_playlists(db))
