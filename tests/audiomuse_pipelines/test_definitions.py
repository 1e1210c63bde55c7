import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from audiomuse_pipelines.defs.catalog import catalog
from audiomuse_pipelines.defs.partitions import albums_partitions
from audiomuse_pipelines.defs.resources import default_resources

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


def test_catalog_materialises_albums_and_partitions(app_env, dagster_instance):
    result = dg.materialize([catalog], resources=default_resources(), instance=dagster_instance)
    assert result.success
    meta = result.asset_materializations_for_node("catalog")[0].metadata
    assert meta["albums"].value == 2 and meta["tracks"].value == 5
    keys = dagster_instance.get_dynamic_partitions(albums_partitions.name)
    with app_env.connection() as conn:
        stored = {r[0]: r[1] for r in conn.execute("SELECT id, name FROM albums")}
        titles = sorted(r[0] for r in conn.execute("SELECT title FROM tracks"))
    assert sorted(keys) == sorted(stored)
    assert sorted(stored.values()) == ["First Light", "Second Wind"]
    assert titles == ["Breeze", "Calm", "Dawn", "Gale", "Noon"]


def test_catalog_rerun_adds_no_duplicates(app_env, dagster_instance):
    for _ in range(2):
        assert dg.materialize([catalog], resources=default_resources(), instance=dagster_instance).success
    assert len(dagster_instance.get_dynamic_partitions(albums_partitions.name)) == 2
    with app_env.connection() as conn:
        assert conn.execute("SELECT count(*) FROM tracks").fetchone()[0] == 5


def test_track_analysis_per_album_partition(app_env, dagster_instance):
    from audiomuse_pipelines.defs.analysis import track_analysis

    assert dg.materialize([catalog], resources=default_resources(), instance=dagster_instance).success
    albums = dagster_instance.get_dynamic_partitions(albums_partitions.name)
    result = dg.materialize([track_analysis], partition_key=albums[0], resources=default_resources(),
                            instance=dagster_instance, selection=[track_analysis])
    assert result.success
    meta = result.asset_materializations_for_node("track_analysis")[0].metadata
    assert meta["tracks_analysed"].value in (2, 3) and meta["tracks_failed"].value == 0
    assert meta["audio_s_per_cpu_s"].value > 0
    with app_env.connection() as conn:
        analysed = conn.execute(
            "SELECT count(*) FROM embedding e JOIN tracks t ON t.id = e.track_id WHERE t.album_id = %s",
            (albums[0],)).fetchone()[0]
    assert analysed == meta["tracks_analysed"].value


def test_new_album_sensor_adds_partition_and_requests_one_run(app_env, dagster_instance, music_dir):
    from audiomuse_pipelines.defs.analysis import new_albums_sensor
    from tests.audiomuse_pipelines.conftest import write_album

    assert dg.materialize([catalog], resources=default_resources(), instance=dagster_instance).success
    # the two catalogued albums are requested once (run key = album id)
    first = new_albums_sensor(dg.build_sensor_context(instance=dagster_instance, resources=default_resources()))
    assert len(first.run_requests) == 2
    write_album(music_dir, "Gamma", "Third Time", ["Spark"])  # the user adds an album
    from audiomuse.config import get_settings
    get_settings.cache_clear()
    result = new_albums_sensor(dg.build_sensor_context(instance=dagster_instance, resources=default_resources()))
    with app_env.connection() as conn:
        new_id = conn.execute("SELECT id FROM albums WHERE name = 'Third Time'").fetchone()[0]
    assert new_id in {r.partition_key for r in result.run_requests}
    assert all(r.run_key == r.partition_key for r in result.run_requests)
    added = [p for req in result.dynamic_partitions_requests for p in req.partition_keys]
    assert added == [new_id]
