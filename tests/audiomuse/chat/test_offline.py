"""Offline mode: the deterministic parser, and its SQL on seeded rows with unmistakable moods."""

import numpy as np
import pytest

from audiomuse.chat import chat_playlist
from audiomuse.chat.offline import ENERGY_WORDS, TEMPO_WORDS, VOCABULARY, build_sql, parse_request
from audiomuse.chat.prompt import FEATURE_NAMES, MOOD_LABELS
from audiomuse.chat.validate import validate_sql
from audiomuse.config import Settings
from audiomuse.playlists.artist_cap import NO_CAP
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
    result = chat_playlist(db, None, "calm ambient music", max_per_artist=NO_CAP)
    assert result.ok and result.provider == "none"
    assert result.item_ids == seeded.ambient  # all six, best first, nothing else
    assert seeded.duplicate not in result.item_ids
    assert "calm" in result.note and "energy: low" in result.note


def test_fast_metal_returns_the_metal_tracks_fast_ones_first(db):
    seeded = seed_moods(db)
    result = chat_playlist(db, Settings(ai_model_provider="none"), "fast metal", max_per_artist=NO_CAP)
    assert result.ok
    assert set(result.item_ids) == set(seeded.metal)
    assert set(result.item_ids[:4]) == set(seeded.fast_metal)


def test_artist_and_mood_requests(db):
    seeded = seed_moods(db)
    assert chat_playlist(db, None, "songs by sunny girls").item_ids == seeded.pop
    assert chat_playlist(db, None, "happy dance pop", max_per_artist=NO_CAP).item_ids == seeded.pop
    assert chat_playlist(db, None, "slow Iron Wolves").item_ids == seeded.slow_metal  # not their fast songs
    not_metal = chat_playlist(db, None, "anything but metal, no ambient", max_per_artist=NO_CAP)
    assert not_metal.item_ids == seeded.pop


def test_offline_says_what_it_did_not_understand(db):
    seed_moods(db)
    result = chat_playlist(db, None, "asdf qwerty")
    assert result.rows == [] and result.sql is None and "no mood, genre" in result.error


def test_parse_reads_like_artist_as_sound_not_songs_by():
    artists = ["Iron Wolves", "Quiet Fields"]
    plan = parse_request("songs like Iron Wolves", artists)
    assert plan.like_artists == ["Iron Wolves"] and plan.artists == []
    plan = parse_request("calm music that sounds like quiet fields, by iron wolves", artists)
    assert plan.like_artists == ["Quiet Fields"] and plan.artists == ["Iron Wolves"]
    assert [c.word for c in plan.concepts] == ["calm"]
    assert parse_request("similar to Quiet Fields", artists).like_artists == ["Quiet Fields"]


def _seed_sound_alikes(db, seeded) -> list[str]:
    """Embeddings with a structure: ambient tracks near one direction, "Deep Pines" (moods that say
    nothing) near the same direction, metal and pop elsewhere."""
    from psycopg.types.json import Jsonb

    rng = np.random.default_rng(3)
    axes = np.eye(200, dtype=np.float32)
    def near(axis):
        return axes[axis] + 0.05 * rng.standard_normal(200).astype(np.float32)
    pines = [f"pines{i}" for i in range(3)]
    with db.connection() as conn:
        for tid in seeded.ambient:
            conn.execute("UPDATE embedding SET embedding = %s WHERE track_id = %s", (near(0), tid))
        for tid in seeded.metal + seeded.pop:
            conn.execute("UPDATE embedding SET embedding = %s WHERE track_id = %s", (near(1 if tid in seeded.metal else 2), tid))
        conn.execute("INSERT INTO albums (id, name, artist, track_count) VALUES ('alb_pin', 'Needles', 'Deep Pines', 3)")
        for i, tid in enumerate(pines):
            conn.execute("INSERT INTO tracks (id, album_id, title, artist, album, duration, song_key) VALUES"
                         " (%s, 'alb_pin', %s, 'Deep Pines', 'Needles', 180, %s)", (tid, f"Needle {i}", f"deep pines|needle {i}"))
            conn.execute("INSERT INTO score (track_id, tempo, energy, mood_vector, other_features) VALUES"
                         " (%s, 100, 0.2, %s, '{}')", (tid, Jsonb({"rock": 0.1})))
            conn.execute("INSERT INTO embedding (track_id, embedding, n_patches, model) VALUES (%s, %s, 3, 'test')",
                         (tid, near(0)))
    return pines


def test_like_artist_goes_through_the_similarity_index(db):
    from audiomuse.artifact_builds import build_similarity_index

    seeded = seed_moods(db)
    pines = _seed_sound_alikes(db, seeded)
    without_index = chat_playlist(db, None, "songs like Quiet Fields")
    assert "no similarity index" in without_index.note
    assert set(without_index.item_ids) <= set(seeded.ambient)  # falls back to songs by the artist

    build_similarity_index(db)
    result = chat_playlist(db, None, "songs like Quiet Fields")
    assert result.ok and "similar tracks from the index" in result.note
    assert result.item_ids[:3] and set(result.item_ids[:3]) == set(pines), result  # the sound-alikes first
    assert not set(result.item_ids) & set(seeded.ambient)  # not the artist's own songs
    assert "CASE item_id" in result.sql  # the scores ran as validated SQL literals


def test_labels_count_relative_to_the_library(db):
    """A label the model rarely scores high still decides: "sad" at 0.1 is the library's saddest
    (raw probabilities would rank the slow metal, with its stronger "sad" feature, first)."""
    from psycopg.types.json import Jsonb

    seeded = seed_moods(db)
    with db.connection() as conn:
        conn.execute("UPDATE score SET mood_vector = mood_vector || %s WHERE track_id = %s",
                     (Jsonb({"sad": 0.1}), seeded.pop[0]))
    assert chat_playlist(db, None, "sad").item_ids[0] == seeded.pop[0]


def test_like_artist_with_long_ids_still_fits_the_validator(db, monkeypatch):
    """Jellyfin-style 32-hex ids: 100 candidates would not fit the SQL length limit; fewer do."""
    import audiomuse.chat as chat

    seed_moods(db)
    long_ids = {f"{i:032x}": round(0.9 - i / 1000, 4) for i in range(100)}
    plan = parse_request("calm sad songs like Quiet Fields", ["Quiet Fields"])
    plan.similar = long_ids
    assert len(build_sql(plan)) > 6000  # what the offline path has to shrink
    monkeypatch.setattr(chat, "like_artist_scores", lambda *a, **k: dict(long_ids))
    result = chat_playlist(db, None, "calm sad songs like Quiet Fields")
    assert result.error is None and result.sql, result
    assert "CASE item_id" in result.sql and f"'{0:032x}'" in result.sql  # the nearest kept
