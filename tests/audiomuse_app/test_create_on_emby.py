"""The explorer's "Create on <server>" button (widgets.create_on_server, generic over make_provider)
with MEDIA_SERVER_TYPE=emby, against the Emby contract fake: the similar-songs result becomes one
playlist on the server, and creating it again replaces it in place."""

from __future__ import annotations

from audiomuse.config import get_settings
from tests.audiomuse.providers.fakes.base import sample_library
from tests.audiomuse.providers.fakes.emby import USER_ID, EmbyFake
from tests.audiomuse_app.apptest import open_page

TOKEN = "emby-app-key-4411"


def _create(at, name: str, songs: int):
    at.text_input(key="similar_seed_q").set_value("Rockers Song 03").run()
    at.slider(key="similar_n").set_value(songs).run()
    next(t for t in at.text_input if t.label == "Playlist name").set_value(name)
    next(b for b in at.button if b.label == "Create on emby").click().run()
    assert not at.exception, at.exception
    return list(at.dataframe[0].value["id"])


def test_create_on_emby_publishes_the_result_and_replaces_it(seeded_app_db, monkeypatch):
    with EmbyFake(TOKEN, sample_library()) as fake:
        for name, value in {"MEDIA_SERVER_TYPE": "emby", "MEDIA_SERVER_URL": fake.url, "MEDIA_SERVER_USER": "alice",
                            "MEDIA_SERVER_TOKEN": TOKEN, "HTTP_RETRIES": "1"}.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        at = open_page("similar")
        shown = _create(at, "Like Rockers", 10)
        assert [s.value for s in at.success] == ["Created “Like Rockers_similar” with 10 songs."]
        ((pid, playlist),) = fake.playlists.items()
        assert playlist["Name"] == "Like Rockers_similar" and playlist["UserId"] == USER_ID
        assert fake.playlist_tracks("Like Rockers_similar") == shown
        shorter = _create(at, "Like Rockers", 5)
        assert list(fake.playlists) == [pid]  # replaced in place, not a second playlist
        assert fake.playlist_tracks("Like Rockers_similar") == shorter and len(shorter) == 5
        assert TOKEN not in str([e.value for e in at.error] + [s.value for s in at.success])
