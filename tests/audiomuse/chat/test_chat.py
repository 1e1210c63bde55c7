"""chat_playlist end to end: model answer -> extracted, validated, sandboxed SQL -> rows."""

from audiomuse.chat import ChatResult, chat_playlist
from audiomuse.config import Settings
from audiomuse.playlists.artist_cap import NO_CAP
from tests.audiomuse.chat.fakes import FakeLlm, FakeProviderServer, seed_moods, table_checksums

METAL_SQL = ("SELECT item_id, title, artist FROM chat_tracks "
             "ORDER BY COALESCE((mood_vector->>'metal')::float, 0) DESC, tempo DESC LIMIT 100")


def test_chatty_fenced_answer_becomes_a_playlist(db):
    seeded = seed_moods(db)
    llm = FakeLlm([f"Sure! Here's a heavy one:\n\n```sql\n{METAL_SQL};\n```\n\nEnjoy the headbanging."])
    result = chat_playlist(db, llm, "fast metal please", max_per_artist=NO_CAP)
    assert isinstance(result, ChatResult) and result.ok and result.provider == "fake"
    # metal 0.85 (tempo desc), then 0.83, 0.81, 0.79
    assert result.item_ids[:6] == ["fast_metal00", "slow_metal01", "slow_metal00", "fast_metal01", "fast_metal02",
                                   "fast_metal03"]
    assert set(result.item_ids[6:]) == set(seeded.ambient + seeded.pop)
    assert result.sql.endswith("LIMIT 25") and "100" not in result.sql
    assert len(result.rows) == 18 and result.attempts == 1
    system, user = llm.calls[0]
    assert "chat_tracks" in system and user == "Request: fast metal please\nSQL:"


def test_mentioned_library_artists_reach_the_prompt(db):
    seed_moods(db)
    llm = FakeLlm(["SELECT item_id, title, artist FROM chat_tracks WHERE artist ILIKE '%iron wolves%'"])
    result = chat_playlist(db, llm, "best of iron wolves")
    assert "'Iron Wolves'" in llm.calls[0][0] and "'Sunny Girls'" not in llm.calls[0][0]
    assert len(result.rows) == 6


def test_rejected_answer_is_retried_with_the_reason(db):
    seeded = seed_moods(db)
    before = table_checksums(db)
    llm = FakeLlm(["SELECT item_id, title, artist FROM tracks; DELETE FROM tracks", METAL_SQL])
    result = chat_playlist(db, llm, "metal", max_per_artist=NO_CAP)
    assert result.ok and result.attempts == 2 and set(result.item_ids[:6]) == set(seeded.metal)
    retry = llm.calls[1][1]
    assert "DELETE FROM tracks" in retry and "only one statement is allowed" in retry
    assert table_checksums(db) == before


def test_two_bad_answers_give_an_error_and_no_rows(db):
    seed_moods(db)
    llm = FakeLlm(["SELECT pg_sleep(10) FROM chat_tracks"])
    result = chat_playlist(db, llm, "metal")
    assert result.rows == [] and result.sql is None and result.attempts == 2
    assert result.error == "unsafe SQL: function pg_sleep() is not allowed"
    assert result.rejected_sql == "SELECT pg_sleep(10) FROM chat_tracks"


def test_failing_query_is_retried_and_empty_result_gets_one_more_chance(db):
    seeded = seed_moods(db)
    llm = FakeLlm(["SELECT item_id FROM chat_tracks WHERE tempo > 'fast'",
                   "SELECT item_id, title, artist FROM chat_tracks WHERE tempo > 500",
                   METAL_SQL])
    result = chat_playlist(db, llm, "metal", max_attempts=3, max_per_artist=NO_CAP)
    assert result.ok and result.attempts == 3 and set(result.item_ids[:6]) == set(seeded.metal)
    assert "the query failed" in llm.calls[1][1] and "matched no tracks" in llm.calls[2][1]


def test_provider_server_end_to_end_and_llm_errors(db):
    seeded = seed_moods(db)
    answer = f"Here is the SQL:\n```sql\n{METAL_SQL}\n```\nIt ranks metal first."
    with FakeProviderServer("openai", answer) as server:
        settings = Settings(ai_model_provider="openai", ai_model_url=server.url, ai_model_name="test-model",
                            ai_api_key="sk-secret-value", ai_timeout=5)
        result = chat_playlist(db, settings, "metal", max_per_artist=NO_CAP)
    assert result.ok and result.provider == "openai" and set(result.item_ids[:6]) == set(seeded.metal)

    with FakeProviderServer("ollama", status=500, error_message="model not loaded") as server:
        settings = Settings(ai_model_provider="ollama", ai_model_url=server.url, ai_model_name="test-model")
        failed = chat_playlist(db, settings, "metal")
    assert failed.rows == [] and failed.provider == "ollama"
    assert failed.error == f"ollama at {server.url} answered HTTP 500: model not loaded"

    misconfigured = chat_playlist(db, Settings(ai_model_provider="gemini"), "metal")
    assert "AI_API_KEY is required" in misconfigured.error


def test_empty_and_oversized_requests(db):
    assert chat_playlist(db, None, "   ").error == "the request is empty"
    assert "longer than" in chat_playlist(db, None, "rock " * 200).error
