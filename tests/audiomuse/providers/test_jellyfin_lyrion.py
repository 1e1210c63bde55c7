"""Jellyfin and Lyrion adapters against contract fakes of their documented APIs."""

import logging

import pytest

from audiomuse.providers.base import ProviderAuthError, ProviderUnavailable
from audiomuse.providers.jellyfin import JellyfinProvider
from audiomuse.providers.lyrion import LyrionProvider
from tests.audiomuse.providers.fakes.jellyfin import JellyfinFake
from tests.audiomuse.providers.fakes.lyrion import LyrionFake
from tests.servers import free_port

TOKEN = "jf-token-5f3a9c"


def _library():
    def tracks(prefix, n, plays=0):
        return [{"id": f"{prefix}{i}", "title": f"{prefix.upper()} Song {i}", "seconds": 180.5 + i,
                 "bytes": f"audio-bytes-{prefix}{i}".encode() * 100, "plays": plays * i,
                 "last": "2026-11-01T10:00:00.1234567Z" if plays else None} for i in range(1, n + 1)]
    return {
        "al1": {"name": "Older", "artist": "Band A", "created": "2025-01-01T00:00:00Z", "epoch": 1735689600, "tracks": tracks("a", 3, plays=2)},
        "al2": {"name": "Newer", "artist": "Band B", "created": "2026-06-01T00:00:00Z", "epoch": 1780272000, "tracks": tracks("b", 2)},
    }


@pytest.fixture
def jellyfin():
    with JellyfinFake(TOKEN, _library()) as fake:
        yield fake, JellyfinProvider(fake.url, "alice", TOKEN, retries=1)


@pytest.fixture
def lyrion():
    with LyrionFake(_library()) as fake:
        yield fake, LyrionProvider(fake.url, retries=1)


@pytest.mark.parametrize("kind", ["jellyfin", "lyrion"])
def test_catalog_download_and_playlists(kind, jellyfin, lyrion, tmp_path):
    fake, p = jellyfin if kind == "jellyfin" else lyrion
    albums = p.newest_albums()
    assert [a.name for a in albums] == ["Newer", "Older"]
    assert [a.name for a in p.newest_albums(1)] == ["Newer"]
    tracks = p.album_tracks("al1")
    assert [(t.title, t.track_number) for t in tracks] == [("A Song 1", 1), ("A Song 2", 2), ("A Song 3", 3)]
    assert tracks[0].duration == pytest.approx(181.5) and tracks[0].artist == "Band A"
    with p.downloaded(tracks[1]) as path:
        assert path.read_bytes() == b"audio-bytes-a2" * 100
    ids = [t.id for t in tracks]
    first = p.create_or_replace_playlist("Calm_automatic", ids[:2])
    p.create_or_replace_playlist("Mine", ids[:1])
    second = p.create_or_replace_playlist("Calm_automatic", ids[2:])
    stored = {v.get("Name", v.get("name")): v for v in fake.playlists.values()}
    content = stored["Calm_automatic"].get("Items") or stored["Calm_automatic"].get("tracks")
    assert [c[1] if isinstance(c, tuple) else c for c in content] == ids[2:]
    if kind == "jellyfin":
        assert second.id == first.id  # replaced in place
    assert p.delete_playlists_by_suffix("_automatic") == ["Calm_automatic"]
    assert [pl.name for pl in p.list_playlists()] == ["Mine"]


def test_jellyfin_play_counts_and_dotnet_dates(jellyfin):
    _, p = jellyfin
    played = p.top_played(10)
    assert [(x.track_id, x.play_count) for x in played] == [("a3", 6), ("a2", 4), ("a1", 2)]
    assert played[0].last_played.year == 2026


def test_jellyfin_wrong_token_is_auth_error_without_token(jellyfin, caplog):
    fake, _ = jellyfin
    bad = JellyfinProvider(fake.url, "alice", "wrong-token-123", retries=1)
    with caplog.at_level(logging.DEBUG), pytest.raises(ProviderAuthError) as err:
        bad.newest_albums()
    assert "wrong-token-123" not in str(err.value) + repr(bad) + caplog.text


@pytest.mark.parametrize("cls,args", [(JellyfinProvider, ("alice", TOKEN)), (LyrionProvider, ())])
def test_down_server_is_unavailable_after_retries(cls, args):
    port = free_port()
    with pytest.raises(ProviderUnavailable, match=f"127.0.0.1:{port}.*after 2 attempts"):
        cls(f"http://127.0.0.1:{port}", *args, retries=2, backoff=0.01).newest_albums()


def test_lyrion_has_no_history(lyrion):
    assert lyrion[1].top_played() == []
