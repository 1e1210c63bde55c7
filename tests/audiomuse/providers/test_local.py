import mutagen
import pytest

from audiomuse.providers.base import ProviderError
from audiomuse.providers.local import LocalFolderProvider
from tests.signals import tone, write_wav


def _track(root, rel, title, artist, album, n, seconds=1.0):
    path = write_wav(root / rel, tone((330.0,), seconds))
    tags = mutagen.File(path, easy=True)
    tags.update({"title": title, "artist": artist, "album": album, "tracknumber": str(n), "albumartist": artist})
    tags.save()
    return path


@pytest.fixture
def music(tmp_path):
    root = tmp_path / "music"
    _track(root, "A/One/01.flac", "First", "A", "One", 1)
    _track(root, "A/One/02.flac", "Second", "A", "One", 2, seconds=2.0)
    _track(root, "B/Two/01.flac", "Solo", "B", "Two", 1)
    (root / "B" / "Two" / "notes.mp3").write_text("this is not audio")
    (root / "B" / "Two" / "empty.ogg").write_bytes(b"")
    return root


def test_albums_tracks_and_stable_ids(music):
    p = LocalFolderProvider(music)
    albums = p.newest_albums()
    assert sorted(a.name for a in albums) == ["One", "Two"]
    one = next(a for a in albums if a.name == "One")
    tracks = p.album_tracks(one.id)
    assert [(t.title, t.track_number, t.file_format) for t in tracks] == [("First", 1, "flac"), ("Second", 2, "flac")]
    assert tracks[1].duration == pytest.approx(2.0, abs=0.05)
    assert all(len(x.id) == 16 and set(x.id) <= set("0123456789abcdef") for x in [one, *tracks])
    again = LocalFolderProvider(music)
    assert [a.id for a in again.newest_albums()] == [a.id for a in albums]
    assert len(p.newest_albums(1)) == 1


def test_download_copies_bytes_and_cleans_up(music):
    p = LocalFolderProvider(music)
    track = p.album_tracks(p.newest_albums()[0].id)[0]
    with p.downloaded(track) as path:
        assert path.read_bytes() == p.path_of(track.id).read_bytes()
        tmp = path.parent
    assert not tmp.exists()


def test_playlists_m3u8_replace_and_delete_by_suffix(music):
    p = LocalFolderProvider(music)
    ids = [t.id for a in p.newest_albums() for t in p.album_tracks(a.id)]
    p.create_or_replace_playlist("Calm_automatic", ids[:2])
    p.create_or_replace_playlist("Keep me", ids[:1])
    text = (music / "playlists" / "Calm_automatic.m3u8").read_text()
    assert text.startswith("#EXTM3U") and text.count("#EXTINF") == 2 and "../" in text
    p.create_or_replace_playlist("Calm_automatic", ids[2:3])
    assert (music / "playlists" / "Calm_automatic.m3u8").read_text().count("#EXTINF") == 1
    assert p.delete_playlists_by_suffix("_automatic") == ["Calm_automatic"]
    assert [pl.name for pl in p.list_playlists()] == ["Keep me"]
    # playlists folder is not scanned as music
    assert sorted(a.name for a in LocalFolderProvider(music).newest_albums()) == ["One", "Two"]


def test_history_from_scrobbler_log(music):
    (music / ".scrobbler.log").write_text(
        "#AUDIOSCROBBLER/1.1\n#TZ/UTC\nA\tOne\tSecond\t2\t2\tL\t1767225600\t\nA\tOne\tSecond\t2\t2\tL\t1767225700\t\n")
    p = LocalFolderProvider(music)
    played = p.top_played()
    assert len(played) == 1 and played[0].play_count == 2
    assert p.path_of(played[0].track_id).name == "02.flac"


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ProviderError, match="does not exist"):
        LocalFolderProvider(tmp_path / "nope")


def test_make_provider_picks_by_kind(tmp_path):
    from audiomuse.config import Settings
    from audiomuse.providers import make_provider
    from audiomuse.providers.jellyfin import JellyfinProvider
    from audiomuse.providers.subsonic import SubsonicProvider

    (tmp_path / "m").mkdir()
    assert make_provider(Settings(media_server_type="local", music_dir=tmp_path / "m")).kind == "local"
    nav = make_provider(Settings(media_server_type="navidrome", media_server_url="http://h:4533",
                                 media_server_user="u", media_server_password="pw"))
    assert isinstance(nav, SubsonicProvider) and "pw" not in repr(nav)
    jf = make_provider(Settings(media_server_type="jellyfin", media_server_url="http://h:8096",
                                media_server_user="u", media_server_token="tok"))
    assert isinstance(jf, JellyfinProvider)
    with pytest.raises(ProviderError, match="MEDIA_SERVER_URL"):
        make_provider(Settings(media_server_type="lyrion"))
