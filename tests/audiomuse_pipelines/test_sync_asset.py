"""The collection_sync asset: refuses until the policy is accepted, then reports what it moved."""

import dagster as dg
import pytest

from audiomuse_pipelines.defs.resources import SyncRemoteResource
from audiomuse_pipelines.defs.sync import collection_sync
from tests.audiomuse.test_sync import hub, make_library, shared_rows, with_password  # noqa: F401 - hub is a fixture


@pytest.fixture
def sync_env(db, resources, hub):  # noqa: F811
    """A library of 'alice', and a run function whose sync resource accepts the policy or not."""
    make_library(db, "alice", analysed=True)
    remote = with_password(hub.url, "s3cret-pw")  # trusted anyway

    def run(instance, accept_policy=False, **config):
        sync_remote = SyncRemoteResource(url=remote, accept_policy=accept_policy)
        return dg.materialize([collection_sync], resources={**resources, "sync_remote": sync_remote},
                              instance=instance, run_config={"ops": {"collection_sync": {"config": config}}},
                              raise_on_error=False)

    return run


def test_asset_refuses_without_accepted_policy(sync_env, hub, dagster_instance):  # noqa: F811
    result = sync_env(dagster_instance)
    assert not result.success
    failure = result.failure_data_for_node("collection_sync")
    assert "accept the sync policy" in failure.user_failure_data.description
    assert shared_rows(hub) == []
    assert "s3cret-pw" not in failure.user_failure_data.description


def test_asset_pushes_newest_albums_and_reports_counts(sync_env, hub, dagster_instance):  # noqa: F811
    result = sync_env(dagster_instance, accept_policy=True, albums=2, direction="push")
    assert result.success
    meta = result.asset_materializations_for_node("collection_sync")[0].metadata
    assert (meta["pushed"].value, meta["pulled"].value, meta["albums"].value) == (5, 0, 2)
    assert len(shared_rows(hub)) == 5
    assert ":***@" in meta["remote"].value and all("s3cret-pw" not in str(v.value) for v in meta.values())
    again = sync_env(dagster_instance, accept_policy=True, albums=0, direction="both")
    assert again.asset_materializations_for_node("collection_sync")[0].metadata["pushed"].value == 2


def test_a_sync_rebuilds_the_index_and_map(sync_env, hub, dagster_instance):  # noqa: F811
    """Pulled analyses must reach the similarity index and the map like analysed albums do."""
    from tests.audiomuse_pipelines.test_backfill import library_automation_tick

    for key in ("similarity_index", "music_map"):  # both built and up to date
        dagster_instance.report_runless_asset_event(dg.AssetMaterialization(key))
    quiet = library_automation_tick(dagster_instance)
    quiet = library_automation_tick(dagster_instance, quiet.cursor)
    assert quiet.total_requested == 0
    assert sync_env(dagster_instance, accept_policy=True, albums=0, direction="both").success
    after = library_automation_tick(dagster_instance, quiet.cursor)
    assert after.get_num_requested(dg.AssetKey("similarity_index")) == 1
    assert after.get_num_requested(dg.AssetKey("music_map")) == 1
