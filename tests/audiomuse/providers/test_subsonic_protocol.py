"""Subsonic protocol details against the Navidrome-shaped contract fake (the parts supysonic, an
API 1.12 server, cannot show): token auth, error 41 fallback, downloads disabled, foreign playlists."""

from __future__ import annotations

import hashlib
import logging

import pytest

from audiomuse.providers.base import ProviderError
from audiomuse.providers.subsonic import SubsonicProvider
from tests.audiomuse.providers.fakes.base import sample_library
from tests.audiomuse.providers.fakes.subsonic import SubsonicFake

USER, PASSWORD = "alice", "tr0ub4dor&3"


def _rest(fake):
    """(method, query) of every /rest request so far."""
    return [(path.rsplit("/", 1)[1], q) for _m, path, q, _h in fake.requests]


def test_token_auth_sends_a_fresh_salted_md5_and_never_the_password():
    with SubsonicFake(USER, PASSWORD, sample_library()) as fake:
        p = SubsonicProvider(fake.url, USER, PASSWORD, retries=1)
        assert len(p.newest_albums()) == 3
        p.newest_albums()
        calls = _rest(fake)
        assert [m for m, _ in calls] == ["ping", "getAlbumList2", "getAlbumList2"]  # one ping per instance
        assert p.auth_mode == "token"
        salts = set()
        for _, q in calls:
            assert "p" not in q and q["u"] == [USER] and q["v"] == ["1.16.1"] and q["c"] == ["audiomuse"]
            assert q["t"] == [hashlib.md5((PASSWORD + q["s"][0]).encode()).hexdigest()]
            salts.add(q["s"][0])
        assert len(salts) == 3  # a new salt per request


def test_error_41_falls_back_to_hex_password_and_remembers_it(caplog):
    with SubsonicFake(USER, PASSWORD, sample_library(), token_auth=False) as fake:
        p = SubsonicProvider(fake.url, USER, PASSWORD, retries=1)
        with caplog.at_level(logging.DEBUG):
            assert [a.name for a in p.newest_albums(2)] == ["Newest", "Middle"]
            p.album_tracks("al1")
        calls = _rest(fake)
        assert [m for m, _ in calls] == ["ping", "ping", "getAlbumList2", "getAlbum"]
        assert "t" in calls[0][1] and "p" not in calls[0][1]
        for _, q in calls[1:]:
            assert q["p"] == ["enc:" + PASSWORD.encode().hex()] and "t" not in q
        assert p.auth_mode == "password" and not p.token_auth
        assert "does not support token auth" in caplog.text
        assert PASSWORD not in caplog.text and PASSWORD.encode().hex() not in caplog.text


def test_disabled_downloads_fall_back_to_raw_stream(tmp_path):
    with SubsonicFake(USER, PASSWORD, sample_library(), downloads=False) as fake:
        p = SubsonicProvider(fake.url, USER, PASSWORD, retries=1)
        track = p.album_tracks("al2")[0]
        path = p.download(track, tmp_path)
        assert path.read_bytes() == b"audio-bytes-b1|" * 300
        methods = [(m, q.get("format")) for m, q in _rest(fake)]
        assert methods[-2:] == [("download", None), ("stream", ["raw"])]


def test_unknown_song_is_a_clear_error_and_leaves_no_file(tmp_path):
    with SubsonicFake(USER, PASSWORD, sample_library()) as fake:
        p = SubsonicProvider(fake.url, USER, PASSWORD, retries=1)
        ghost = p.album_tracks("al1")[0].__class__(id="nope", album_id="al1", title="Ghost", artist="", album="",
                                                   file_format="flac")
        with pytest.raises(ProviderError, match="cannot download 'Ghost'.*error 70"):
            p.download(ghost, tmp_path)
        assert list(tmp_path.iterdir()) == []
        assert [m for m, _ in _rest(fake)][-1] == "download"  # not found: streaming is not tried


def test_other_users_public_playlists_are_listed_but_never_touched():
    with SubsonicFake(USER, PASSWORD, sample_library()) as fake:
        fake.playlists["bobs"] = {"name": "Calm_automatic", "owner": "bob", "songs": ["a1"], "public": True}
        p = SubsonicProvider(fake.url, USER, PASSWORD, retries=1)
        assert [pl.name for pl in p.list_playlists()] == ["Calm_automatic"]
        mine = p.create_or_replace_playlist("Calm_automatic", ["b1", "b2"])
        assert mine.id != "bobs" and fake.playlists["bobs"]["songs"] == ["a1"]
        assert p.delete_playlists_by_suffix("_automatic") == ["Calm_automatic"]
        assert list(fake.playlists) == ["bobs"]


def test_history_of_another_user_needs_their_credentials():
    with SubsonicFake(USER, PASSWORD, sample_library()) as fake:
        p = SubsonicProvider(fake.url, USER, PASSWORD, retries=1)
        assert p.top_played(user=USER)[0].track_id == "b2"
        with pytest.raises(ProviderError, match="user 'bob' needs that user's own credentials"):
            p.top_played(user="bob")


def test_not_a_subsonic_server():
    from tests.audiomuse.providers.fakes.base import FakeServer

    class WebPage(FakeServer):
        def handle(self, method, path, query, headers, body):
            return 200, b"<html>a login page</html>", "text/html"

    with WebPage() as other:
        with pytest.raises(ProviderError, match="did not answer in Subsonic JSON"):
            SubsonicProvider(other.url, USER, PASSWORD, retries=1).newest_albums()
