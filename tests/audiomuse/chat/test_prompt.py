import pytest

from audiomuse.chat.prompt import (
    COLUMNS,
    EXAMPLES,
    FEATURE_NAMES,
    MOOD_LABELS,
    build_retry_prompt,
    build_system_prompt,
    build_user_prompt,
    extract_sql,
)
from audiomuse.chat.validate import validate_sql

SQL = "SELECT item_id, title, artist FROM chat_tracks ORDER BY energy DESC LIMIT 25"


def test_system_prompt_lists_view_columns_labels_features_and_rules():
    prompt = build_system_prompt()
    assert "chat_tracks" in prompt
    for column in COLUMNS:
        assert f"  {column} " in prompt
    assert len(MOOD_LABELS) == 50 and len(set(MOOD_LABELS)) == 50
    for label in MOOD_LABELS:
        assert f"'{label}'" in prompt
    for feature in FEATURE_NAMES:
        assert f"'{feature}'" in prompt
    assert "LIMIT 25" in prompt and "SQL only" in prompt
    assert "Request: energetic rock" in prompt
    assert "Some artists" not in prompt


def test_system_prompt_can_name_artists_quoted():
    prompt = build_system_prompt(["Guns N' Roses", "Björk"])
    assert "'Guns N'' Roses'" in prompt and "'Björk'" in prompt


def test_every_example_passes_validation_unchanged_in_meaning():
    for request, sql in EXAMPLES:
        assert validate_sql(sql).endswith("LIMIT 25"), request


def test_user_and_retry_prompts():
    assert build_user_prompt("  sad songs ") == "Request: sad songs\nSQL:"
    retry = build_retry_prompt("sad songs", "SELECT pg_sleep(1)", "function pg_sleep() is not allowed")
    assert "SELECT pg_sleep(1)" in retry and "pg_sleep() is not allowed" in retry and retry.endswith("SQL:")


@pytest.mark.parametrize("answer", [
    SQL,
    SQL + ";",
    SQL + ";;\n",
    f"```sql\n{SQL}\n```",
    f"```SQL\n{SQL};\n```",
    f"```\n{SQL}\n```",
    f"Here is your query:\n\n```postgresql\n{SQL}\n```\n\nIt sorts by energy. Enjoy!",
    f"Here is your query: {SQL};\n\nThis query sorts the songs by energy.",
    f"Sure, with pleasure!\n{SQL}\n\nExplanation: it sorts the songs by energy.",
    f"<think>The user wants energy. I will SELECT by energy.</think>\n{SQL}",
    f"`{SQL}`",
    f"SQL: {SQL}",
])
def test_extract_sql_strips_fences_prose_and_semicolons(answer):
    assert extract_sql(answer) == SQL


def test_extract_sql_keeps_multiline_query_with_blank_lines():
    sql = "SELECT item_id, title, artist\nFROM chat_tracks\n\nWHERE tempo > 120\n\nORDER BY tempo DESC\nLIMIT 25"
    assert extract_sql(f"```sql\n{sql}\n```") == sql
    assert extract_sql(sql + "\n\nThis picks fast songs.") == sql


def test_extract_sql_smart_quotes_become_ascii():
    answer = "SELECT item_id, title, artist FROM chat_tracks WHERE artist ILIKE \u2018%daft punk%\u2019 LIMIT 25"
    assert extract_sql(answer) == (
        "SELECT item_id, title, artist FROM chat_tracks WHERE artist ILIKE '%daft punk%' LIMIT 25")
    assert "\u201c" not in extract_sql("SELECT \u201ctitle\u201d FROM chat_tracks")


def test_extract_sql_prefers_the_sql_fence_and_finds_with_queries():
    answer = ("Plan:\n```text\nfirst rank rock\n```\n```sql\nWITH r AS (SELECT item_id, title, artist FROM chat_tracks)"
              " SELECT item_id, title, artist FROM r LIMIT 25\n```")
    assert extract_sql(answer).startswith("WITH r AS (SELECT")
    prose_with = "With this query you get rock:\nWITH r AS (SELECT item_id FROM chat_tracks) SELECT item_id FROM r"
    assert extract_sql(prose_with) == "WITH r AS (SELECT item_id FROM chat_tracks) SELECT item_id FROM r"


def test_extract_sql_keeps_semicolons_inside_strings_and_comments():
    sql = "SELECT item_id, title, artist FROM chat_tracks WHERE title = 'a;b' /* ; */ LIMIT 25"
    assert extract_sql(sql + "; -- done") == sql


def test_extract_sql_never_hides_a_second_statement():
    # The second statement stays so that validation rejects the answer instead of running half of it.
    for answer in ["SELECT item_id FROM chat_tracks; DROP TABLE tracks",
                   "SELECT item_id FROM chat_tracks;\n\ndelete from tracks;",
                   "```sql\nSELECT 1; /* x */ UPDATE tracks SET title = 'x'\n```"]:
        assert ";" in extract_sql(answer)
