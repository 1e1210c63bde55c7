"""The explorer's "Create on <server>" button (widgets.create_on_server) with MEDIA_SERVER_TYPE=plex:
make_provider builds the Plex provider from the environment and the playlist lands on the (fake)
Plex server; pressing it again replaces the same playlist."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from audiomuse.config import get_settings
from tests.audiomuse.providers.fakes.base import sample_library
from tests.audiomuse.providers.fakes.plex import PlexFake

TOKEN = "plex-app-Token-93"


def _script():
    from audiomuse_app.widgets import create_on_server

    create_on_server(["32", "11", "22"], "similar", "t", default="Evening")


def test_create_on_plex_publishes_and_replaces_the_playlist(monkeypatch, tmp_path):
    with PlexFake(TOKEN, sample_library(), user="alice") as fake:
        monkeypatch.setenv("AUDIOMUSE_CONFIG", str(tmp_path / "absent.toml"))
        for key, value in {"MEDIA_SERVER_TYPE": "plex", "MEDIA_SERVER_URL": fake.url, "MEDIA_SERVER_USER": "alice",
                           "MEDIA_SERVER_TOKEN": TOKEN, "HTTP_RETRIES": "1"}.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        try:
            at = AppTest.from_function(_script, default_timeout=30).run()
            assert at.button[0].label == "Create on plex"
            at.button[0].click().run()
            assert not at.exception and not at.error, at.error
            assert at.success[0].value == "Created “Evening_similar” with 3 songs."
            (first,) = fake.playlists
            at.button[0].click().run()
            assert list(fake.playlists) == [first] and fake.playlist_tracks("Evening_similar") == ["32", "11", "22"]
        finally:
            get_settings.cache_clear()
