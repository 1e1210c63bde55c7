"""Chat playlists keep to the artist cap, except for the artists a request names."""

from collections import Counter

from audiomuse.chat import chat_playlist
from audiomuse.chat.prompt import MAX_ROWS
from audiomuse.config import Settings
from audiomuse.playlists.artist_cap import NO_CAP
from tests.audiomuse.chat.fakes import FakeLlm, seed_bulk, seed_moods

ALL_SQL = "SELECT item_id, title, artist FROM chat_tracks ORDER BY item_id LIMIT 25"


def songs_per_artist(result) -> Counter:
    return Counter(r["artist"] for r in result.rows)


def test_llm_playlist_keeps_to_the_cap(db):
    seed_moods(db)  # 3 artists, 6 songs each
    uncapped = chat_playlist(db, FakeLlm([ALL_SQL]), "anything", max_per_artist=NO_CAP)
    assert max(songs_per_artist(uncapped).values()) == 6
    capped = chat_playlist(db, FakeLlm([ALL_SQL]), "anything", max_per_artist=2)
    assert songs_per_artist(capped) == {"Quiet Fields": 2, "Iron Wolves": 2, "Sunny Girls": 2}
    assert capped.item_ids == [t for t in uncapped.item_ids if t in capped.item_ids]  # the query's order


def test_offline_playlist_keeps_to_the_cap(db):
    seed_bulk(db)  # 400 tracks by 8 artists
    uncapped = chat_playlist(db, None, "rock", max_per_artist=NO_CAP)
    assert len(uncapped.rows) == MAX_ROWS and max(songs_per_artist(uncapped).values()) > 2
    capped = chat_playlist(db, None, "rock", max_per_artist=2)
    assert max(songs_per_artist(capped).values()) == 2
    assert capped.item_ids == [t for t in uncapped.item_ids if t in capped.item_ids]  # the same ranking


def test_the_cap_comes_from_the_settings_and_spares_a_named_artist(db):
    seeded = seed_moods(db)
    from_settings = chat_playlist(db, Settings(ai_model_provider="none", max_songs_per_artist=1), "calm ambient")
    assert songs_per_artist(from_settings) == {"Quiet Fields": 1}
    assert chat_playlist(db, None, "calm ambient").item_ids == seeded.ambient[:3]  # the default cap, 3
    assert chat_playlist(db, None, "songs by sunny girls", max_per_artist=1).item_ids == seeded.pop  # all of them
