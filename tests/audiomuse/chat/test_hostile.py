"""A corpus of hostile SQL against a real, seeded database.

Every case must be rejected by validation or stopped at execution (role, read-only transaction,
timeout, temp-file limit); afterwards every table and the chat role are byte-for-byte unchanged.
Separately, the sandbox is shown to hold on its own: the same attacks, *bypassing* validation, fail
inside the chat transaction.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from audiomuse.chat import chat_playlist
from audiomuse.chat.execute import CHAT_ROLE, ChatQueryError, _check_sandbox, chat_transaction, run_chat_query
from audiomuse.chat.validate import UnsafeSql, validate_sql
from tests.audiomuse.chat.fakes import FakeLlm, seed_bulk, seed_moods, table_checksums

PWNED = "/tmp/audiomuse_pwned_sentinel"  # fixed: xdist workers must collect identical test ids
V = "SELECT item_id, title, artist FROM chat_tracks"

CORPUS: list[tuple[str, str]] = [
    # DML, directly and through data-modifying CTEs
    ("insert", "INSERT INTO albums (id, name) VALUES ('evil', 'evil')"),
    ("insert_select", "INSERT INTO playlists (name, kind, generation, track_ids) SELECT 'x', 'x', 'x', ARRAY['a']"),
    ("update", "UPDATE tracks SET title = 'pwned'"),
    ("delete", "DELETE FROM score"),
    ("delete_view", "DELETE FROM chat_tracks"),
    ("merge", "MERGE INTO tracks t USING albums a ON t.album_id = a.id WHEN MATCHED THEN DELETE"),
    ("cte_delete", "WITH d AS (DELETE FROM tracks RETURNING id) SELECT id AS item_id FROM d"),
    ("cte_update", "WITH u AS (UPDATE score SET energy = 0 RETURNING track_id) SELECT track_id FROM u"),
    ("cte_insert", f"WITH i AS (INSERT INTO albums (id, name) VALUES ('e', 'e') RETURNING id) {V}"),
    ("upsert", "INSERT INTO albums (id, name) VALUES ('a', 'b') ON CONFLICT (id) DO UPDATE SET name = 'c'"),
    # DDL and privilege changes
    ("drop_table", "DROP TABLE tracks CASCADE"),
    ("drop_view", "DROP VIEW chat_tracks"),
    ("truncate", "TRUNCATE tracks, albums CASCADE"),
    ("create_table_as", "CREATE TABLE stolen AS SELECT * FROM tracks"),
    ("create_temp", "CREATE TEMP TABLE t AS SELECT 1"),
    ("alter_table", "ALTER TABLE tracks ADD COLUMN evil int"),
    ("grant", f"GRANT ALL ON tracks TO {CHAT_ROLE}"),
    ("alter_role", f"ALTER ROLE {CHAT_ROLE} SUPERUSER"),
    ("create_function", "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql"),
    ("create_extension", "CREATE EXTENSION IF NOT EXISTS dblink"),
    ("comment_on", "COMMENT ON TABLE tracks IS 'pwned'"),
    ("vacuum", "VACUUM FULL tracks"),
    ("reindex", "REINDEX TABLE tracks"),
    ("security_label", "SECURITY LABEL ON TABLE tracks IS 'x'"),
    # Stacked statements, plain and hidden behind comments and quotes
    ("stacked_drop", f"{V}; DROP TABLE tracks"),
    ("stacked_select", f"{V}; {V}"),
    ("stacked_after_string", f"{V} WHERE title = 'a;b'; DELETE FROM tracks"),
    ("stacked_after_comment", f"{V} /* ; */ ; DROP TABLE tracks"),
    ("stacked_after_line_comment", f"{V} -- harmless\n; DELETE FROM tracks"),
    ("stacked_doubled_quote", f"{V} WHERE title = 'it''s'; DROP TABLE tracks; --'"),
    ("stacked_backslash_quote", f"{V} WHERE title = 'a\\'; DROP TABLE tracks; --'"),
    ("stacked_estring", f"{V} WHERE title = E'\\''; DROP TABLE tracks; --'"),
    ("stacked_dollar_quote", f"SELECT $$;$$ AS x FROM chat_tracks; DROP TABLE tracks"),
    ("unterminated_nested_comment", f"{V} /* a /* b */ ; DROP TABLE tracks --"),
    ("quoted_identifier_trick", f'SELECT item_id AS "x""; DROP TABLE tracks; --" FROM chat_tracks'),
    ("unicode_escape", f"{V} WHERE title = U&'\\0027; DROP TABLE tracks; --'"),
    ("begin_commit", "BEGIN; DELETE FROM tracks; COMMIT"),
    # Sleeping, spinning, exhausting
    ("pg_sleep", "SELECT pg_sleep(10)"),
    ("pg_sleep_in_where", f"{V} WHERE pg_sleep(5) IS NOT NULL"),
    ("pg_sleep_qualified", 'SELECT "pg_catalog"."pg_sleep"(5) FROM chat_tracks'),
    ("pg_sleep_for", "SELECT pg_sleep_for('5 seconds') FROM chat_tracks"),
    ("pg_sleep_scalar_subquery", f"{V} ORDER BY (SELECT pg_sleep(1))"),
    ("generate_series_bomb", "SELECT g AS item_id FROM generate_series(1, 1000000000) g"),
    ("repeat_bomb", "SELECT repeat('x', 1000000000) AS item_id FROM chat_tracks"),
    ("recursive_counter", "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n FROM r"),
    ("recursive_bomb", "WITH RECURSIVE b(item_id) AS (SELECT item_id FROM chat_tracks UNION ALL "
                       "SELECT x.item_id FROM b, chat_tracks x) SELECT item_id FROM b"),
    ("cross_join_5_way", "SELECT a.item_id, a.title, a.artist FROM chat_tracks a, chat_tracks b, chat_tracks c, "
                         "chat_tracks d, chat_tracks e ORDER BY random()"),
    ("cross_join_3_way", "SELECT a.item_id, a.title, a.artist FROM chat_tracks a, chat_tracks b, chat_tracks c "
                         "ORDER BY random()"),
    ("cross_join_3_way_concat", "SELECT a.item_id, a.title, a.artist FROM chat_tracks a CROSS JOIN chat_tracks b "
                                "CROSS JOIN chat_tracks c WHERE a.title || b.title || c.title LIKE '%zzz%'"),
    ("cross_join_3_way_group", "SELECT a.item_id, a.title, a.artist FROM chat_tracks a JOIN chat_tracks b ON TRUE "
                               "JOIN chat_tracks c ON TRUE GROUP BY a.item_id, a.title, a.artist HAVING COUNT(*) > 0"),
    ("regex_redos", f"{V} WHERE title ~ '(a+)+$'"),
    ("similar_to", f"{V} WHERE title SIMILAR TO '(a|aa)*b'"),
    ("tablesample", f"{V} TABLESAMPLE SYSTEM (100)"),
    # Files, programs, other databases
    ("pg_read_file", "SELECT pg_read_file('/etc/passwd') FROM chat_tracks"),
    ("pg_read_binary_file", "SELECT pg_read_binary_file('/etc/passwd') AS item_id FROM chat_tracks"),
    ("pg_ls_dir", "SELECT pg_ls_dir('.') AS item_id FROM chat_tracks"),
    ("pg_stat_file", "SELECT pg_stat_file('postgresql.conf') FROM chat_tracks"),
    ("copy_to_file", f"COPY tracks TO '{PWNED}'"),
    ("copy_to_program", f"COPY (SELECT 1) TO PROGRAM 'touch {PWNED}'"),
    ("copy_from_program", "COPY albums FROM PROGRAM 'echo x'"),
    ("lo_import", "SELECT lo_import('/etc/passwd') FROM chat_tracks"),
    ("lo_export", f"SELECT lo_export(1, '{PWNED}') FROM chat_tracks"),
    ("lo_create", "SELECT lo_create(0) FROM chat_tracks"),
    ("dblink", "SELECT * FROM dblink('dbname=postgres', 'DROP TABLE tracks') AS t(a text)"),
    ("dblink_exec", "SELECT dblink_exec('dbname=postgres', 'DROP TABLE tracks') FROM chat_tracks"),
    ("query_to_xml", "SELECT query_to_xml('DELETE FROM tracks RETURNING 1', true, true, '') FROM chat_tracks"),
    ("xpath", "SELECT xpath('/a', '<a/>') FROM chat_tracks"),
    # Session and role tampering
    ("set_config_role", "SELECT set_config('role', 'none', true) FROM chat_tracks"),
    ("set_config_timeout", "SELECT set_config('statement_timeout', '0', false) FROM chat_tracks"),
    ("set_role", "SET ROLE postgres"),
    ("reset_role", "RESET ROLE"),
    ("set_timeout", "SET statement_timeout = 0"),
    ("set_session_authorization", "SET SESSION AUTHORIZATION postgres"),
    ("current_setting", "SELECT current_setting('data_directory') AS item_id FROM chat_tracks"),
    ("pg_reload_conf", "SELECT pg_reload_conf() FROM chat_tracks"),
    ("pg_terminate_backend", "SELECT pg_terminate_backend(pg_backend_pid()) FROM chat_tracks"),
    ("pg_cancel_backend", "SELECT pg_cancel_backend(1) FROM chat_tracks"),
    ("advisory_lock", "SELECT pg_advisory_lock(1) FROM chat_tracks"),
    ("notify", "SELECT pg_notify('c', 'x') FROM chat_tracks"),
    ("listen", "LISTEN audiomuse"),
    # Side-effecting functions
    ("nextval", "SELECT nextval('playlists_id_seq') FROM chat_tracks"),
    ("setval", "SELECT setval('playlists_id_seq', 999) FROM chat_tracks"),
    ("txid_current", "SELECT txid_current() FROM chat_tracks"),
    ("pg_current_xact_id", "SELECT pg_current_xact_id() FROM chat_tracks"),
    ("pg_switch_wal", "SELECT pg_switch_wal() FROM chat_tracks"),
    # System catalogs and other tables
    ("pg_catalog_class", "SELECT relname AS item_id FROM pg_catalog.pg_class"),
    ("pg_class_unqualified", "SELECT relname FROM pg_class"),
    ("pg_shadow", "SELECT usename, passwd FROM pg_shadow"),
    ("pg_authid", "SELECT rolname, rolpassword FROM pg_authid"),
    ("pg_roles", "SELECT rolname FROM pg_roles"),
    ("pg_stat_activity", "SELECT query FROM pg_stat_activity"),
    ("information_schema", "SELECT table_name FROM information_schema.tables"),
    ("catalog_in_subquery", f"{V} WHERE artist IN (SELECT usename FROM pg_user)"),
    ("catalog_in_join", f"{V}, pg_class"),
    ("catalog_in_cte", "WITH x AS (SELECT * FROM pg_authid) SELECT rolname FROM x"),
    ("alias_shadow", "SELECT item_id FROM chat_tracks AS pg_class"),
    ("base_table_tracks", "SELECT id, title, artist FROM tracks"),
    ("base_table_qualified", "SELECT id FROM public.tracks"),
    ("base_table_only", "SELECT id FROM ONLY tracks"),
    ("base_table_artifacts", "SELECT name, data FROM artifacts"),
    ("base_table_subquery", f"{V} WHERE item_id IN (SELECT track_id FROM embedding)"),
    ("table_command", "TABLE tracks"),
    ("version", "SELECT version() FROM chat_tracks"),
    ("current_user", "SELECT current_user FROM chat_tracks"),
    ("user_keyword", "SELECT user FROM chat_tracks"),
    ("system_column", "SELECT xmin, ctid FROM chat_tracks"),
    ("regclass_cast", "SELECT 'pg_authid'::regclass FROM chat_tracks"),
    # Other statements
    ("select_into", "SELECT * INTO stolen FROM chat_tracks"),
    ("for_update", f"{V} FOR UPDATE"),
    ("for_share", f"{V} FOR SHARE"),
    ("for_no_key_update", f"{V} FOR NO KEY UPDATE SKIP LOCKED"),
    ("do_block", "DO $$ BEGIN DELETE FROM tracks; END $$"),
    ("call", "CALL some_procedure()"),
    ("explain_analyze", "EXPLAIN ANALYZE DELETE FROM tracks"),
    ("explain", f"EXPLAIN {V}"),
    ("prepare_execute", "PREPARE p AS DELETE FROM tracks; EXECUTE p"),
    ("lock_table", "LOCK TABLE tracks IN ACCESS EXCLUSIVE MODE"),
    ("values", "VALUES ('x', 'y', 'z')"),
    ("show", "SHOW data_directory"),
    ("parameter", f"{V} WHERE title = $1"),
    ("lateral", f"{V}, LATERAL (SELECT pg_sleep(1)) s"),
]
# These pass validation on purpose (one view, three references): execution stops them
# (statement timeout, or temp_file_limit when the sort spills to disk).
STOPPED_AT_EXECUTION = {"cross_join_3_way", "cross_join_3_way_concat", "cross_join_3_way_group"}

# Tricks that normalisation defuses: valid and harmless once regenerated. They run; the SQL that
# runs carries no comment and no second statement.
DEFUSED = [
    f"{V} WHERE title = 'a;b' -- ; DROP TABLE tracks",
    f"{V} /* ; DELETE FROM tracks */ WHERE tempo > 0",
    f"{V} WHERE title <> '; DROP TABLE tracks; --'",
    f"{V} WHERE artist ILIKE '%''; DROP TABLE tracks; --%'",
    f"{V} /* a /* b */ ; DROP TABLE tracks; */",  # nested comment, as PostgreSQL reads it too
]


@pytest.fixture
def hostile_db(db):
    seed_moods(db)
    seed_bulk(db, 400)  # enough rows that a 3-way cross join runs for many seconds
    return db


def _outcome(db, sql: str) -> str:
    try:
        rows = run_chat_query(db, sql)
    except UnsafeSql:
        return "rejected"
    except ChatQueryError as exc:
        return f"stopped:{exc.sqlstate}"
    return f"RAN ({len(rows)} rows)"


def test_corpus_is_large_and_distinct():
    names = [name for name, _ in CORPUS]
    assert len(CORPUS) >= 50 and len(set(names)) == len(names)
    assert STOPPED_AT_EXECUTION <= set(names)


def test_hostile_corpus_is_rejected_or_stopped_and_nothing_changes(hostile_db):
    before = table_checksums(hostile_db)
    outcomes: dict[str, str] = {}
    timings: dict[str, float] = {}
    for name, sql in CORPUS:
        started = time.monotonic()
        outcomes[name] = _outcome(hostile_db, sql)
        timings[name] = time.monotonic() - started
    after = table_checksums(hostile_db)

    ran = {n: o for n, o in outcomes.items() if o.startswith("RAN")}
    assert ran == {}
    rejected = {n for n, o in outcomes.items() if o == "rejected"}
    stopped = {n: o for n, o in outcomes.items() if o.startswith("stopped")}
    assert set(stopped) == STOPPED_AT_EXECUTION, stopped
    # 57014 = statement timeout, 53400 = temp_file_limit: resource limits, not errors in the query
    assert all(o in ("stopped:57014", "stopped:53400") for o in stopped.values()), stopped
    assert len(rejected) == len(CORPUS) - len(STOPPED_AT_EXECUTION)
    assert all(timings[n] < 4.0 for n in stopped), timings  # the 2 s timeout, not the query, ended it
    assert after == before
    assert not Path(PWNED).exists()


def test_hostile_corpus_through_the_whole_chat_pipeline(hostile_db):
    """The same corpus as if a model had answered with it: no rows, an error, nothing changed."""
    before = table_checksums(hostile_db)
    for name, sql in CORPUS:
        if name in STOPPED_AT_EXECUTION:
            continue  # covered above; each costs the full timeout
        llm = FakeLlm([f"Here you go:\n```sql\n{sql}\n```"])
        result = chat_playlist(hostile_db, llm, "anything", max_attempts=1)
        assert result.rows == [] and result.error and result.sql is None, (name, result)
    assert table_checksums(hostile_db) == before
    assert not Path(PWNED).exists()


@pytest.mark.parametrize("sql", DEFUSED)
def test_comment_and_quote_tricks_are_defused_by_normalisation(hostile_db, sql):
    before = table_checksums(hostile_db)
    safe = validate_sql(sql)
    without_strings = re.sub(r"'(?:[^']|'')*'", "''", safe)
    assert ";" not in without_strings and "--" not in without_strings and "/*" not in without_strings
    run_chat_query(hostile_db, sql)
    assert table_checksums(hostile_db) == before


# ---------------------------------------------------------------------------------------------
# The sandbox on its own: no validation, straight into the chat transaction.

SANDBOX_REFUSES = [
    # (sql, acceptable SQLSTATEs) 25006 read-only transaction, 42501 insufficient privilege
    ("INSERT INTO albums (id, name) VALUES ('evil', 'evil')", {"25006", "42501"}),
    ("UPDATE tracks SET title = 'pwned'", {"25006", "42501"}),
    ("DELETE FROM score", {"25006", "42501"}),
    ("DELETE FROM chat_tracks", {"25006", "42501", "55000"}),
    ("TRUNCATE tracks CASCADE", {"25006", "42501"}),
    ("DROP TABLE tracks CASCADE", {"25006", "42501"}),
    ("CREATE TABLE evil (x int)", {"25006", "42501"}),
    ("CREATE TEMP TABLE evil (x int)", {"25006", "42501"}),
    ("SELECT nextval('playlists_id_seq')", {"25006", "42501"}),
    ("SELECT lo_create(0)", {"25006", "42501"}),
    ("SELECT * FROM tracks", {"42501"}),
    ("SELECT * FROM score", {"42501"}),
    ("SELECT data FROM artifacts", {"42501"}),
    ("SELECT rolpassword FROM pg_authid", {"42501"}),
    ("SELECT passwd FROM pg_shadow", {"42501"}),
    ("SELECT pg_read_file('/etc/passwd')", {"42501"}),
    ("SELECT pg_ls_dir('.')", {"42501"}),
    ("SELECT lo_import('/etc/passwd')", {"25006", "42501"}),
    (f"COPY (SELECT 1) TO '{PWNED}'", {"42501"}),
    (f"COPY (SELECT 1) TO PROGRAM 'touch {PWNED}'", {"42501"}),
    ("SELECT pg_terminate_backend(pg_backend_pid())", {"42501"}),
    ("SELECT pg_reload_conf()", {"42501"}),
    (f"GRANT SELECT ON tracks TO {CHAT_ROLE}", {"25006", "42501"}),
]


@pytest.mark.parametrize("sql, states", SANDBOX_REFUSES, ids=[s for s, _ in SANDBOX_REFUSES])
def test_sandbox_alone_refuses(hostile_db, sql, states):
    before = table_checksums(hostile_db)
    with chat_transaction(hostile_db) as conn:
        with pytest.raises(psycopg.Error) as info:
            conn.execute(sql)
    assert info.value.sqlstate in states, info.value
    assert table_checksums(hostile_db) == before
    assert not Path(PWNED).exists()


def test_sandbox_alone_reads_only_the_view(hostile_db):
    with chat_transaction(hostile_db) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == CHAT_ROLE
        assert conn.execute("SELECT count(*) FROM chat_tracks").fetchone()[0] == 18 + 400
        assert conn.execute("SHOW transaction_read_only").fetchone()[0] == "on"


def test_sandbox_timeout_stops_pg_sleep(hostile_db):
    started = time.monotonic()
    with chat_transaction(hostile_db, timeout_ms=300) as conn:
        with pytest.raises(errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(10)")
    assert time.monotonic() - started < 3


def test_role_alone_is_not_a_boundary_so_validation_and_the_tripwire_cover_it(hostile_db):
    """RESET ROLE / set_config('role') get back to the session user: PostgreSQL allows it to anyone.
    Validation rejects both, and the tripwire after each query would throw the rows away."""
    with chat_transaction(hostile_db) as conn:
        conn.execute("SELECT set_config('role', 'none', true)")
        assert conn.execute("SELECT current_user").fetchone()[0] != CHAT_ROLE
        with pytest.raises(ChatQueryError, match="sandbox check failed"):
            _check_sandbox(conn)
    for sql in ("RESET ROLE", "SELECT set_config('role', 'none', true) FROM chat_tracks"):
        with pytest.raises(UnsafeSql):
            validate_sql(sql)


def test_statement_timeout_stops_a_validated_query(hostile_db):
    sql = CORPUS[[n for n, _ in CORPUS].index("cross_join_3_way")][1]
    validate_sql(sql)  # passes validation ...
    started = time.monotonic()
    with pytest.raises(ChatQueryError, match="stopped after 200 ms") as info:
        run_chat_query(hostile_db, sql, timeout_ms=200)  # ... and the timeout ends it
    assert info.value.sqlstate == "57014"
    assert time.monotonic() - started < 2
