import pytest

from audiomuse.chat.validate import MAX_RELATION_REFS, UnsafeSql, validate_sql

BASE = "SELECT item_id, title, artist FROM chat_tracks"


@pytest.mark.parametrize("sql, expected", [
    (BASE, BASE + " LIMIT 25"),
    (BASE + " LIMIT 1000", BASE + " LIMIT 25"),
    (BASE + " LIMIT 7", BASE + " LIMIT 7"),
    (BASE + " LIMIT ALL", BASE + " LIMIT 25"),
    (BASE + " LIMIT NULL", BASE + " LIMIT 25"),
    (BASE + " LIMIT 10 OFFSET 5", BASE + " LIMIT 10 OFFSET 5"),
    (BASE + " FETCH FIRST 500 ROWS ONLY", BASE + " LIMIT 25"),
    (BASE + " FETCH FIRST 3 ROWS ONLY", BASE + " LIMIT 3"),
    (BASE + " FETCH FIRST 3 PERCENT ROWS ONLY", BASE + " LIMIT 25"),
    (BASE + ";", BASE + " LIMIT 25"),
    (BASE + " -- a comment\n", BASE + " LIMIT 25"),
    (f"{BASE} WHERE tempo > 120 UNION SELECT item_id, title, artist FROM chat_tracks WHERE energy > 0.3 LIMIT 99",
     f"{BASE} WHERE tempo > 120 UNION SELECT item_id, title, artist FROM chat_tracks WHERE energy > 0.3 LIMIT 25"),
])
def test_limit_is_forced(sql, expected):
    assert validate_sql(sql) == expected


def test_limit_in_subqueries_is_left_alone_but_top_level_is_capped():
    out = validate_sql(f"SELECT item_id, title, artist FROM ({BASE} LIMIT 500) AS s LIMIT 100")
    assert out == f"SELECT item_id, title, artist FROM ({BASE} LIMIT 500) AS s LIMIT 25"


@pytest.mark.parametrize("sql", [
    "SELECT item_id, title, artist FROM chat_tracks ORDER BY (mood_vector->>'rock')::float DESC",
    "select Item_ID, TITLE, Artist from CHAT_TRACKS where lower(artist) like '%wolves%'",
    "SELECT t.item_id, t.title, t.artist FROM chat_tracks t WHERE t.key = 'C' AND t.scale = 'minor'",
    "SELECT DISTINCT ON (artist) item_id, title, artist FROM chat_tracks ORDER BY artist, energy DESC NULLS LAST",
    "SELECT item_id, title, artist FROM chat_tracks WHERE artist ILIKE 'it''s%' AND title NOT ILIKE '%live%'",
    "WITH s AS (SELECT item_id, title, artist, COALESCE((other_features->>'happy')::float, 0) AS h FROM chat_tracks)"
    " SELECT item_id, title, artist FROM s WHERE h > 0.5 ORDER BY h DESC",
    "SELECT item_id, title, artist FROM (SELECT item_id, title, artist, ROW_NUMBER() OVER (PARTITION BY artist"
    " ORDER BY RANDOM()) AS n FROM chat_tracks) AS r WHERE n <= 2",
    "SELECT item_id, title, artist FROM chat_tracks WHERE artist IN (SELECT artist FROM chat_tracks GROUP BY artist"
    " HAVING COUNT(*) > 3 AND AVG(tempo) BETWEEN 100 AND 140)",
    "SELECT item_id, title, artist FROM chat_tracks WHERE year BETWEEN 1980 AND 1989 AND duration < 300"
    " ORDER BY CASE WHEN scale = 'minor' THEN 1 ELSE 0 END DESC, ROUND(CAST(tempo AS NUMERIC), 1)",
    "SELECT item_id, title, artist FROM chat_tracks WHERE EXISTS (SELECT 1 FROM chat_tracks c2"
    " WHERE c2.artist = chat_tracks.artist AND c2.item_id <> chat_tracks.item_id)",
    "SELECT a.item_id, a.title, a.artist FROM chat_tracks a JOIN chat_tracks b ON a.artist = b.artist"
    " WHERE b.title ILIKE '%intro%'",
    "SELECT item_id, title, artist FROM chat_tracks WHERE mood_vector ? 'rock' IS NOT TRUE OR tempo IS NULL"
    .replace(" ? 'rock' IS NOT TRUE OR", " ->> 'rock' IS NULL OR"),
    "SELECT item_id, title, artist FROM chat_tracks ORDER BY GREATEST(COALESCE((mood_vector->>'Hip-Hop')::float,"
    " 0), COALESCE((mood_vector->>'female vocalists')::float, 0)) DESC, LENGTH(TRIM(title)), ABS(tempo - 120)",
])
def test_allowed_queries_pass_and_normalise_stably(sql):
    out = validate_sql(sql)
    assert out.endswith("LIMIT 25")
    assert validate_sql(out) == out  # idempotent: what runs is what was checked


@pytest.mark.parametrize("sql, reason", [
    ("DELETE FROM tracks", "only SELECT"),
    ("SELECT 1; SELECT 2", "only one statement"),
    ("SELECT item_id FROM chat_tracks; DROP TABLE tracks", "only one statement"),
    ("SELECT pg_sleep(1) FROM chat_tracks", "function pg_sleep() is not allowed"),
    ("SELECT version() FROM chat_tracks", "version() is not allowed"),
    ("SELECT item_id FROM tracks", "relation 'tracks' is not allowed"),
    ("SELECT item_id FROM public.chat_tracks", "no schema-qualified names"),
    ("SELECT * FROM pg_catalog.pg_class", "no schema-qualified names"),
    ("SELECT * FROM pg_class", "system objects (pg_class)"),
    ("SELECT item_id FROM chat_tracks FOR UPDATE", "FOR UPDATE / FOR SHARE"),
    ("SELECT * INTO stolen FROM chat_tracks", "SELECT INTO"),
    ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n FROM r", "recursive"),
    ("SELECT xmin FROM chat_tracks", "unknown column 'xmin'"),
    ("SELECT item_id FROM chat_tracks x WHERE y.title = 'a'", "unknown table 'y'"),
    ("SELECT 1", "must read from chat_tracks"),
    ("SELECT a.item_id FROM chat_tracks a, chat_tracks b, chat_tracks c, chat_tracks d",
     f"at most {MAX_RELATION_REFS}"),
    ("SELECT item_id FROM chat_tracks WHERE title = E'\\x41'", "plain '...' string"),
    ("SELECT item_id FROM chat_tracks WHERE title = $$x$$", "plain '...' string"),
    ("SELECT item_id FROM chat_tracks WHERE title = $1", "parameters"),
    ("SELECT tempo::regclass FROM chat_tracks", "not allowed"),
    ("SELECT CAST(tempo AS date) FROM chat_tracks", "cast to DATE"),
    ("SELECT item_id AS \"a\"\"b\" FROM chat_tracks", "letters, digits"),
    ("SELECT item_id FROM chat_tracks, LATERAL (SELECT 1) AS l", "LATERAL"),
    ("VALUES (1)", "only SELECT"),
    ("", "empty"),
    ("   ;  ", "empty"),
    ("SELECT item_id FROM chat_tracks WHERE title = '" + "x" * 300 + "'", "limited to 200"),
    ("SELECT item_id FROM chat_tracks WHERE " + " OR ".join(["tempo = 1"] * 800), "longer than"),
])
def test_rejections_say_why(sql, reason):
    with pytest.raises(UnsafeSql) as info:
        validate_sql(sql)
    assert reason in info.value.reason


def test_non_text_is_rejected():
    with pytest.raises(UnsafeSql):
        validate_sql(None)  # type: ignore[arg-type]
