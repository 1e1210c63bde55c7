"""Backfilling every album partition of ``track_analysis`` the way the Dagster UI does it.

The UI's "Materialize" dialog sends the GraphQL mutation ``launchPartitionBackfill``; the daemon's
backfill loop then submits one run per partition to the run queue, and the queue daemon launches
them. These tests do all of that for real: the production instance (``dagster.yaml`` on
PostgreSQL), the code location of ``workspace.yaml`` served by a gRPC code server, the GraphQL
schema of dagster-graphql, the backfill and run-queue daemon iterations, and run workers that
analyse small real audio files into a real PostgreSQL app database.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus
from dagster._core.storage.tags import BACKFILL_ID_TAG, PARTITION_NAME_TAG
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._daemon.backfill import execute_backfill_iteration
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon
from dagster_graphql.client.query import LAUNCH_PARTITION_BACKFILL_MUTATION
from dagster_graphql.test.utils import execute_dagster_graphql

from audiomuse.config import get_settings
from audiomuse_app.dagster_queries import ASSET_FOR_LAUNCH, BACKFILL_STATUS, LAUNCH_BACKFILL
from audiomuse_pipelines.defs.catalog import catalog
from audiomuse_pipelines.defs.partitions import albums_partitions
from audiomuse_pipelines.defs.resources import resources_from_settings
from tests.audiomuse.providers.conftest import build_generated_library

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TRACK_ANALYSIS = ["track_analysis"]
log = logging.getLogger("test_backfill")


@pytest.fixture
def music_dir(tmp_path) -> Path:
    """Overrides the Dagster conftest's: three albums of small real files (and a text file named
    .mp3, which the catalog skips)."""
    return build_generated_library(tmp_path / "music")


def graphql(workspace: WorkspaceProcessContext, query: str, variables: dict) -> dict:
    result = execute_dagster_graphql(workspace.create_request_context(), query, variables)
    assert not result.errors, result.errors
    return result.data


def launch_dialog_params(workspace: WorkspaceProcessContext, form: str = "asset page", run_config: str | None = None):
    """The ``backfillParams`` the UI's partition dialog sends with every partition selected
    (dagster-webserver 1.13's LaunchAssetChoosePartitionsDialog, ``onLaunchAsBackfill``).

    ``asset page``: the dialog opened from the asset's page, whose target is the asset's first job
    (sorted, so the hidden ``__ASSET_JOB``): a named job gets a partition-set selector, the hidden
    one a pure asset backfill. ``job page``: opened from the analyse_album job. ``all partitions``:
    the dialog's ``pureAll`` form. ``run_config``: the YAML saved from the launchpad.
    """
    node = graphql(workspace, ASSET_FOR_LAUNCH, {"assetKey": {"path": TRACK_ANALYSIS}})["assetNodeOrError"]
    assert node["__typename"] == "AssetNode"
    assert node["partitionDefinition"]["type"] == "DYNAMIC"
    (dimension,) = node["partitionKeysByDimension"]
    repository = {"repositoryLocationName": node["repository"]["location"]["name"],
                  "repositoryName": node["repository"]["name"]}
    params = {"tags": [], "assetSelection": [{"path": TRACK_ANALYSIS}]}
    if run_config is not None:
        params["runConfigData"] = run_config
    if form == "all partitions":
        return {**params, "allPartitions": True}
    params.update(partitionNames=dimension["partitionKeys"], fromFailure=False)
    job = {"asset page": node["jobNames"][0], "job page": "analyse_album"}[form]
    if not job.startswith("__ASSET_JOB"):
        params["selector"] = {"partitionSetName": f"{job}_partition_set", "repositorySelector": repository}
    return params


def launch_backfill(workspace: WorkspaceProcessContext, params: dict) -> str:
    data = graphql(workspace, LAUNCH_PARTITION_BACKFILL_MUTATION, {"backfillParams": params})
    launched = data["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    return launched["backfillId"]


def backfill_runs(instance, backfill_id: str) -> list:
    return instance.get_runs(dg.RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))


def request_backfill_runs(workspace: WorkspaceProcessContext, backfill_id: str) -> list:
    """Backfill-daemon ticks only, until the backfill has submitted its runs (they wait in the queue)."""
    for _ in range(20):
        errors = [e for e in execute_backfill_iteration(workspace, log) if e is not None]
        assert not errors, errors
        runs = backfill_runs(workspace.instance, backfill_id)
        if runs:
            return runs
    pytest.fail("the backfill daemon submitted no run")


def run_daemons_until_done(workspace: WorkspaceProcessContext, backfill_id: str, give_up_after: float = 900):
    """One tick of the backfill daemon and of the run-queue daemon at a time, as `dagster-daemon`
    runs them, until the backfill is terminal and each of its runs has finished."""
    instance = workspace.instance
    queue = QueuedRunCoordinatorDaemon(interval_seconds=1)
    stop_at = time.monotonic() + give_up_after
    try:
        while True:
            errors = [e for e in execute_backfill_iteration(workspace, log) if e is not None]
            assert not errors, errors
            list(queue.run_iteration(workspace))
            backfill = instance.get_backfill(backfill_id)
            runs = backfill_runs(instance, backfill_id)
            if backfill.status != BulkActionStatus.REQUESTED and all(r.is_finished for r in runs):
                return backfill, runs
            if time.monotonic() > stop_at:  # a hang guard, not a speed check
                pytest.fail(f"backfill stuck in {backfill.status}: {[(r.run_id, r.status) for r in runs]}")
            time.sleep(0.5)
    finally:
        queue._exit_stack.close()


def library_automation_tick(instance, cursor=None):
    """One evaluation of library_automation's conditions (the index and the map) on the instance."""
    from audiomuse_pipelines.definitions import defs

    return dg.evaluate_automation_conditions(
        defs(), instance, asset_selection=dg.AssetSelection.assets("similarity_index", "music_map"), cursor=cursor
    )


def most_steps_executing_at_once(instance, runs) -> int:
    """How many track_analysis steps overlapped, from the event log's insertion order (no clocks)."""
    ends = {dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
    marks = []
    for run in runs:
        records = instance.get_records_for_run(run.run_id, of_type={dg.DagsterEventType.STEP_START, *ends}).records
        marks += [(r.storage_id, -1 if r.event_log_entry.dagster_event_type in ends else 1) for r in records]
    running = most = 0
    for _, step in sorted(marks):
        running += step
        most = max(most, running)
    return most


def analysis_rows(db) -> dict[str, tuple]:
    """track id -> (album id, has embedding, has score, analysed_at, analysis_error)."""
    with db.connection() as conn:
        rows = conn.execute(
            """SELECT t.id, t.album_id, e.track_id IS NOT NULL, s.track_id IS NOT NULL, t.analysed_at,
                      t.analysis_error
               FROM tracks t LEFT JOIN embedding e ON e.track_id = t.id LEFT JOIN score s ON s.track_id = t.id"""
        ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def catalogued_albums(db, instance) -> set[str]:
    """The catalog materialised in process with the resources the code server loads (app_env)."""
    resources = resources_from_settings(get_settings())
    assert dg.materialize([catalog], resources=resources, instance=instance).success
    albums = set(instance.get_dynamic_partitions(albums_partitions.name))
    with db.connection() as conn:
        assert albums == {r[0] for r in conn.execute("SELECT id FROM albums")}
    assert len(albums) == 3
    return albums


def test_asset_page_backfill_of_all_partitions_analyses_every_album_once(app_env, production_instance, workspace):
    """The whole path: UI mutation, backfill daemon, run queue (dagster.yaml's limits), run workers."""
    albums = catalogued_albums(app_env, production_instance)
    backfill_id = launch_backfill(workspace, launch_dialog_params(workspace))
    request_backfill_runs(workspace, backfill_id)
    # while the backfill runs, the library automation waits (no index rebuilt after every album)
    waiting = library_automation_tick(production_instance)
    assert waiting.total_requested == 0
    backfill, runs = run_daemons_until_done(workspace, backfill_id)
    # ...and once it is done, the index and the map are rebuilt once
    done = library_automation_tick(production_instance, waiting.cursor)
    assert done.get_num_requested(dg.AssetKey("similarity_index")) == 1
    assert done.get_num_requested(dg.AssetKey("music_map")) == 1

    # one run per album, each album exactly once, all succeeded, the backfill completed
    assert sorted(r.tags[PARTITION_NAME_TAG] for r in runs) == sorted(albums)
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), [(r.run_id, r.status) for r in runs]
    assert backfill.status == BulkActionStatus.COMPLETED_SUCCESS
    status = graphql(workspace, BACKFILL_STATUS, {"backfillId": backfill_id})["partitionBackfillOrError"]
    assert status == {"__typename": "PartitionBackfill", "status": "COMPLETED_SUCCESS", "numPartitions": 3,
                      "isAssetBackfill": True}
    assert production_instance.get_materialized_partitions(dg.AssetKey(TRACK_ANALYSIS)) == albums
    # dagster.yaml: at most two analyses at once on a 2-core machine, a UI backfill included
    assert production_instance.get_concurrency_config().pool_config.default_pool_limit == 2
    assert 1 <= most_steps_executing_at_once(production_instance, runs) <= 2

    # every catalogued track analysed (the generated library's text-as-mp3 file is never catalogued)
    rows = analysis_rows(app_env)
    assert len(rows) == 6
    assert all(emb and score and at is not None and err is None for _, emb, score, at, err in rows.values())
    assert {album for album, *_ in rows.values()} == albums

    # the same backfill again: a run per album, nothing re-analysed, no row added or changed
    again_id = launch_backfill(workspace, launch_dialog_params(workspace))
    again, again_runs = run_daemons_until_done(workspace, again_id)
    assert again.status == BulkActionStatus.COMPLETED_SUCCESS
    assert sorted(r.tags[PARTITION_NAME_TAG] for r in again_runs) == sorted(albums)
    assert analysis_rows(app_env) == rows
    with app_env.connection() as conn:
        counts = conn.execute("SELECT (SELECT count(*) FROM embedding), (SELECT count(*) FROM score)").fetchone()
    assert counts == (6, 6)
    for album in albums:
        (record,) = production_instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(TRACK_ANALYSIS), asset_partitions=[album]), limit=1
        ).records
        meta = record.asset_materialization.metadata
        assert record.run_id in {r.run_id for r in again_runs}
        assert meta["tracks_analysed"].value == 0 and meta["tracks_skipped"].value >= 1


@pytest.mark.parametrize("form", ["asset page", "job page", "all partitions"])
def test_every_ui_backfill_form_requests_one_run_per_album(app_env, production_instance, workspace, form):
    """Each form of the mutation the dialog can send makes the daemon request exactly the albums."""
    albums = catalogued_albums(app_env, production_instance)
    params = launch_dialog_params(workspace, form)
    if form == "asset page":  # the asset's first job is the hidden one: a pure asset backfill
        assert "selector" not in params and "partitionNames" in params
    backfill_id = launch_backfill(workspace, params)
    runs = request_backfill_runs(workspace, backfill_id)
    assert sorted(r.tags[PARTITION_NAME_TAG] for r in runs) == sorted(albums)
    assert all(r.asset_selection == {dg.AssetKey(TRACK_ANALYSIS)} for r in runs)
    assert all(r.status == dg.DagsterRunStatus.QUEUED for r in runs)  # dagster.yaml's run queue
    # only the job's runs carry its tags (the tag limit); whichever job, the analysis pool caps them
    assert all(("audiomuse/kind" in r.tags) == (form == "job page") for r in runs)
    assert all(r.run_op_concurrency and r.run_op_concurrency.all_pools == {"analysis"} for r in runs)


def test_backfill_with_dialog_config_forces_reanalysis_in_every_run(app_env, production_instance, workspace):
    """Re-analysing everything = the config `force: true` saved from the launchpad reaches each run."""
    albums = catalogued_albums(app_env, production_instance)
    force = "ops:\n  track_analysis:\n    config:\n      force: true\n"
    backfill_id = launch_backfill(workspace, launch_dialog_params(workspace, run_config=force))
    runs = request_backfill_runs(workspace, backfill_id)
    assert sorted(r.tags[PARTITION_NAME_TAG] for r in runs) == sorted(albums)
    assert all(r.run_config == {"ops": {"track_analysis": {"config": {"force": True}}}} for r in runs)


def test_check_ui_backfill_speaks_the_ui_mutation(app_env, production_instance, workspace):
    """scripts/check_ui.py --backfill: its documents are valid for this Dagster and launch the same
    backfill as the dialog (the live check against `make run` is the script itself)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_ui", ROOT / "scripts" / "check_ui.py")
    check_ui = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_ui)
    albums = catalogued_albums(app_env, production_instance)
    key = {"assetKey": {"path": TRACK_ANALYSIS}}
    node = graphql(workspace, ASSET_FOR_LAUNCH, key)["assetNodeOrError"]
    assert node["partitionStats"] == {"numMaterialized": 0, "numPartitions": 3, "numFailed": 0}
    params = check_ui.dialog_backfill_params(node)
    assert params == launch_dialog_params(workspace, "asset page")
    launched = graphql(workspace, LAUNCH_BACKFILL, {"backfillParams": params})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess"
    runs = request_backfill_runs(workspace, launched["backfillId"])
    assert sorted(r.tags[PARTITION_NAME_TAG] for r in runs) == sorted(albums)
    status = graphql(workspace, BACKFILL_STATUS, {"backfillId": launched["backfillId"]})
    assert status["partitionBackfillOrError"] == {"__typename": "PartitionBackfill", "status": "REQUESTED",
                                                  "numPartitions": 3, "isAssetBackfill": True}


def test_a_crashed_analysis_gives_its_pool_slot_back(production_instance, workspace):
    """A run worker killed mid-analysis never frees its `analysis` slot itself: dagster.yaml has the
    monitoring daemon free it once the run is marked failed, so crashes cannot starve the pool."""
    import datetime

    from dagster._core.test_utils import create_run_for_test, freeze_time
    from dagster._daemon.monitoring.concurrency import execute_concurrency_slots_iteration
    from dagster._time import get_current_datetime

    storage = production_instance.event_log_storage
    run = create_run_for_test(production_instance, job_name="__ASSET_JOB", status=dg.DagsterRunStatus.STARTED)
    storage.initialize_concurrency_limit_to_default("analysis")
    assert storage.claim_concurrency_slot("analysis", run.run_id, "track_analysis").is_claimed
    production_instance.report_run_failed(run)  # what the code server does when the worker dies
    list(execute_concurrency_slots_iteration(workspace, log))
    assert storage.get_concurrency_info("analysis").active_slot_count == 1  # not before the grace period
    with freeze_time(get_current_datetime() + datetime.timedelta(minutes=5)):
        list(execute_concurrency_slots_iteration(workspace, log))
    info = storage.get_concurrency_info("analysis")
    assert info.active_slot_count == 0 and info.slot_count == 2
