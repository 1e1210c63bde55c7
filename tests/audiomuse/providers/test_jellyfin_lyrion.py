"""Jellyfin and Lyrion specifics against their contract fakes (the shared behaviours are in
test_contract.py): Jellyfin's login, user resolution and client header; Lyrion's browseagelimit
cap, password protection and URL-based playlists."""

from __future__ import annotations

import logging

import pytest

from audiomuse.providers.base import ProviderAuthError, ProviderError
from audiomuse.providers.jellyfin import JellyfinProvider, _format
from audiomuse.providers.lyrion import LyrionProvider
from tests.audiomuse.providers.fakes.base import sample_library
from tests.audiomuse.providers.fakes.jellyfin import OTHER_ID, USER_ID, JellyfinFake
from tests.audiomuse.providers.fakes.lyrion import LyrionFake
from tests.audiomuse.providers.owners import check_playlists_per_owner_stay_apart

TOKEN = "jf-token-5f3a9c77"


def _paths(fake):
    return [path for _m, path, _q, _h in fake.requests]


# Jellyfin -------------------------------------------------------------------------------------------
def test_jellyfin_sends_a_complete_mediabrowser_header_and_resolves_the_user_once():
    with JellyfinFake(TOKEN, sample_library()) as fake:
        p = JellyfinProvider(fake.url, "Alice", TOKEN, retries=1)  # names match case-insensitively
        p.newest_albums()
        p.list_playlists()
        assert _paths(fake).count("/Users") == 1
        header = fake.requests[0][3]["Authorization"]
        for part in ('MediaBrowser Client="AudioMuse"', "Device=", "DeviceId=", "Version=", f'Token="{TOKEN}"'):
            assert part in header
        assert TOKEN not in repr(p)


def test_jellyfin_user_id_is_used_as_is():
    with JellyfinFake(TOKEN, sample_library()) as fake:
        p = JellyfinProvider(fake.url, USER_ID, TOKEN, retries=1)
        assert len(p.newest_albums()) == 3
        assert "/Users" not in _paths(fake)


def test_jellyfin_unknown_user_is_a_clear_error():
    with JellyfinFake(TOKEN, sample_library()) as fake:
        with pytest.raises(ProviderError, match="no user named 'carol'"):
            JellyfinProvider(fake.url, "carol", TOKEN, retries=1).newest_albums()


def test_jellyfin_login_with_password_then_token(caplog, tmp_path):
    with JellyfinFake("", sample_library(), user="alice", password="pw-Jelly-1") as fake:
        p = JellyfinProvider(fake.url, "alice", password="pw-Jelly-1", retries=1)
        with caplog.at_level(logging.DEBUG):
            names = [a.name for a in p.newest_albums()]
            track = p.album_tracks(p.newest_albums()[0].id)[0]
            assert p.download(track, tmp_path).read_bytes() == b"audio-bytes-c1|" * 300
        assert names == ["Newest", "Middle", "Older"]
        assert _paths(fake)[0] == "/Users/AuthenticateByName" and _paths(fake).count("/Users/AuthenticateByName") == 1
        assert "/Users" not in _paths(fake)  # the login answered the user id
        (session_token,) = fake.tokens
        assert session_token not in caplog.text + repr(p) and "pw-Jelly-1" not in caplog.text
        with pytest.raises(ProviderAuthError, match="rejected the credentials for user 'alice'") as err:
            JellyfinProvider(fake.url, "alice", password="wrong-pw-22", retries=1).list_playlists()
        assert "wrong-pw-22" not in str(err.value)


def test_jellyfin_needs_a_token_or_password():
    with pytest.raises(ProviderAuthError, match="needs an API token"):
        JellyfinProvider("http://127.0.0.1:1", "alice", "")


def test_jellyfin_history_of_another_user():
    with JellyfinFake(TOKEN, sample_library()) as fake:
        p = JellyfinProvider(fake.url, "alice", TOKEN, retries=1)
        assert p.top_played(user="bob") == []
        assert p.top_played(user="alice")[0].play_count == 9


@pytest.mark.parametrize("item,expected", [
    ({"Path": "/music/a/b/01 x.FLAC", "Container": "flac"}, "flac"),
    ({"Path": "D:\\Music\\a\\01 x.m4a"}, "m4a"),
    ({"Container": "mov,mp4,m4a,3gp,3g2,mj2"}, "m4a"),
    ({"MediaSources": [{"Container": "ogg"}]}, "ogg"),
    ({"Container": "mp3"}, "mp3"),
    ({}, None),
])
def test_jellyfin_file_format(item, expected):
    assert _format(item) == expected


# Lyrion -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("per_album_max", [25, 0])  # added times asked per album, or in one listing
def test_lyrion_lists_every_album_past_the_browseagelimit_cap(per_album_max, monkeypatch):
    monkeypatch.setattr("audiomuse.providers.lyrion.ADDED_PER_ALBUM_MAX", per_album_max)
    library = sample_library()
    with LyrionFake(library, browseagelimit=2) as fake:
        p = LyrionProvider(fake.url, retries=1)
        albums = p.newest_albums()
        assert [a.name for a in albums] == ["Newest", "Middle", "Older"]
        assert [a.name for a in p.newest_albums(2)] == ["Newest", "Middle"]
        assert [a.added.timestamp() for a in albums] == [library[k]["epoch"] + len(library[k]["tracks"])
                                                         for k in ("al3", "al2", "al1")]


def test_lyrion_password_protection():
    with LyrionFake(sample_library(), user="admin", password="lms-pass-7") as fake:
        with pytest.raises(ProviderAuthError, match="password protected") as err:
            LyrionProvider(fake.url, retries=1).list_playlists()
        assert "lms-pass-7" not in str(err.value)
        with pytest.raises(ProviderAuthError, match="for user 'admin'"):
            LyrionProvider(fake.url, "admin", "nope", retries=1).list_playlists()
        assert LyrionProvider(fake.url, "admin", "lms-pass-7", retries=1).list_playlists() == []


def test_lyrion_playlists_store_file_urls_and_look_up_unknown_tracks(tmp_path):
    with LyrionFake(sample_library()) as fake:
        p = LyrionProvider(fake.url, retries=1)
        # ids never seen in album_tracks: their URLs are looked up one by one
        made = p.create_or_replace_playlist("Fresh", ["c2", "a1"])
        assert fake.playlist_tracks("Fresh") == ["c2", "a1"]
        assert all(u.startswith("file:///music/") for u in fake.playlists[made.id]["urls"])
        with pytest.raises(ProviderError, match="no track with id zz9"):
            p.create_or_replace_playlist("Fresh", ["c1", "zz9"])
        assert fake.playlist_tracks("Fresh") == ["c2", "a1"]  # unknown id: the playlist is left as it was
        p.create_or_replace_playlist("Fresh", [])
        assert fake.playlist_tracks("Fresh") == [] and [pl.id for pl in p.list_playlists()] == [made.id]


def test_lyrion_replaces_a_playlist_whose_name_the_server_cleaned():
    """The server stores "AC/DC_automatic" as "AC_DC_automatic": the second publish does not find
    it by name, and ``playlists new`` answers ``overwritten_playlist_id`` instead."""
    with LyrionFake(sample_library()) as fake:
        p = LyrionProvider(fake.url, retries=1)
        first = p.create_or_replace_playlist("AC/DC_automatic", ["a1", "a2"])
        second = p.create_or_replace_playlist("AC/DC_automatic", ["b1"])
        assert second.id == first.id and len(fake.playlists) == 1
        assert fake.playlist_tracks("AC/DC_automatic") == ["b1"]
        assert p.delete_playlists_by_suffix("_automatic") == ["AC_DC_automatic"] and fake.playlists == {}


def test_lyrion_json_rpc_error_is_a_provider_error():
    with LyrionFake(sample_library()) as fake:
        p = LyrionProvider(fake.url, retries=1)
        fake.command = lambda cmd, args: (_ for _ in ()).throw(AssertionError)  # never reached
        orig = fake.handle
        fake.handle = lambda m, path, q, h, b: (200, {"id": 1, "error": "Invalid command"}) if path == "/jsonrpc.js" else orig(m, path, q, h, b)
        with pytest.raises(ProviderError, match="'albums 0' failed: Invalid command"):
            p.newest_albums()


def test_jellyfin_playlists_per_owner_stay_apart():
    with JellyfinFake(TOKEN, sample_library()) as fake:
        provider = JellyfinProvider(fake.url, "alice", TOKEN, retries=1)
        check_playlists_per_owner_stay_apart(fake, provider, USER_ID, OTHER_ID)


def test_jellyfin_playlist_tracks_are_paged():
    with JellyfinFake(TOKEN, sample_library()) as fake:
        p = JellyfinProvider(fake.url, "alice", TOKEN, retries=1, page_size=2)
        order = ["c2", "a1", "b2", "a3", "c1"]
        made = p.create_or_replace_playlist("Long", order)
        assert p.playlist_tracks(made.id) == order
        assert sum(path == f"/Playlists/{made.id}/Items" for path in _paths(fake)) == 3


def test_lyrion_playlist_tracks_are_paged_and_unknown_ids_are_clear():
    with LyrionFake(sample_library()) as fake:
        p = LyrionProvider(fake.url, retries=1, page_size=2)
        made = p.create_or_replace_playlist("Long", ["c2", "a1", "b2", "a3", "c1"])
        assert p.playlist_tracks(made.id) == ["c2", "a1", "b2", "a3", "c1"]
        empty = p.create_or_replace_playlist("Empty", [])
        assert p.playlist_tracks(empty.id) == []
        with pytest.raises(ProviderError, match="no playlist with id 999"):
            p.playlist_tracks("999")
