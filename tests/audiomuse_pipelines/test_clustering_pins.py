"""A clustering playlist pinned between two materialisations of ``clustering_playlists`` survives
the second run under its name; the others are replaced."""

from __future__ import annotations

import dagster as dg

from audiomuse.playlists.clustering import current_playlists, pin_playlist
from audiomuse_pipelines.defs.clustering import clustering_playlists
from tests.seed import seed_library

SMALL = {"runs": 40, "k_min": 2, "k_max": 5, "min_playlist_size": 5, "top_playlists": 4, "workers": 1}


def _materialise(instance, resources) -> dg.ExecuteInProcessResult:
    result = dg.materialize([clustering_playlists], instance=instance, resources=resources,
                            run_config=dg.RunConfig(ops={"clustering_playlists": {"config": SMALL}}))
    assert result.success
    return result


def test_pinned_playlist_survives_the_next_clustering_run(db, resources, dagster_instance):
    seed_library(db)
    first = _materialise(dagster_instance, resources)
    before = current_playlists(db)
    assert len(before) >= 2 and {p["generation"] for p in before} == {first.run_id}
    keep = before[0]
    pin_playlist(db, keep["id"], True)

    second = _materialise(dagster_instance, resources)
    after = current_playlists(db)
    (pinned,) = [p for p in after if p["pinned"]]
    assert (pinned["id"], pinned["name"], pinned["track_ids"], pinned["generation"]) == (
        keep["id"], keep["name"], keep["track_ids"], first.run_id)
    others = [p for p in after if not p["pinned"]]
    assert others and {p["generation"] for p in others} == {second.run_id}
    names = [p["name"] for p in after]
    assert len(set(names)) == len(names)
    metadata = dagster_instance.get_latest_materialization_event(clustering_playlists.key) \
        .asset_materialization.metadata
    assert metadata["pinned_kept"].value == 1
    assert metadata["names"].value == [p["name"] for p in others]
