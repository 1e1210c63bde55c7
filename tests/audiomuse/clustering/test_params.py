"""Each clustering setting has one default (ClusteringParams') and one mapping to its parameter."""

from dataclasses import fields

import pytest

from audiomuse.clustering.params import SETTINGS_TO_PARAMS, ClusteringParams, setting_default
from audiomuse.config import Settings


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No TOML file and none of the clustering environment variables."""
    monkeypatch.setenv("AUDIOMUSE_CONFIG", str(tmp_path / "none.toml"))
    for setting in SETTINGS_TO_PARAMS:
        monkeypatch.delenv(setting.upper(), raising=False)
    return monkeypatch


def _param(params: ClusteringParams, path: str):
    value = params
    for part in path.split("."):
        value = getattr(value, part)
    return value


def test_default_settings_give_the_default_params(clean_env):
    assert ClusteringParams.from_settings(Settings()) == ClusteringParams()


def test_every_clustering_setting_maps_to_a_parameter():
    marked = {name: (f.json_schema_extra or {}).get("clustering_param") for name, f in Settings.model_fields.items()}
    marked = {name: param for name, param in marked.items() if param}
    assert marked == SETTINGS_TO_PARAMS
    documented = {  # README.md's clustering environment variables, lower-cased
        "cluster_algorithm", "clustering_runs", "num_clusters_min", "num_clusters_max",
        "enable_clustering_embeddings", "max_songs_per_cluster", "min_songs_per_playlist", "top_playlist_number",
        "sampling_percentage_change_per_run", "max_songs_per_artist",
        *(f"score_weight_{f}" for f in ("diversity", "purity", "silhouette", "davies_bouldin", "calinski_harabasz",
                                        "other_feature_diversity", "other_feature_purity")),
    }
    assert documented == set(SETTINGS_TO_PARAMS)
    defaults = ClusteringParams()
    for setting, param in SETTINGS_TO_PARAMS.items():
        assert Settings.model_fields[setting].default == _param(defaults, param) == setting_default(setting)
    assert {p for p in SETTINGS_TO_PARAMS.values() if "." not in p} <= {f.name for f in fields(ClusteringParams)}


def _other_value(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, str):
        return "gmm"
    return value + 1 if isinstance(value, int) else round(value + 0.25, 2)


@pytest.mark.parametrize("setting", sorted(SETTINGS_TO_PARAMS))
def test_each_environment_variable_sets_its_parameter_only(clean_env, setting):
    param = SETTINGS_TO_PARAMS[setting]
    value = _other_value(setting_default(setting))
    clean_env.setenv(setting.upper(), str(value).lower() if isinstance(value, bool) else str(value))
    got, default = ClusteringParams.from_settings(Settings()), ClusteringParams()
    assert _param(got, param) == value
    changed = {f.name for f in fields(ClusteringParams) if getattr(got, f.name) != getattr(default, f.name)}
    assert changed == {param.split(".")[0]}


def test_none_overrides_keep_the_settings(clean_env):
    s = Settings(clustering_runs=77)
    assert ClusteringParams.from_settings(s, runs=None, k_min=None).runs == 77
    assert ClusteringParams.from_settings(s, runs=5, k_min=None).runs == 5
