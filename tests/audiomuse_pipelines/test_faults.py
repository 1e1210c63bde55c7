"""Faults in real Dagster runs on a PostgreSQL-backed instance: the media server going down
mid-album (retried, then the partition fails cleanly and a re-run finishes it), wrong
credentials (no retry, no secret in any event), and a clustering run terminated mid-search
(the previous playlists and index stay)."""

from __future__ import annotations

import logging
import threading
import time

import dagster as dg
import pytest

from audiomuse.providers.base import ProviderUnavailable
from audiomuse.providers.local import LocalFolderProvider
from audiomuse_pipelines.defs.analysis import track_analysis
from audiomuse_pipelines.defs.catalog import catalog
from audiomuse_pipelines.defs.partitions import albums_partitions
from audiomuse_pipelines.defs.resources import AnalysisResource, DatabaseResource, MediaServerResource
from tests.test_faults import own_server  # noqa: F401 - a fixture


@pytest.fixture
def no_retry_delay(monkeypatch):
    """The production policy (30 s, 60 s, 120 s) without the waiting: same retry count."""
    policy = track_analysis.op.retry_policy
    monkeypatch.setattr(track_analysis.op, "_retry_policy", dg.RetryPolicy(max_retries=policy.max_retries))
    return policy.max_retries


class FailingDownloads:
    """Shared across the step's attempts: downloads numbered ``down`` fail as a server that is down."""

    def __init__(self, down: set[int]):
        self.down, self.count = down, 0


class FlakyMediaServer(MediaServerResource):
    """The local folder, whose downloads fail while the 'server' is down (see ``STATE``)."""

    def provider(self):
        state = STATE["downloads"]

        class Flaky(LocalFolderProvider):
            def download(self, track, dest_dir):
                state.count += 1
                if state.count in state.down:
                    raise ProviderUnavailable("Subsonic server at http://127.0.0.1:9", "unreachable after 3 attempts")
                return super().download(track, dest_dir)

        return Flaky(self.music_dir)


STATE: dict = {}


def _events(instance, run_id, event_type):
    return [e for e in instance.all_logs(run_id) if e.dagster_event and e.dagster_event.event_type == event_type]


def _analysis_rows(db):
    with db.connection() as conn:
        return conn.execute("SELECT count(*), count(DISTINCT track_id) FROM embedding").fetchone()


def _partitions(instance, resources):
    assert dg.materialize([catalog], resources=resources, instance=instance).success
    return sorted(instance.get_dynamic_partitions(albums_partitions.name))


def test_server_back_after_one_attempt_the_retry_finishes_the_album(db, resources, dagster_instance, no_retry_delay):
    albums = _partitions(dagster_instance, resources)
    second_wind = next(a for a in albums if _album_size(db, a) == 3)
    STATE["downloads"] = FailingDownloads(down={2})  # track 2 of the first attempt
    result = dg.materialize([track_analysis], partition_key=second_wind, instance=dagster_instance,
                            resources={**resources, "media_server": FlakyMediaServer(music_dir=resources["media_server"].music_dir)})
    assert result.success
    assert len(_events(dagster_instance, result.run_id, dg.DagsterEventType.STEP_UP_FOR_RETRY)) == 1
    meta = result.asset_materializations_for_node("track_analysis")[0].metadata
    assert meta["tracks_analysed"].value == 2 and meta["tracks_skipped"].value == 1  # track 1 kept
    assert _analysis_rows(db) == (3, 3)


def test_server_down_for_good_fails_the_partition_after_retries_and_a_rerun_finishes(
        db, resources, dagster_instance, no_retry_delay):
    albums = _partitions(dagster_instance, resources)
    second_wind = next(a for a in albums if _album_size(db, a) == 3)
    STATE["downloads"] = FailingDownloads(down=set(range(2, 100)))
    failed = dg.materialize([track_analysis], partition_key=second_wind, instance=dagster_instance,
                            resources={**resources, "media_server": FlakyMediaServer(music_dir=resources["media_server"].music_dir)},
                            raise_on_error=False)
    assert not failed.success
    assert len(_events(dagster_instance, failed.run_id, dg.DagsterEventType.STEP_UP_FOR_RETRY)) == no_retry_delay
    (failure,) = _events(dagster_instance, failed.run_id, dg.DagsterEventType.STEP_FAILURE)
    assert "Subsonic server at http://127.0.0.1:9: unreachable" in str(failure.dagster_event.event_specific_data.error)
    assert _analysis_rows(db) == (1, 1)  # the track done before the server went down
    rerun = dg.materialize([track_analysis], partition_key=second_wind, instance=dagster_instance,
                           resources=resources)
    assert rerun.success
    assert rerun.asset_materializations_for_node("track_analysis")[0].metadata["tracks_skipped"].value == 1
    assert _analysis_rows(db) == (3, 3)


def test_bad_tracks_are_not_retried(db, resources, dagster_instance, music_dir, no_retry_delay):
    """A file that is not audio is recorded and the album succeeds on the first attempt."""
    (music_dir / "Beta" / "Second Wind" / "04 - Broken.flac").write_bytes(b"fLaC" + b"\0" * 64)
    albums = _partitions(dagster_instance, resources)
    second_wind = next(a for a in albums if _album_size(db, a) == 4)
    result = dg.materialize([track_analysis], partition_key=second_wind, instance=dagster_instance,
                            resources=resources)
    assert result.success
    assert _events(dagster_instance, result.run_id, dg.DagsterEventType.STEP_UP_FOR_RETRY) == []
    meta = result.asset_materializations_for_node("track_analysis")[0].metadata
    assert meta["tracks_failed"].value == 1 and meta["tracks_analysed"].value == 3


def _album_size(db, album_id) -> int:
    with db.connection() as conn:
        return conn.execute("SELECT count(*) FROM tracks WHERE album_id = %s", (album_id,)).fetchone()[0]


# -- wrong credentials -------------------------------------------------------------------------------

USER = "alice"
SECRET = "s3cret-Pa55-word"
WRONG = "wr0ng-Pa55-word-77"


def _fake(kind):
    from tests.audiomuse.providers.fakes.base import sample_library
    from tests.audiomuse.providers.fakes.jellyfin import JellyfinFake
    from tests.audiomuse.providers.fakes.lyrion import LyrionFake
    from tests.audiomuse.providers.fakes.subsonic import SubsonicFake

    library = sample_library()
    if kind == "subsonic":
        return SubsonicFake(USER, SECRET, library)
    if kind == "jellyfin":
        return JellyfinFake(SECRET, library)
    return LyrionFake(library, user=USER, password=SECRET)


def _catalog_with_wrong_credentials(kind, url, resources, instance, caplog):
    secret = {"token": WRONG} if kind == "jellyfin" else {"password": WRONG}
    media_server = MediaServerResource(type=kind, url=url, user=USER, retries=1, **secret)
    resources = {**resources, "media_server": media_server}
    with caplog.at_level(logging.DEBUG):
        result = dg.materialize([catalog], resources=resources, instance=instance, raise_on_error=False)
    assert not result.success
    (failure,) = _events(instance, result.run_id, dg.DagsterEventType.STEP_FAILURE)
    message = str(failure.dagster_event.event_specific_data.error)
    assert f"server at {url}" in message and "rejected the credentials" in message
    everything = caplog.text + "\n".join(
        f"{e.user_message} {e.dagster_event.event_specific_data if e.dagster_event else ''} {e.message}"
        for e in instance.all_logs(result.run_id))
    for secret in (WRONG, WRONG.encode().hex(), SECRET):
        assert secret not in everything
    assert WRONG not in str(instance.get_run_by_id(result.run_id))  # run config and tags
    from pathlib import Path

    captured = [f for f in Path(instance.root_directory).rglob("*") if f.is_file()]  # compute logs
    assert any(b"rejected the credentials" in f.read_bytes() for f in captured)  # the failure is there...
    assert not [f for f in captured if WRONG.encode() in f.read_bytes()]  # ...the password is not
    return message


@pytest.mark.parametrize("kind", ["subsonic", "jellyfin", "lyrion"])
def test_wrong_credentials_fail_the_catalog_clearly_without_the_secret(kind, resources, dagster_instance, caplog):
    with _fake(kind) as fake:
        _catalog_with_wrong_credentials(kind, fake.url, resources, dagster_instance, caplog)


@pytest.mark.slow
def test_wrong_password_against_real_supysonic(resources, dagster_instance, caplog, tmp_path):
    from tests.audiomuse.providers.conftest import build_generated_library, supysonic_server

    music = build_generated_library(tmp_path / "music")
    with supysonic_server(music, tmp_path / "supysonic", user=USER, password=SECRET) as url:
        message = _catalog_with_wrong_credentials("subsonic", url, resources, dagster_instance, caplog)
    assert f"user '{USER}'" in message


def test_wrong_credentials_in_analysis_fail_the_album_without_retries(resources, dagster_instance, no_retry_delay):
    """Retrying cannot fix a password, and the tracks are not bad: the step fails once."""
    albums = _partitions(dagster_instance, resources)
    with _fake("lyrion") as fake:
        lyrion = MediaServerResource(type="lyrion", url=fake.url, user=USER, password=WRONG)
        result = dg.materialize([track_analysis], partition_key=albums[0], instance=dagster_instance,
                                resources={**resources, "media_server": lyrion}, raise_on_error=False)
    assert not result.success
    assert _events(dagster_instance, result.run_id, dg.DagsterEventType.STEP_UP_FOR_RETRY) == []


# -- a clustering run terminated ---------------------------------------------------------------------

SMALL = {"runs": 40, "k_min": 2, "k_max": 5, "min_playlist_size": 5, "top_playlists": 4,
         "workers": 1}


def _clustering_config(**over):
    return dg.RunConfig(ops={"clustering_playlists": {"config": {**SMALL, **over}}})


def test_terminated_clustering_run_keeps_previous_playlists_and_index(db, resources, dagster_instance):
    from audiomuse.artifact_builds import build_similarity_index
    from audiomuse.playlists.clustering import current_playlists
    from audiomuse_pipelines.defs.clustering import clustering_playlists
    from tests.seed import seed_library

    seed_library(db)
    build_similarity_index(db)
    first = dg.materialize([clustering_playlists], instance=dagster_instance, resources=resources,
                           run_config=_clustering_config())
    assert first.success
    before = current_playlists(db)
    with db.connection() as conn:
        index_before = conn.execute("SELECT name, sha256 FROM artifacts WHERE name <> 'score_scaler' ORDER BY name").fetchall()
    assert before and {p["generation"] for p in before} == {first.run_id}

    outcome = {}

    def long_run():  # far more iterations than it can finish before it is terminated
        outcome["result"] = dg.materialize([clustering_playlists], instance=dagster_instance,
                                           resources=resources, raise_on_error=False,
                                           run_config=_clustering_config(runs=1_000_000))

    worker = threading.Thread(target=long_run)
    worker.start()
    run = _wait_for_progress(dagster_instance, first.run_id)
    dagster_instance.report_run_canceling(run)  # what "Terminate" in the UI does first
    worker.join(timeout=300)
    assert not worker.is_alive()
    result = outcome["result"]
    assert not result.success
    (failure,) = _events(dagster_instance, result.run_id, dg.DagsterEventType.STEP_FAILURE)
    assert "ClusteringCancelled" in str(failure.dagster_event.event_specific_data.error)
    assert current_playlists(db) == before
    with db.connection() as conn:
        assert conn.execute("SELECT name, sha256 FROM artifacts WHERE name <> 'score_scaler' ORDER BY name").fetchall() == index_before
    assert dagster_instance.get_latest_materialization_event(clustering_playlists.key).run_id == first.run_id


def _wait_for_progress(instance, other_run_id):
    """The second clustering run, once it has logged search progress (it is in the search loop)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        for run in instance.get_runs():
            if run.run_id != other_run_id and run.status == dg.DagsterRunStatus.STARTED:
                if any("clustering:" in (e.user_message or "") for e in instance.all_logs(run.run_id)):
                    return run
        time.sleep(0.2)
    raise AssertionError("the clustering run never started searching")


# -- the database restarts during a run ----------------------------------------------------------------

def test_database_restart_during_an_analysis_run(own_server, music_dir):
    """One PostgreSQL holds both the app's and Dagster's storage (as in docker/compose.yaml); it is
    stopped while track 2 is analysed and back 2 s later. The run finishes: both sides reconnect."""
    from audiomuse.store.server import ensure_database, with_database, with_driver
    from tests.test_faults import RestartingProvider

    pgdata, db = own_server
    admin = with_database(db.url, "postgres")
    ensure_database(admin, "dagster")
    providers = []

    class RestartingServer(MediaServerResource):
        def provider(self):
            providers.append(RestartingProvider(music_dir, pgdata, at_download=2, restart_after=2.0))
            return providers[-1]

    storage = {"postgres": {"postgres_url": with_driver(with_database(db.url, "dagster"), "psycopg2")}}
    with dg.instance_for_test(overrides={"storage": storage}) as instance:
        resources = {"database": DatabaseResource(url=db.url),
                     "media_server": MediaServerResource(type="local", music_dir=str(music_dir)),
                     "analysis": AnalysisResource(threads=1, patch_hop=187, recent_albums=0)}
        albums = _partitions(instance, resources)
        second_wind = next(a for a in albums if _album_size(db, a) == 3)
        result = dg.materialize([track_analysis], partition_key=second_wind, instance=instance,
                                resources={**resources, "media_server": RestartingServer()})
        providers[0].restarter.join()
        assert result.success
        assert result.asset_materializations_for_node("track_analysis")[0].metadata["tracks_analysed"].value == 3
        assert _analysis_rows(db) == (3, 3)
        assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.SUCCESS


# -- a crashed run worker ------------------------------------------------------------------------------

@pytest.fixture
def served(app_env, workspace):
    """The `make run` instance (dagster.yaml on PostgreSQL) and the workspace.yaml code location in
    its own gRPC code server, on a seeded library."""
    from tests.seed import seed_library

    seed_library(app_env)
    return workspace


def _launch_clustering(ws, runs: int) -> str:
    from dagster_graphql.client.query import LAUNCH_PIPELINE_EXECUTION_MUTATION
    from dagster_graphql.test.utils import execute_dagster_graphql

    params = {"selector": {"repositoryLocationName": "audiomuse", "repositoryName": "__repository__",
                           "pipelineName": "__ASSET_JOB", "assetSelection": [{"path": ["clustering_playlists"]}]},
              "runConfigData": {"ops": {"clustering_playlists": {"config": {**SMALL, "runs": runs}}}},
              "executionMetadata": {"tags": [{"key": "audiomuse/kind", "value": "library"}]}}
    result = execute_dagster_graphql(ws.create_request_context(), LAUNCH_PIPELINE_EXECUTION_MUTATION,
                                     {"executionParams": params})
    assert not result.errors, result.errors
    launched = result.data["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


@pytest.mark.slow
def test_crashed_run_worker_is_marked_failed_and_retried_once(served):
    """The run worker of a clustering run is killed (as an OOM kill would): the code server marks
    the run failed, the run-retry daemon launches it again once, and a failed *step* would not be."""
    import os
    import re
    import signal

    from dagster._core.events import RunFailureReason
    from dagster._daemon.auto_run_reexecution.auto_run_reexecution import (
        auto_reexecution_should_retry_run,
        consume_new_runs_for_automatic_reexecution,
    )
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

    instance = served.instance
    run_id = _launch_clustering(served, runs=1_000_000)  # far more than it does before the kill
    queue = QueuedRunCoordinatorDaemon(interval_seconds=1)
    try:
        pid = None
        for _ in range(600):
            list(queue.run_iteration(served))
            logs = [e.message or "" for e in instance.all_logs(run_id)]
            started = [m for m in logs if m.startswith("Started process for run (pid:")]
            if started and any("clustering:" in m for m in logs):
                pid = int(re.search(r"pid: (\d+)", started[0]).group(1))
                break
            time.sleep(0.5)
        assert pid, "the clustering run never got going"
        os.kill(pid, signal.SIGKILL)
        for _ in range(240):
            run = instance.get_run_by_id(run_id)
            if run.status == dg.DagsterRunStatus.FAILURE:
                break
            time.sleep(0.5)
        assert run.status == dg.DagsterRunStatus.FAILURE
        messages = [e.message or "" for e in instance.all_logs(run_id)]
        assert "This run has been marked as failed from outside the execution context." in messages

        list(consume_new_runs_for_automatic_reexecution(served, [instance.get_run_record_by_id(run_id)], log))
        (retry,) = instance.get_runs(dg.RunsFilter(tags={"dagster/parent_run_id": run_id}))
        assert retry.tags["dagster/retry_number"] == "1" and retry.tags["audiomuse/kind"] == "library"
        assert retry.run_config == instance.get_run_by_id(run_id).run_config
        assert not auto_reexecution_should_retry_run(instance, run, RunFailureReason.STEP_FAILURE)
        instance.report_run_canceled(retry)  # still queued: it never runs its million iterations
    finally:
        queue._exit_stack.close()


log = logging.getLogger(__name__)
