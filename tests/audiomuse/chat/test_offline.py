"""Offline mode: the deterministic parser, and its SQL on seeded rows with unmistakable moods."""

import pytest

from audiomuse.chat import chat_playlist
from audiomuse.chat.offline import ENERGY_WORDS, TEMPO_WORDS, VOCABULARY, build_sql, parse_request
from audiomuse.chat.prompt import FEATURE_NAMES, MOOD_LABELS
from audiomuse.chat.validate import validate_sql
from audiomuse.config import Settings
from tests.audiomuse.chat.fakes import seed_moods


def test_vocabulary_only_uses_real_labels_and_features():
    for phrase, (tags, features) in VOCABULARY.items():
        assert tags or features, phrase
        assert set(tags) <= set(MOOD_LABELS), phrase
        assert set(features) <= set(FEATURE_NAMES), phrase
    assert set(TEMPO_WORDS.values()) == {"fast", "slow"} and set(ENERGY_WORDS.values()) == {"high", "low"}


def test_parse_synonyms_tempo_energy_and_negation():
    plan = parse_request("Calm ambient music, nothing too fast")
    words = {c.word: c for c in plan.concepts}
    assert set(words) == {"calm", "ambient"}
    assert set(words["calm"].tags) == {"chill", "chillout", "Mellow", "ambient"}
    assert words["calm"].features == ("relaxed",)
    assert plan.tempo == "slow" and plan.energy == "low"

    plan = parse_request("fast heavy metal")
    assert [c.word for c in plan.concepts] == ["heavy metal"]
    assert plan.tempo == "fast"

    assert set(parse_request("epic orchestral soundtrack").concepts[0].tags) == {"instrumental", "beautiful"}
    assert parse_request("hip hop from the 90s").concepts[0].tags == ("Hip-Hop",)
    assert {c.tags for c in parse_request("90s hip-hop").concepts} == {("Hip-Hop",), ("90s",)}
    negated = parse_request("rock but no metal")
    assert [(c.word, c.negated) for c in negated.concepts] == [("rock", False), ("metal", True)]
    assert parse_request("songs with no vocals").concepts[0].tags == ("instrumental",)


def test_parse_finds_library_artists_as_whole_words():
    artists = ["Iron Wolves", "Metal Church", "Low", "Quiet Fields", "Calm"]
    plan = parse_request("something by metal church and iron wolves", artists)
    assert plan.artists == ["Metal Church", "Iron Wolves"]
    assert plan.concepts == []  # "metal" inside the artist name is not the genre
    assert parse_request("lowkey tunes", artists).artists == []  # no partial words
    assert parse_request("calm music", artists).artists == []  # names that are vocabulary words are skipped


def test_nothing_recognised_builds_no_sql():
    plan = parse_request("asdf qwerty")
    assert plan.empty and build_sql(plan) is None


@pytest.mark.parametrize("request_text", ["calm ambient music", "fast metal", "happy 80s pop without guitar",
                                          "slow sad songs by Guns N' Roses", "energetic dance party"])
def test_offline_sql_passes_validation(request_text):
    sql = build_sql(parse_request(request_text, ["Guns N' Roses"]))
    assert validate_sql(sql).endswith("LIMIT 25")


def test_calm_ambient_returns_the_ambient_tracks(db):
    seeded = seed_moods(db)
    result = chat_playlist(db, None, "calm ambient music")
    assert result.ok and result.provider == "none"
    assert result.item_ids == seeded.ambient  # all six, best first, nothing else
    assert seeded.duplicate not in result.item_ids
    assert "calm" in result.note and "energy: low" in result.note


def test_fast_metal_returns_the_metal_tracks_fast_ones_first(db):
    seeded = seed_moods(db)
    result = chat_playlist(db, Settings(ai_model_provider="none"), "fast metal")
    assert result.ok
    assert set(result.item_ids) == set(seeded.metal)
    assert set(result.item_ids[:4]) == set(seeded.fast_metal)


def test_artist_and_mood_requests(db):
    seeded = seed_moods(db)
    assert chat_playlist(db, None, "songs by sunny girls").item_ids == seeded.pop
    assert chat_playlist(db, None, "happy dance pop").item_ids == seeded.pop
    assert chat_playlist(db, None, "slow Iron Wolves").item_ids == seeded.slow_metal  # not their fast songs
    not_metal = chat_playlist(db, None, "anything but metal, no ambient")
    assert not_metal.item_ids == seeded.pop


def test_offline_says_what_it_did_not_understand(db):
    seed_moods(db)
    result = chat_playlist(db, None, "asdf qwerty")
    assert result.rows == [] and result.sql is None and "no mood, genre" in result.error
