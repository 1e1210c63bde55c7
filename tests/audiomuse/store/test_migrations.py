from audiomuse.store import Database


def test_migrate_creates_schema_and_is_idempotent(empty_db: Database):
    assert empty_db.current_revision() is None
    empty_db.migrate()
    empty_db.migrate()  # a second run is a no-op, not an error
    from alembic.script import ScriptDirectory

    from audiomuse.store.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config(empty_db.url)).get_current_head()
    assert empty_db.current_revision() == head and head >= "0002"
    with empty_db.connection() as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        ext = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    assert {"albums", "tracks", "score", "embedding", "playlists", "artifacts"} <= tables
    assert ext is not None


def test_embedding_roundtrip_as_numpy(db: Database):
    import numpy as np

    vec = np.linspace(-1, 1, 200, dtype=np.float32)
    with db.connection() as conn:
        conn.execute("INSERT INTO albums (id, name) VALUES ('a1', 'Album')")
        conn.execute("INSERT INTO tracks (id, album_id, title, song_key) VALUES ('t1', 'a1', 'T', '|t')")
        conn.execute(
            "INSERT INTO embedding (track_id, embedding, n_patches, model) VALUES ('t1', %s, 3, 'm')", (vec,))
    with db.connection() as conn:
        got = conn.execute("SELECT embedding FROM embedding").fetchone()[0]
    assert np.allclose(got.to_numpy() if hasattr(got, "to_numpy") else got, vec)


def test_each_test_gets_an_empty_database(db: Database):
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM albums").fetchone()[0] == 0


def _columns(db: Database, table: str) -> set[str]:
    with db.connection() as conn:
        return {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,))}


def _indexes(db: Database, table: str) -> set[str]:
    with db.connection() as conn:
        return {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", (table,))}


def test_server_song_migration_keeps_older_rows_and_downgrades_cleanly(empty_db: Database):
    from alembic import command

    from audiomuse.store.db import alembic_config

    empty_db.migrate("0003")
    with empty_db.connection() as conn:  # a track stored before the revision
        conn.execute("INSERT INTO albums (id, name) VALUES ('a1', 'Album')")
        conn.execute("INSERT INTO tracks (id, album_id, title, song_key) VALUES ('t1', 'a1', 'T', '|t')")
    assert "server_song" not in _columns(empty_db, "tracks")
    empty_db.migrate()
    assert "server_song" in _columns(empty_db, "tracks") and "tracks_server_artist_idx" in _indexes(empty_db, "tracks")
    with empty_db.connection() as conn:
        assert conn.execute("SELECT title, server_song FROM tracks").fetchall() == [("T", None)]
        conn.execute("""UPDATE tracks SET server_song = '{"artistId": "ar1"}'""")
    command.downgrade(alembic_config(empty_db.url), "0003")
    assert empty_db.current_revision() == "0003"
    assert "server_song" not in _columns(empty_db, "tracks")
    assert "tracks_server_artist_idx" not in _indexes(empty_db, "tracks")
    with empty_db.connection() as conn:
        assert conn.execute("SELECT id, title FROM tracks").fetchall() == [("t1", "T")]
    empty_db.migrate()
    assert "server_song" in _columns(empty_db, "tracks") and "tracks_server_artist_idx" in _indexes(empty_db, "tracks")


def test_features_version_migration_leaves_older_scores_null_and_downgrades(empty_db: Database):
    from alembic import command

    from audiomuse.store.db import alembic_config

    empty_db.migrate("0005")
    with empty_db.connection() as conn:  # a score stored before versions
        conn.execute("INSERT INTO albums (id, name) VALUES ('a1', 'Album')")
        conn.execute("INSERT INTO tracks (id, album_id, title, song_key) VALUES ('t1', 'a1', 'T', '|t')")
        conn.execute("INSERT INTO score (track_id, tempo) VALUES ('t1', 120)")
    empty_db.migrate()
    assert "features_version" in _columns(empty_db, "score")
    with empty_db.connection() as conn:
        assert conn.execute("SELECT tempo, features_version FROM score").fetchall() == [(120.0, None)]
    command.downgrade(alembic_config(empty_db.url), "0005")
    assert "features_version" not in _columns(empty_db, "score")
    with empty_db.connection() as conn:
        assert conn.execute("SELECT track_id, tempo FROM score").fetchall() == [("t1", 120.0)]
