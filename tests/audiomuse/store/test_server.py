import psycopg
import pytest

from audiomuse.config import Settings
from audiomuse.store import Database, database_urls, stop_embedded_server
from audiomuse.store.server import with_driver


def test_embedded_server_starts_on_demand_is_reused_and_stops(server_tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_PG_URL", raising=False)
    settings = Settings(database_url=None, data_dir=server_tmp_path / "data")
    first = database_urls(settings)
    try:
        assert first.embedded
        Database(first.app).migrate()
        with psycopg.connect(first.app) as conn:
            conn.execute("INSERT INTO albums (id, name) VALUES ('x', 'Kept')")
        again = database_urls(settings)  # a second process would reuse the running server
        assert again.app == first.app
        with psycopg.connect(again.dagster) as conn:
            assert conn.execute("SELECT current_database()").fetchone()[0] == "dagster"
        assert first.dagster_sqlalchemy().startswith("postgresql+psycopg2://")
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


def test_external_url_is_used_as_is(monkeypatch):
    monkeypatch.delenv("DAGSTER_PG_URL", raising=False)
    urls = database_urls(Settings(database_url="postgresql://u:pw@db.example/am"))
    assert not urls.embedded and urls.app == "postgresql://u:pw@db.example/am"
    assert urls.dagster_sqlalchemy() == "postgresql+psycopg2://u:pw@db.example/am"
    assert with_driver("postgres://h/db", "psycopg") == "postgresql+psycopg://h/db"


def test_unreachable_server_error_names_host_not_password():
    db = Database("postgresql://am:topsecret@127.0.0.1:1/audiomuse?connect_timeout=2")
    with pytest.raises(ConnectionError) as err:
        with db.connection():
            pass
    assert "127.0.0.1" in str(err.value) and "topsecret" not in str(err.value)
    assert "topsecret" not in repr(db)
