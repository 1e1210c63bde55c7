"""The clustering asset names its playlists through the ``llm`` resource, and falls back to automatic names."""

from __future__ import annotations

import dagster as dg
import pytest

from audiomuse.config import get_settings
from audiomuse.playlists.clustering import current_playlists
from audiomuse_pipelines.defs.library import clustering_playlists
from audiomuse_pipelines.defs.resources import LLMResource, default_resources
from tests.audiomuse.chat.fakes import FakeProviderServer
from tests.seed import seed_library

AI_NAME = "Velvet Thunder Road Trip"
SMALL_RUN = {"ops": {"clustering_playlists": {"config": {
    "runs": 40, "num_clusters_min": 2, "num_clusters_max": 5, "min_playlist_size": 5, "top_playlists": 4,
    "workers": 1,
}}}}


@pytest.fixture
def seeded(app_env):
    seed_library(app_env)
    return app_env


def _materialise(instance, **resources):
    result = dg.materialize([clustering_playlists], resources={**default_resources(), **resources},
                            instance=instance, run_config=SMALL_RUN)
    assert result.success
    return result.asset_materializations_for_node("clustering_playlists")[0].metadata


def test_llm_is_a_registered_resource_without_a_key_field():
    resources = default_resources()
    assert isinstance(resources["llm"], LLMResource)
    assert not any("key" in name or "secret" in name for name in LLMResource.model_fields)


def test_resource_config_gives_ai_names(seeded, dagster_instance):
    with FakeProviderServer("openai", answer=f'Playlist name: "{AI_NAME}"') as server:
        meta = _materialise(dagster_instance, llm=LLMResource(provider="openai", url=server.url, model="test-model"))
        prompts = [r.body["messages"][-1]["content"] for r in server.requests]
    names = [p["name"] for p in current_playlists(seeded)]
    assert len(names) >= 2 and len(prompts) == len(names)
    assert names[0] == f"{AI_NAME}_automatic"
    assert all(n.startswith(AI_NAME) and n.endswith("_automatic") for n in names)  # made unique, suffixed
    assert meta["ai_named"].value == len(names) and meta["naming_llm"].value == "openai"
    assert all(r.body["model"] == "test-model" for r in server.requests)


def test_unset_fields_come_from_the_settings_and_the_key_from_the_environment(seeded, dagster_instance,
                                                                              monkeypatch):
    key = "sk-test-secret-4242"
    with FakeProviderServer("ollama", answer=AI_NAME, model="mistral:7b") as server:
        monkeypatch.setenv("AI_MODEL_PROVIDER", "ollama")
        monkeypatch.setenv("AI_MODEL_URL", server.url)
        monkeypatch.setenv("AI_API_KEY", key)
        get_settings.cache_clear()
        meta = _materialise(dagster_instance)  # the default LLMResource()
        headers = [r.headers.get("Authorization") for r in server.requests]
    assert meta["naming_llm"].value == "ollama" and meta["ai_named"].value >= 2
    assert headers and all(h == f"Bearer {key}" for h in headers)
    assert all(key not in str(v.value) for v in meta.values())
    runs = dagster_instance.get_runs()
    assert key not in str(runs[0].run_config) and key not in str(LLMResource())


def test_no_llm_or_a_broken_one_keeps_the_automatic_names(seeded, dagster_instance, monkeypatch):
    meta = _materialise(dagster_instance)  # AI_MODEL_PROVIDER unset = none
    automatic = sorted(p["name"] for p in current_playlists(seeded))
    assert meta["naming_llm"].value == "none" and meta["ai_named"].value == 0
    with FakeProviderServer("openai", status=500) as server:
        meta = _materialise(dagster_instance, llm=LLMResource(provider="openai", url=server.url, model="m"))
        assert server.requests  # it was asked, and failed
    assert meta["ai_named"].value == 0
    assert sorted(p["name"] for p in current_playlists(seeded)) == automatic
    # gemini without AI_API_KEY is a configuration error: logged, automatic names, run succeeds
    meta = _materialise(dagster_instance, llm=LLMResource(provider="gemini", url="http://127.0.0.1:9"))
    assert meta["naming_llm"].value == "none"
    assert sorted(p["name"] for p in current_playlists(seeded)) == automatic
