import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from audiomuse_pipelines.defs.catalog import catalog
from audiomuse_pipelines.defs.partitions import albums_partitions

ROOT = Path(__file__).resolve().parents[2]


def test_dagster_definitions_validate(tmp_path, pg_admin_url):
    """The CLI loads the code location against a PostgreSQL-backed instance, as `make run` does."""
    from audiomuse.store.server import with_database, with_driver
    from tests.conftest import create_database, drop_database

    name = create_database(pg_admin_url)
    (tmp_path / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path),
               DAGSTER_PG_URL=with_driver(with_database(pg_admin_url, name), "psycopg2"))
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    drop_database(pg_admin_url, name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "audiomuse" in proc.stdout + proc.stderr


def test_catalog_materialises_albums_and_partitions(db, resources, dagster_instance):
    result = dg.materialize([catalog], resources=resources, instance=dagster_instance)
    assert result.success
    meta = result.asset_materializations_for_node("catalog")[0].metadata
    assert meta["albums"].value == 2 and meta["tracks"].value == 5
    keys = dagster_instance.get_dynamic_partitions(albums_partitions.name)
    with db.connection() as conn:
        stored = {r[0]: r[1] for r in conn.execute("SELECT id, name FROM albums")}
        titles = sorted(r[0] for r in conn.execute("SELECT title FROM tracks"))
    assert sorted(keys) == sorted(stored)
    assert sorted(stored.values()) == ["First Light", "Second Wind"]
    assert titles == ["Breeze", "Calm", "Dawn", "Gale", "Noon"]


def test_catalog_rerun_adds_no_duplicates(db, resources, dagster_instance):
    for _ in range(2):
        assert dg.materialize([catalog], resources=resources, instance=dagster_instance).success
    assert len(dagster_instance.get_dynamic_partitions(albums_partitions.name)) == 2
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM tracks").fetchone()[0] == 5


def test_track_analysis_per_album_partition(db, resources, dagster_instance):
    from audiomuse_pipelines.defs.analysis import track_analysis

    assert dg.materialize([catalog], resources=resources, instance=dagster_instance).success
    albums = dagster_instance.get_dynamic_partitions(albums_partitions.name)
    result = dg.materialize([track_analysis], partition_key=albums[0], resources=resources,
                            instance=dagster_instance, selection=[track_analysis])
    assert result.success
    meta = result.asset_materializations_for_node("track_analysis")[0].metadata
    assert meta["tracks_analysed"].value in (2, 3) and meta["tracks_failed"].value == 0
    assert meta["audio_s_per_cpu_s"].value > 0
    assert (meta["artist"].value, meta["album"].value) in {("Alpha", "First Light"), ("Beta", "Second Wind")}
    with db.connection() as conn:
        analysed = conn.execute(
            "SELECT count(*) FROM embedding e JOIN tracks t ON t.id = e.track_id WHERE t.album_id = %s",
            (albums[0],)).fetchone()[0]
    assert analysed == meta["tracks_analysed"].value


def test_new_album_sensor_adds_partition_and_requests_one_run(db, resources, dagster_instance, music_dir):
    from audiomuse_pipelines.defs.analysis import new_albums_sensor
    from tests.audiomuse_pipelines.conftest import write_album

    assert dg.materialize([catalog], resources=resources, instance=dagster_instance).success
    # the two catalogued albums are requested once (run key = album id)
    first = new_albums_sensor(dg.build_sensor_context(instance=dagster_instance, resources=resources))
    assert len(first.run_requests) == 2
    # each run names its album for people (the partition key is the album id)
    assert sorted((r.tags["audiomuse/artist"], r.tags["audiomuse/album"]) for r in first.run_requests) == [
        ("Alpha", "First Light"), ("Beta", "Second Wind")]
    write_album(music_dir, "Gamma", "Third Time", ["Spark"])  # the user adds an album
    result = new_albums_sensor(dg.build_sensor_context(instance=dagster_instance, resources=resources))
    with db.connection() as conn:
        new_id = conn.execute("SELECT id FROM albums WHERE name = 'Third Time'").fetchone()[0]
    assert new_id in {r.partition_key for r in result.run_requests}
    assert all(r.run_key == r.partition_key for r in result.run_requests)
    added = [p for req in result.dynamic_partitions_requests for p in req.partition_keys]
    assert added == [new_id]


def test_resources_configured_in_code_need_no_environment(db, resources, dagster_instance, monkeypatch, tmp_path):
    """Catalog and analysis with every setting a resource field: nothing read from the environment."""
    from audiomuse.config import get_settings
    from audiomuse_pipelines.defs.analysis import track_analysis

    for name in ("DATABASE_URL", "MEDIA_SERVER_TYPE", "MEDIA_SERVER_URL", "MUSIC_DIR", "NUM_RECENT_ALBUMS",
                 "PATCH_HOP", "ANALYSIS_THREADS", "AUDIOMUSE_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AUDIOMUSE_CONFIG", str(tmp_path / "absent.toml"))  # nor from a config file
    get_settings.cache_clear()
    assert dg.materialize([catalog], resources=resources, instance=dagster_instance).success
    album = sorted(dagster_instance.get_dynamic_partitions(albums_partitions.name))[0]
    assert dg.materialize([track_analysis], partition_key=album, resources=resources,
                          instance=dagster_instance).success
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM embedding").fetchone()[0] in (2, 3)
    get_settings.cache_clear()


def test_resources_from_settings_name_secrets_never_carry_them(monkeypatch, tmp_path):
    """What the UI's resource page shows: the settings' values, and a secret as its variable's name."""
    from audiomuse.config import Settings
    from audiomuse_pipelines.defs.resources import resources_from_settings

    monkeypatch.setenv("MEDIA_SERVER_PASSWORD", "pw-7f3e1")
    monkeypatch.setenv("AI_API_KEY", "key-91c2d")
    monkeypatch.setenv("PLEX_USER_TOKENS", "bob:tok-55aa1")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = Settings(media_server_type="subsonic", media_server_url="http://music:4533", media_server_user="ann",
                        ai_model_provider="openai", num_recent_albums=5, data_dir=tmp_path, plex_library="Music",
                        mpd_music_dir=tmp_path / "mpd")
    resources = resources_from_settings(settings)
    media = resources["media_server"]
    assert (media.type, media.url, media.user) == ("subsonic", "http://music:4533", "ann")
    assert media.password == dg.EnvVar("MEDIA_SERVER_PASSWORD") and media.token is None
    assert resources["llm"].api_key == dg.EnvVar("AI_API_KEY") and resources["llm"].provider == "openai"
    assert resources["database"].url is None and resources["analysis"].recent_albums == 5
    assert (media.plex_library, media.plex_user_tokens) == ("Music", dg.EnvVar("PLEX_USER_TOKENS"))
    assert media.mpd_music_dir == str(tmp_path / "mpd")
    shown = " ".join(repr(r) for r in resources.values())
    assert "pw-7f3e1" not in shown and "key-91c2d" not in shown and "tok-55aa1" not in shown
    # the secret is read when Dagster initialises the resource for a run, not before
    resolved = media.process_config_and_initialize()
    assert resolved.settings().media_server_password.get_secret_value() == "pw-7f3e1"


def test_dg_check_defs(tmp_path, pg_admin_url):
    """`dg check defs` loads the defs folder as the dg CLI of a `create-dagster` project does."""
    from audiomuse.store.server import with_database, with_driver
    from tests.conftest import create_database, drop_database

    name = create_database(pg_admin_url)
    (tmp_path / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path),
               DAGSTER_PG_URL=with_driver(with_database(pg_admin_url, name), "psycopg2"))
    dg_cli = str(Path(sys.executable).parent / "dg")
    try:
        checked = subprocess.run([dg_cli, "check", "defs"], cwd=ROOT, env=env, capture_output=True, text=True,
                                 timeout=300)
        listed = subprocess.run([dg_cli, "list", "defs", "--json"], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=300)
    finally:
        drop_database(pg_admin_url, name)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
    assert listed.returncode == 0, listed.stderr
    for key in ("catalog", "track_analysis", "similarity_index", "music_map", "clustering_playlists",
                "published_playlists", "collection_sync", "new_albums_sensor", "library_automation",
                "media_server", "database", "analysis", "llm", "sync_remote"):
        assert f'"{key}"' in listed.stdout, key


def test_every_job_runs_its_steps_in_the_run_worker():
    """No job pays a second interpreter per step (defs/execution.py): the sensor's album job, the
    UI's asset job (backfills) and the recipe jobs all use the in-process executor."""
    from audiomuse_pipelines.definitions import defs

    jobs = defs().get_repository_def().get_all_jobs()
    assert {job.name for job in jobs} >= {"analyse_album", "__ASSET_JOB"}
    assert {job.name: job.executor_def.name for job in jobs} == {job.name: "in_process" for job in jobs}
