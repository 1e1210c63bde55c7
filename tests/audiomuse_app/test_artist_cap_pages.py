"""The alchemy, path and chat pages pass MAX_SONGS_PER_ARTIST to their tools, as similar does."""

from collections import Counter

import pytest

from audiomuse.config import get_settings
from tests.audiomuse_app.apptest import open_page


@pytest.fixture
def one_song_per_artist(seeded_app_db, monkeypatch):
    monkeypatch.setenv("MAX_SONGS_PER_ARTIST", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _most_songs_by_one_artist(at) -> int:
    rows = at.dataframe[0].value
    return max(Counter(rows["artist"]).values())


def test_chat_page_keeps_to_the_setting(one_song_per_artist):
    at = open_page("chat")
    at.text_area(key="chat_request").set_value("calm ambient music").run()
    at.button(key="chat_go").click().run()
    assert not at.exception
    assert _most_songs_by_one_artist(at) == 1


def test_alchemy_page_keeps_to_the_setting(one_song_per_artist):
    at = open_page("alchemy")
    at.text_input(key="alchemy_add_q").set_value("Rockers Song 05").run()
    at.selectbox(key="alchemy_add_pick").select("roc05").run()
    at.button(key="alchemy_add_add").click().run()
    at.slider(key="alchemy_n").set_value(10).run()
    assert not at.exception
    assert len(at.dataframe[0].value) > 1 and _most_songs_by_one_artist(at) == 1
