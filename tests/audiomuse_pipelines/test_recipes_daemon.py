"""Living playlists with the real Dagster daemon: the schedule daemon's tick at a recipe's hour
requests its refresh (and no other), the run-queue daemon launches it in a run worker that writes
the playlist on the (local folder) server; the sensor daemon evaluates recipes_automation (the
automation condition, in the code server) and refreshes 'new music' recipes, not timed ones, once the
similarity index has changed."""

from __future__ import annotations

import datetime
import logging
import time

import dagster as dg
import numpy as np
import pytest
from dagster._core.test_utils import freeze_time
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon
from dagster._daemon.sensor import execute_sensor_iteration
from dagster._scheduler.scheduler import launch_scheduled_runs

from audiomuse.artifact_builds import build_similarity_index
from audiomuse.catalog import refresh_catalog
from audiomuse.providers.local import LocalFolderProvider
from audiomuse.recipes.model import Recipe
from audiomuse.recipes.store import get_recipe, record_refresh, save_recipe
from audiomuse.store import analysis as analysis_store

pytestmark = pytest.mark.slow
log = logging.getLogger("test_recipes_daemon")
UTC = datetime.timezone.utc


def _library(db, music_dir) -> list[str]:
    """The music folder catalogued, each track given an embedding (no model needed here), index built."""
    refresh_catalog(LocalFolderProvider(music_dir), db)
    rng = np.random.default_rng(1)
    with db.connection() as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM tracks ORDER BY id")]
        for tid in ids:
            analysis_store.save_track_analysis(
                conn, tid, embedding=rng.standard_normal(200).astype(np.float32), n_patches=2, model="test",
                tempo=120.0, key="C", scale="major", energy=0.5, mood_vector={"rock": 0.5}, other_features={},
                signal_features={})
    build_similarity_index(db)
    return ids


def _recipe_runs(instance) -> list:
    return instance.get_runs(dg.RunsFilter(tags={"audiomuse/kind": "recipe"}))


def _no_errors(iterator) -> None:
    errors = [e for e in iterator if e is not None and getattr(e, "message", None)]
    assert not errors, errors


def _run_queue_until_finished(workspace, run_ids, give_up_after: float = 300):
    instance = workspace.instance
    queue = QueuedRunCoordinatorDaemon(interval_seconds=1)
    stop_at = time.monotonic() + give_up_after
    try:
        while True:
            list(queue.run_iteration(workspace))
            runs = [instance.get_run_by_id(r) for r in run_ids]
            if all(r.is_finished for r in runs):
                return runs
            if time.monotonic() > stop_at:  # a hang guard, not a speed check
                pytest.fail(f"runs stuck: {[(r.run_id, r.status) for r in runs]}")
            time.sleep(0.5)
    finally:
        queue._exit_stack.close()


def test_the_schedule_daemon_refreshes_a_timed_recipe_at_its_hour(app_env, production_instance, workspace,
                                                                  music_dir):
    db = app_env
    ids = _library(db, music_dir)
    with db.connection() as conn:
        morning = save_recipe(conn, Recipe("Morning", "similar", {"track_id": ids[0]}, refresh="daily",
                                           refresh_hour=7, size=3))
        evening = save_recipe(conn, Recipe("Evening", "similar", {"track_id": ids[0]}, refresh="daily",
                                           refresh_hour=19, size=3))
    production_instance.add_dynamic_partitions("recipes", [morning.partition_key, evening.partition_key])
    iteration_times: dict = {}
    for when in (datetime.datetime(2026, 12, 8, 6, 59, 30, tzinfo=UTC),
                 datetime.datetime(2026, 12, 8, 7, 0, 30, tzinfo=UTC)):
        with freeze_time(when):
            _no_errors(launch_scheduled_runs(workspace, log, when, iteration_times))
    runs = _recipe_runs(production_instance)
    assert [r.tags["dagster/partition"] for r in runs] == [morning.partition_key]
    (run,) = _run_queue_until_finished(workspace, [runs[0].run_id])
    assert run.status == dg.DagsterRunStatus.SUCCESS
    playlist = music_dir / "playlists" / "Morning_recipe.m3u8"
    assert playlist.exists() and len([line for line in playlist.read_text().splitlines()
                                      if line and not line.startswith("#")]) == 3
    with db.connection() as conn:
        assert len(get_recipe(conn, morning.id).track_ids) == 3
        assert get_recipe(conn, evening.id).refreshed_at is None


def test_the_sensor_daemon_refreshes_new_music_recipes_after_a_new_index(app_env, production_instance, workspace,
                                                                         music_dir):
    db = app_env
    ids = _library(db, music_dir)
    with db.connection() as conn:
        fresh = save_recipe(conn, Recipe("Fresh", "similar", {"track_id": ids[1]}, refresh="new_music", size=2))
        timed = save_recipe(conn, Recipe("Timed", "similar", {"track_id": ids[1]}, refresh="daily", size=2))
        for recipe in (fresh, timed):  # both built before: no first build is due
            record_refresh(conn, recipe.id, ids[2:4], "old.m3u8")
    start = datetime.datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
    with freeze_time(start):
        _no_errors(execute_sensor_iteration(workspace, log, None, None))
    assert set(production_instance.get_dynamic_partitions("recipes")) == {fresh.partition_key, timed.partition_key}
    assert _recipe_runs(production_instance) == []
    production_instance.report_runless_asset_event(dg.AssetMaterialization("similarity_index"))  # new music
    with freeze_time(start + datetime.timedelta(minutes=2)):
        _no_errors(execute_sensor_iteration(workspace, log, None, None))
    assert [r.tags["dagster/partition"] for r in _recipe_runs(production_instance)] == [fresh.partition_key]
