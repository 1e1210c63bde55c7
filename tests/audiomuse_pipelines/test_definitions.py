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
