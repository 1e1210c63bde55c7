"""The same behaviours for every HTTP provider, each against a contract fake of its documented API
(Subsonic shaped like Navidrome, Jellyfin, Lyrion, Emby): catalog order and paging, tracks, byte-exact
downloads, playlists replaced in place, credentials errors, retries, and no secret in any message,
repr or log record. Reading a playlist back in order runs against every provider: the fakes, the
local folder, a real supysonic and a real MPD (not HTTP: its other contract behaviours are in
test_mpd.py, against the real server)."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime

import pytest

from audiomuse.config import Settings, parse_user_passwords
from audiomuse.providers import make_provider
from audiomuse.providers.base import MediaProvider, ProviderAuthError, ProviderError, ProviderUnavailable
from audiomuse.providers.emby import EmbyProvider
from audiomuse.providers.local import LocalFolderProvider
from audiomuse.providers.jellyfin import JellyfinProvider
from audiomuse.providers.lyrion import LyrionProvider
from audiomuse.providers.plex import PlexProvider
from audiomuse.providers.mpd import MPDProvider
from audiomuse.providers.subsonic import SubsonicProvider
from tests.servers import free_port
from tests.audiomuse.providers.fakes.base import sample_library
from tests.audiomuse.providers.fakes.emby import EmbyFake
from tests.audiomuse.providers.fakes.jellyfin import JellyfinFake
from tests.audiomuse.providers.fakes.lyrion import LyrionFake
from tests.audiomuse.providers.fakes.plex import PlexFake
from tests.audiomuse.providers.fakes.subsonic import SubsonicFake
from tests.audiomuse.providers.mpd_server import mpd_generated  # noqa: F401 - a fixture, used by name

USER = "alice"
SECRET = "s3cret-Pa55-word"  # the Subsonic password, the Jellyfin, Emby and Plex token, the Lyrion password
WRONG = "not-the-s3cret-99"
KINDS = ["subsonic", "jellyfin", "lyrion", "emby", "plex"]


@dataclass
class Case:
    kind: str
    fake: object
    provider: MediaProvider

    def make(self, secret: str = SECRET, **kw) -> MediaProvider:
        kw = {"retries": 1, "backoff": 0.001, **kw}
        if self.kind == "subsonic":
            return SubsonicProvider(self.fake.url, USER, secret, **kw)
        if self.kind == "jellyfin":
            return JellyfinProvider(self.fake.url, USER, secret, **kw)
        if self.kind == "plex":
            return PlexProvider(self.fake.url, USER, secret, **kw)
        if self.kind == "emby":
            return EmbyProvider(self.fake.url, USER, secret, **kw)
        return LyrionProvider(self.fake.url, USER, secret, **kw)

    def stored(self, name: str) -> list[str]:
        """Track ids of playlist ``name`` as the server stores them."""
        if self.kind == "subsonic":
            return next(p["songs"] for p in self.fake.playlists.values() if p["name"] == name)
        return self.fake.playlist_tracks(name)

    def track_id(self, sample_id: str) -> str:
        """The provider's id of a sample-library track (Plex ratingKeys are numbers)."""
        return self.fake.key_of[sample_id] if self.kind == "plex" else sample_id


@contextlib.contextmanager
def fake_case(kind: str):
    library = sample_library()
    if kind == "subsonic":
        fake = SubsonicFake(USER, SECRET, library)
    elif kind == "jellyfin":
        fake = JellyfinFake(SECRET, library)
    elif kind == "plex":
        fake = PlexFake(SECRET, library, user=USER)
    elif kind == "emby":
        fake = EmbyFake(SECRET, library)
    else:
        fake = LyrionFake(library, user=USER, password=SECRET)
    with fake:
        c = Case(kind, fake, None)
        c.provider = c.make()
        yield c
        c.provider.close()


@pytest.fixture(params=KINDS)
def case(request):
    with fake_case(request.param) as c:
        yield c


@pytest.fixture(params=[*KINDS, "local", pytest.param("supysonic", marks=pytest.mark.slow), "mpd"])
def any_provider(request, tmp_path):
    """Every provider: each contract fake (KINDS), the local folder (generated music), a real supysonic
    and a real MPD."""
    if request.param in KINDS:
        with fake_case(request.param) as c:
            yield c.provider
        return
    if request.param == "local":
        provider = LocalFolderProvider(request.getfixturevalue("generated_music"), playlist_dir=tmp_path / "lists")
    elif request.param == "mpd":
        url, music = request.getfixturevalue("mpd_generated")
        provider = MPDProvider(url, music_dir=music, retries=1)
    else:
        from tests.audiomuse.providers.conftest import PASSWORD as SUPY_PASSWORD, USER as SUPY_USER

        url, _ = request.getfixturevalue("supysonic_generated")
        provider = SubsonicProvider(url, SUPY_USER, SUPY_PASSWORD, retries=1)
    with provider:
        yield provider


def _album(p: MediaProvider, name: str):
    return next(a for a in p.newest_albums() if a.name == name)


def test_newest_albums_first_with_limit_and_paging(case):
    albums = case.provider.newest_albums()
    assert [a.name for a in albums] == ["Newest", "Middle", "Older"]
    assert [a.artist for a in albums] == ["Band C", "Band B", "Band A"]
    assert all(isinstance(a.added, datetime) for a in albums)
    assert [a.added for a in albums] == sorted((a.added for a in albums), reverse=True)
    assert [a.name for a in case.provider.newest_albums(1)] == ["Newest"]
    assert [a.name for a in case.provider.newest_albums(2)] == ["Newest", "Middle"]
    paged = case.make(page_size=1)  # one album per request: the paging loop must collect them all
    assert [a.id for a in paged.newest_albums()] == [a.id for a in albums]
    assert [a.id for a in paged.newest_albums(2)] == [a.id for a in albums[:2]]


def test_album_tracks_carry_the_tags(case):
    older = _album(case.provider, "Older")
    tracks = case.provider.album_tracks(older.id)
    assert [(t.title, t.track_number) for t in tracks] == [("A Song 1", 1), ("A Song 2", 2), ("A Song 3", 3)]
    assert all(t.album_id == older.id and t.album == "Older" and t.artist == "Band A" for t in tracks)
    assert all(t.file_format == "flac" for t in tracks)
    assert tracks[0].duration == pytest.approx(181.5, abs=1)


def test_download_is_byte_identical_with_a_safe_name(case, tmp_path):
    track = case.provider.album_tracks(_album(case.provider, "Middle").id)[1]
    path = case.provider.download(track, tmp_path)
    assert path.parent == tmp_path and path.suffix == ".flac" and "/" not in path.name
    assert path.read_bytes() == b"audio-bytes-b2|" * 300
    assert list(tmp_path.iterdir()) == [path]  # no .part left behind
    with case.provider.downloaded(track) as temp:
        assert temp.read_bytes() == path.read_bytes()
    assert not temp.exists()


def test_playlists_created_replaced_in_place_and_deleted_by_suffix(case):
    p = case.provider
    ids = [t.id for a in p.newest_albums() for t in p.album_tracks(a.id)]
    first = p.create_or_replace_playlist("Calm_automatic", ids[:2])
    assert case.stored("Calm_automatic") == ids[:2]
    mine = p.create_or_replace_playlist("Mine", ids[:1])
    p.create_or_replace_playlist("Keep_automatic", ids[1:2])
    second = p.create_or_replace_playlist("Calm_automatic", ids[3:6])
    assert second.id == first.id  # replaced in place, not deleted and recreated
    assert case.stored("Calm_automatic") == ids[3:6]
    assert sorted(pl.name for pl in p.list_playlists()) == ["Calm_automatic", "Keep_automatic", "Mine"]
    assert p.delete_playlists_by_suffix("_automatic", keep=["Keep_automatic"]) == ["Calm_automatic"]
    assert sorted((pl.id, pl.name) for pl in p.list_playlists()) == sorted(
        [(mine.id, "Mine"), (next(x.id for x in p.list_playlists() if x.name == "Keep_automatic"), "Keep_automatic")])
    p.delete_playlist(mine.id)
    assert [pl.name for pl in p.list_playlists()] == ["Keep_automatic"]


def test_wrong_credentials_raise_auth_error_without_the_secret(case, caplog):
    bad = case.make(WRONG)
    with caplog.at_level(logging.DEBUG), pytest.raises(ProviderAuthError) as err:
        bad.newest_albums()
    message = str(err.value)
    assert case.fake.url.split("//")[1] in message and "rejected the credentials" in message
    assert f"user '{USER}'" in message or case.kind in ("jellyfin", "emby")
    leaked = message + repr(bad) + repr(err.value.args) + caplog.text
    for secret in (WRONG, WRONG.encode().hex(), SECRET):
        assert secret not in leaked


def test_server_down_is_unavailable_after_retries_naming_the_host(case, caplog):
    port = free_port()
    provider = type(case.provider)(f"http://127.0.0.1:{port}", USER, SECRET, retries=3, backoff=0.001)
    with caplog.at_level(logging.WARNING), pytest.raises(ProviderUnavailable) as err:
        provider.newest_albums()
    message = str(err.value)
    assert f"http://127.0.0.1:{port}" in message
    assert "unreachable after 3 attempts: connection refused" in message
    assert caplog.text.count("retrying") == 2
    assert SECRET not in message + caplog.text + repr(provider)


def test_5xx_answers_are_retried_then_give_up(case):
    case.fake.fail_next = 2
    retrying = case.make(retries=3)
    assert [a.name for a in retrying.newest_albums(1)] == ["Newest"]
    case.fake.fail_next = 5
    with pytest.raises(ProviderUnavailable, match="after 2 attempts: HTTP 503"):
        case.make(retries=2).album_tracks("whatever")
    case.fake.fail_next = 0


def test_download_retries_a_503(case, tmp_path):
    track = case.provider.album_tracks(_album(case.provider, "Newest").id)[0]
    case.fake.fail_next = 1
    path = case.make(retries=2).download(track, tmp_path)
    assert path.read_bytes() == b"audio-bytes-c1|" * 300


def test_top_played(case):
    played = case.provider.top_played(10)
    if case.kind == "lyrion":
        assert played == []  # no play counts in Lyrion's CLI
        return
    expected = [(case.track_id(t), n) for t, n in [("b2", 9), ("a3", 6), ("a2", 4), ("a1", 2)]]
    assert [(p.track_id, p.play_count) for p in played] == expected
    assert all(p.last_played and p.last_played.year == 2026 for p in played)
    assert [p.track_id for p in case.provider.top_played(2)] == [case.track_id("b2"), case.track_id("a3")]


def test_no_secret_in_any_log_record_of_a_whole_session(case, caplog, tmp_path):
    with caplog.at_level(logging.DEBUG):
        p = case.provider
        ids = [t.id for a in p.newest_albums() for t in p.album_tracks(a.id)]
        p.download(p.album_tracks(p.newest_albums()[0].id)[0], tmp_path)
        p.create_or_replace_playlist("X_automatic", ids[:2])
        p.delete_playlists_by_suffix("_automatic")
    # httpx did log the requests (plexapi's go through requests: urllib3 logs them)
    assert "HTTP Request" in caplog.text or (case.kind == "plex" and '"GET /library/sections' in caplog.text)
    sent = [v for *_, q, _h in case.fake.requests for k, vs in q.items() if k in ("t", "s", "p") for v in vs]
    for secret in [SECRET, SECRET.encode().hex(), *sent]:
        assert secret not in caplog.text
    assert repr(p).count(SECRET) == 0


def test_playlist_tracks_read_back_in_order(any_provider):
    p = any_provider
    ids = [t.id for a in p.newest_albums() for t in p.album_tracks(a.id)]
    assert len(ids) >= 5
    order = [ids[3], ids[0], ids[4], ids[1]]  # across albums, not in catalog order
    created = p.create_or_replace_playlist("Order_recipe", order)
    try:
        assert p.playlist_tracks(created.id) == order
        listed = next(pl for pl in p.list_playlists() if pl.name == "Order_recipe")
        assert p.playlist_tracks(listed.id) == order
        shorter = [ids[4], ids[2], ids[0]]
        assert p.create_or_replace_playlist("Order_recipe", shorter).id == created.id
        assert p.playlist_tracks(created.id) == shorter
        assert p.create_or_replace_playlist("Order_recipe", []).id == created.id
        assert p.playlist_tracks(created.id) == []
    finally:
        p.delete_playlist(created.id)
    with pytest.raises(ProviderError) as err:
        p.playlist_tracks(created.id)
    assert err.value.server and str(err.value).startswith(err.value.server)
    assert "no playlist" in str(err.value) and created.id in str(err.value)


def test_owner_is_ignored_by_servers_without_users(tmp_path, generated_music):
    with fake_case("lyrion") as c:
        made = c.provider.create_or_replace_playlist("Mine_recipe", ["a1", "b2"], owner="bob")
        assert [pl.id for pl in c.provider.list_playlists(owner="ann")] == [made.id]
        assert c.provider.playlist_tracks(made.id, owner="ann") == ["a1", "b2"]
        assert c.provider.delete_playlists_by_suffix("_recipe", owner="ann") == ["Mine_recipe"]
    local = LocalFolderProvider(generated_music, playlist_dir=tmp_path)
    ids = [t.id for a in local.newest_albums() for t in local.album_tracks(a.id)][:2]
    made = local.create_or_replace_playlist("Mine_recipe", ids, owner="bob")
    assert local.playlist_tracks(made.id, owner="ann") == ids
    assert local.delete_playlists_by_suffix("_recipe", owner="ann") == ["Mine_recipe"]


def test_user_passwords_setting_is_parsed_and_never_echoed():
    assert parse_user_passwords(None) == {}
    assert parse_user_passwords(" ann:pw1, bob:p:w2 ,") == {"ann": "pw1", "bob": "p:w2"}
    with pytest.raises(ValueError, match="entry 2 is not 'user:password'") as err:
        parse_user_passwords("ann:pw1,hunter2")
    assert "hunter2" not in str(err.value)
    settings = Settings(media_server_type="subsonic", media_server_url="http://127.0.0.1:9", media_server_user="alice",
                        media_server_password="pw", media_server_user_passwords="ann:pw1,bob:pw2")
    assert "pw1" not in repr(settings) and "pw1" not in str(settings.public_dict())
    provider = make_provider(settings)
    assert provider._user_passwords == {"ann": "pw1", "bob": "pw2"} and "pw1" not in repr(provider)
    bad = settings.model_copy(update={"media_server_user_passwords": Settings(
        media_server_user_passwords="oops-secret").media_server_user_passwords})
    with pytest.raises(ProviderError, match="entry 1") as err:
        make_provider(bad)
    assert "oops-secret" not in str(err.value)
