import psycopg
import pytest

from audiomuse.config import Settings
from audiomuse.store import Database, database_urls, stop_embedded_server
from audiomuse.store.server import with_driver


def test_embedded_server_starts_on_demand_is_reused_and_stops(server_tmp_path):
    """Also Dagster's storage beside it, as the launcher (make run) sets it up."""
    from audiomuse_run.launcher import dagster_storage_url

    settings = Settings(database_url=None, data_dir=server_tmp_path / "data")
    first = database_urls(settings)
    try:
        assert first.embedded
        Database(first.app).migrate()
        with psycopg.connect(first.app) as conn:
            conn.execute("INSERT INTO albums (id, name) VALUES ('x', 'Kept')")
        again = database_urls(settings)  # a second process would reuse the running server
        assert again.app == first.app
        dagster = dagster_storage_url(settings, again)
        assert dagster.startswith("postgresql+psycopg2://")
        with psycopg.connect(dagster.replace("+psycopg2", "")) as conn:
            assert conn.execute("SELECT current_database()").fetchone()[0] == "dagster"
    finally:
        assert stop_embedded_server(settings.pgdata_dir)
    assert not stop_embedded_server(settings.pgdata_dir)
    # data survives a restart
    restarted = database_urls(settings)
    try:
        with psycopg.connect(restarted.app) as conn:
            assert conn.execute("SELECT name FROM albums").fetchone()[0] == "Kept"
    finally:
        stop_embedded_server(settings.pgdata_dir)


def test_external_url_is_used_as_is():
    from audiomuse_run.launcher import dagster_storage_url

    settings = Settings(database_url="postgresql://u:pw@db.example/am", dagster_pg_url=None)
    urls = database_urls(settings)
    assert not urls.embedded and urls.app == "postgresql://u:pw@db.example/am"
    # Dagster's storage: its own URL when given, else the app database
    assert dagster_storage_url(settings, urls) == "postgresql+psycopg2://u:pw@db.example/am"
    own = settings.model_copy(update={"dagster_pg_url": Settings(dagster_pg_url="postgresql://d@h/dg").dagster_pg_url})
    assert dagster_storage_url(own, urls) == "postgresql+psycopg2://d@h/dg"
    assert with_driver("postgres://h/db", "psycopg") == "postgresql+psycopg://h/db"


def test_unreachable_server_error_names_host_not_password():
    db = Database("postgresql://am:topsecret@127.0.0.1:1/audiomuse?connect_timeout=2")
    with pytest.raises(ConnectionError) as err:
        with db.connection():
            pass
    assert "127.0.0.1" in str(err.value) and "topsecret" not in str(err.value)
    assert "topsecret" not in repr(db)
