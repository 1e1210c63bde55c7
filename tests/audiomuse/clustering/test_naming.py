import pytest

from audiomuse.clustering.naming import (
    ai_naming_prompt,
    automatic_name,
    clean_ai_name,
    format_label,
    tempo_band,
    unique_names,
)


def test_automatic_name_format():
    profile = {"rock": 0.7, "metal": 0.6, "pop": 0.1}
    assert automatic_name(profile, 0.8, {"aggressive": 0.9, "happy": 0.2}) == "Rock_Metal_Fast_Aggressive_automatic"
    # weak other features and unknown tempo are left out
    assert automatic_name(profile, None, {"happy": 0.3}) == "Rock_Metal_automatic"
    assert automatic_name({"female vocalists": 0.5, "00s": 0.4}, 0.1) == "Female Vocalists_00s_Slow_automatic"


def test_tempo_bands():
    assert [tempo_band(t) for t in (0.0, 0.329, 0.33, 0.65, 0.66, 1.0)] == [
        "Slow", "Slow", "Medium", "Medium", "Fast", "Fast"]
    assert tempo_band(None) is None and tempo_band(float("nan")) is None
    assert format_label("Hip-Hop") == "Hip-Hop" and format_label("indie rock") == "Indie Rock"


def test_unique_names_keep_the_suffix_last():
    names = unique_names(["A_Fast_automatic", "B_automatic", "A_Fast_automatic", "A_Fast_automatic"])
    assert names == ["A_Fast_automatic", "B_automatic", "A_Fast_2_automatic", "A_Fast_3_automatic"]
    assert len(set(names)) == len(names)
    assert all(n.endswith("_automatic") for n in names)
    # a generated name that collides with an existing numbered one still ends unique
    names = unique_names(["A_2_automatic", "A_automatic", "A_automatic"])
    assert len(set(names)) == 3


@pytest.mark.parametrize("raw, expected", [
    ("Midnight Neon Drive", "Midnight Neon Drive"),
    ('"Midnight Neon Drive"', "Midnight Neon Drive"),
    ("**Playlist name:** \u201cMidnight Neon Drive\u201d", "Midnight Neon Drive"),
    ("Playlist Name: Sunday Morning Coffee\nThis playlist evokes...", "Sunday Morning Coffee"),
    ("Here's a name: Rainy Window Jazz Club.", "Rainy Window Jazz Club"),
    ("<think>they like rock, maybe...</think>\n\nGarage Rock Revival", "Garage Rock Revival"),
    ("1. Velvet Soul Sessions", "Velvet Soul Sessions"),
    ("# Caf\u00e9 Nights \u00e0 Paris", "Cafe Nights a Paris"),
    ("Summer Beach Party \U0001F3D6\ufe0f\U0001F389", "Summer Beach Party"),
    ("Late_Night/Lo-Fi Beats", "Late Night Lo-Fi Beats"),
])
def test_clean_ai_name_repairs(raw, expected):
    assert clean_ai_name(raw) == expected


@pytest.mark.parametrize("raw", [
    None, "", "   \n  ", 42,
    "Chill",  # too short
    "An Epic Journey Through The Sounds Of Late Night Cities",  # too long
    "\u591c\u306e\u30c9\u30e9\u30a4\u30d6\u3068\u96e8\u306e\u97f3\u697d"
    "\u30b3\u30ec\u30af\u30b7\u30e7\u30f3",  # Japanese
    "\u041d\u043e\u0447\u043d\u0430\u044f \u043f\u043e\u0435\u0437\u0434\u043a\u0430 "
    "\u0434\u043e\u043c\u043e\u0439",  # Cyrillic
    "{}[]()!!??,,..--&&''",  # punctuation garbage
    "I'm sorry, I can't do that.",
    "Error: model timed out",
    "\U0001F3B5\U0001F3B6\U0001F3B5\U0001F3B6\U0001F3B5\U0001F3B6\U0001F3B5\U0001F3B6",  # emoji only
])
def test_clean_ai_name_rejects(raw):
    assert clean_ai_name(raw) is None


def test_clean_ai_name_output_obeys_the_rules():
    for raw in ["  'Neon Dreams & Night Drives!'  ", "`Acoustic Sunday (Live)`", "Title - Warm Vinyl Evenings"]:
        name = clean_ai_name(raw)
        assert name is not None and name.isascii() and 15 <= len(name) <= 35, (raw, name)
        assert name[0] not in "\"'`" and name[-1] not in "\"'`"


def test_ai_naming_prompt():
    prompt = ai_naming_prompt({"rock": 0.7, "indie": 0.5, "pop": 0.1},
                              [("Song A", "Band X"), {"title": "Song B", "author": "Band Y"}],
                              tempo_mean=0.8, energy_mean=0.6)
    assert "music curator" in prompt
    assert "15 to 35 characters" in prompt and "ASCII" in prompt
    assert "name only" in prompt
    assert "rock (0.70)" in prompt and "Song A by Band X" in prompt and "Song B by Band Y" in prompt
    assert "Tempo: fast" in prompt
    long = ai_naming_prompt({"rock": 1.0}, [(f"S{i}", "A") for i in range(100)], max_songs=10)
    assert long.count(" by A") == 10
