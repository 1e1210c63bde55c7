"""The clustering asset names its playlists through the ``llm`` resource, and falls back to automatic names."""

from __future__ import annotations

import dagster as dg
import pytest

from audiomuse.playlists.clustering import current_playlists
from audiomuse_pipelines.defs.clustering import clustering_playlists
from audiomuse_pipelines.defs.resources import LLMResource
from tests.audiomuse.chat.fakes import FakeProviderServer
from tests.seed import seed_library

AI_NAME = "Velvet Thunder Road Trip"
SMALL_RUN = {"ops": {"clustering_playlists": {"config": {
    "runs": 40, "k_min": 2, "k_max": 5, "min_playlist_size": 5, "top_playlists": 4,
    "workers": 1,
}}}}


@pytest.fixture
def seeded(db, resources, dagster_instance):
    seed_library(db)

    def materialise(**overrides):
        result = dg.materialize([clustering_playlists], resources={**resources, **overrides},
                                instance=dagster_instance, run_config=SMALL_RUN)
        assert result.success
        return result.asset_materializations_for_node("clustering_playlists")[0].metadata

    return db, materialise


def test_resource_config_gives_ai_names(seeded):
    db, materialise = seeded
    with FakeProviderServer("openai", answer=f'Playlist name: "{AI_NAME}"') as server:
        meta = materialise(llm=LLMResource(provider="openai", url=server.url, model="test-model"))
        prompts = [r.body["messages"][-1]["content"] for r in server.requests]
    names = [p["name"] for p in current_playlists(db)]
    assert len(names) >= 2 and len(prompts) == len(names)
    assert names[0] == f"{AI_NAME}_automatic"
    assert all(n.startswith(AI_NAME) and n.endswith("_automatic") for n in names)  # made unique, suffixed
    assert meta["ai_named"].value == len(names) and meta["naming_llm"].value == "openai"
    assert all(r.body["model"] == "test-model" for r in server.requests)


def test_the_key_is_read_from_its_environment_variable_and_never_shown(seeded, dagster_instance, monkeypatch):
    db, materialise = seeded
    key = "sk-test-secret-4242"
    monkeypatch.setenv("AI_API_KEY", key)
    with FakeProviderServer("ollama", answer=AI_NAME, model="mistral:7b") as server:
        llm = LLMResource(provider="ollama", url=server.url, api_key=dg.EnvVar("AI_API_KEY"))
        meta = materialise(llm=llm)
        headers = [r.headers.get("Authorization") for r in server.requests]
    assert meta["naming_llm"].value == "ollama" and meta["ai_named"].value >= 2
    assert headers and all(h == f"Bearer {key}" for h in headers)
    assert all(key not in str(v.value) for v in meta.values())
    runs = dagster_instance.get_runs()
    assert key not in str(runs[0].run_config) and key not in repr(llm)


def test_no_llm_or_a_broken_one_keeps_the_automatic_names(seeded):
    db, materialise = seeded
    meta = materialise()  # provider none
    automatic = sorted(p["name"] for p in current_playlists(db))
    assert meta["naming_llm"].value == "none" and meta["ai_named"].value == 0
    with FakeProviderServer("openai", status=500) as server:
        meta = materialise(llm=LLMResource(provider="openai", url=server.url, model="m"))
        assert server.requests  # it was asked, and failed
    assert meta["ai_named"].value == 0
    assert sorted(p["name"] for p in current_playlists(db)) == automatic
    # gemini without an API key is a configuration error: logged, automatic names, run succeeds
    meta = materialise(llm=LLMResource(provider="gemini", url="http://127.0.0.1:9"))
    assert meta["naming_llm"].value == "none"
    assert sorted(p["name"] for p in current_playlists(db)) == automatic
