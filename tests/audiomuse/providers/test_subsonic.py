"""The Subsonic adapter against a real supysonic server on real music."""

import logging

import mutagen
import pytest

from audiomuse.providers.base import ProviderAuthError, ProviderUnavailable
from audiomuse.providers.subsonic import SubsonicProvider
from tests.audiomuse.providers.conftest import PASSWORD, USER
from tests.servers import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def provider(supysonic_url):
    p = SubsonicProvider(supysonic_url, USER, PASSWORD, retries=2, backoff=0.01)
    yield p
    p.close()


def test_albums_tracks_and_token_fallback(provider, subsonic_music):
    assert provider.token_auth
    albums = provider.newest_albums()
    assert not provider.token_auth  # supysonic answered the token with error 10: password auth remembered
    assert sorted(a.name for a in albums) == ["Frets on Fire: Muldjord", "Gunroar"]
    assert len(provider.newest_albums(1)) == 1
    gunroar = next(a for a in albums if a.name == "Gunroar")
    tracks = provider.album_tracks(gunroar.id)
    on_disk = sorted(mutagen.File(p, easy=True)["title"][0] for p in (subsonic_music / "Kenta Cho" / "Gunroar").iterdir())
    assert sorted(t.title for t in tracks) == on_disk
    assert all(t.duration and t.duration > 30 and t.file_format == "ogg" for t in tracks)


def test_download_is_byte_identical(provider, subsonic_music):
    album = next(a for a in provider.newest_albums() if a.name == "Gunroar")
    track = sorted(provider.album_tracks(album.id), key=lambda t: t.track_number or 0)[0]
    original = next(p for p in (subsonic_music / "Kenta Cho" / "Gunroar").iterdir() if p.name.startswith("01"))
    with provider.downloaded(track) as path:
        assert path.read_bytes() == original.read_bytes()


def test_playlist_create_replace_in_place_and_delete_by_suffix(provider):
    ids = [t.id for a in provider.newest_albums() for t in provider.album_tracks(a.id)]
    first = provider.create_or_replace_playlist("Night Drive_automatic", ids[:3])
    provider.create_or_replace_playlist("Mine", ids[:1])
    again = provider.create_or_replace_playlist("Night Drive_automatic", ids[3:5])
    assert again.id == first.id
    songs = provider.call("getPlaylist", {"id": first.id})["playlist"]["entry"]
    assert [s["id"] for s in songs] == ids[3:5]
    assert provider.delete_playlists_by_suffix("_automatic") == ["Night Drive_automatic"]
    assert [p.name for p in provider.list_playlists()] == ["Mine"]
    provider.delete_playlists_by_suffix("Mine")


def test_wrong_password_is_an_auth_error_without_the_password(supysonic_url, caplog):
    bad = SubsonicProvider(supysonic_url, USER, "not-the-password-9", retries=1)
    with caplog.at_level(logging.DEBUG), pytest.raises(ProviderAuthError) as err:
        bad.newest_albums()
    assert "alice" in str(err.value)
    text = str(err.value) + repr(bad) + caplog.text
    assert "not-the-password-9" not in text and "not-the-password-9".encode().hex() not in text


def test_server_down_retries_then_names_the_host(caplog):
    port = free_port()
    down = SubsonicProvider(f"http://127.0.0.1:{port}", USER, "pw-secret-77", retries=3, backoff=0.01)
    with caplog.at_level(logging.WARNING), pytest.raises(ProviderUnavailable) as err:
        down.newest_albums()
    message = str(err.value)
    assert f"127.0.0.1:{port}" in message and "after 3 attempts" in message
    assert "pw-secret-77" not in message + caplog.text
    assert caplog.text.count("retrying") == 2


def test_publishing_clustering_playlists_replaces_them_in_place(provider, db):
    """published_playlists' core against the real server: new first, then stale ones deleted."""
    from psycopg.types.json import Jsonb

    from audiomuse.playlists.clustering import publish_generation

    ids = [t.id for a in provider.newest_albums() for t in provider.album_tracks(a.id)]
    stale = provider.create_or_replace_playlist("Old Mood_automatic", ids[:2])
    kept = provider.create_or_replace_playlist("Night Drive_automatic", ids[:1])

    def store(generation, playlists):
        with db.connection() as conn:
            conn.execute("DELETE FROM playlists")
            for name, tracks in playlists:
                conn.execute("INSERT INTO playlists (name, kind, generation, track_ids, details) "
                             "VALUES (%s, 'clustering', %s, %s, %s)", (name, generation, tracks, Jsonb({})))

    store("g1", [("Night Drive_automatic", ids[2:5]), ("Calm_automatic", ids[5:7])])
    report = publish_generation(db, provider)
    remote = {p.name: p.id for p in provider.list_playlists()}
    assert report["deleted"] == ["Old Mood_automatic"] and stale.id not in remote.values()
    assert remote["Night Drive_automatic"] == kept.id  # replaced in place, same playlist id
    entries = provider.call("getPlaylist", {"id": kept.id})["playlist"]["entry"]
    assert [e["id"] for e in entries] == ids[2:5]
    provider.delete_playlists_by_suffix("_automatic")
