"""The local folder provider on generated, really tagged FLAC and WAV files."""

import logging
import os
import time

import mutagen
import pytest

from audiomuse.providers.base import ProviderError
from audiomuse.providers.local import LocalFolderProvider, short_id
from tests.audiomuse.providers.conftest import GENERATED, build_generated_library, write_tagged
from tests.signals import tone, write_wav


@pytest.fixture
def music(tmp_path):
    return build_generated_library(tmp_path / "music")


def _by_name(p):
    return {a.name: a for a in p.newest_albums()}


def test_albums_grouped_newest_first_with_tags(music):
    p = LocalFolderProvider(music)
    albums = p.newest_albums()
    assert [(a.name, a.artist) for a in albums] == [
        ("Third Time", "Gamma"), ("Second Wind", "Beta Group"), ("First Light", "Alpha Band")]
    newest_file = max((music / rel).stat().st_mtime for rel, *_ in GENERATED if "Second Wind" in rel)
    assert albums[1].added.timestamp() == pytest.approx(newest_file)
    assert [a.name for a in p.newest_albums(2)] == ["Third Time", "Second Wind"]
    tracks = p.album_tracks(_by_name(p)["Second Wind"].id)
    assert [(t.title, t.track_number, t.file_format, t.artist) for t in tracks] == [
        ("Gust", 1, "wav", "Beta Group"), ("Breeze", 2, "wav", "Beta Group"), ("Calm", 3, "flac", "Beta Group")]
    assert [t.duration for t in tracks] == pytest.approx([2.0, 3.0, 2.0], abs=0.01)


def test_ids_are_short_hex_and_stable_across_instances(music):
    p = LocalFolderProvider(music)
    album = _by_name(p)["First Light"]
    tracks = p.album_tracks(album.id)
    assert album.id == short_id("Alpha Band/First Light|First Light")
    assert tracks[0].id == short_id("Alpha Band/First Light/01 - Dawn.flac")
    assert all(len(x.id) == 16 and set(x.id) <= set("0123456789abcdef") for x in [album, *tracks])
    again = LocalFolderProvider(str(music))
    assert [(a.id, [t.id for t in again.album_tracks(a.id)]) for a in again.newest_albums()] == [
        (a.id, [t.id for t in p.album_tracks(a.id)]) for a in p.newest_albums()]


def test_non_audio_files_are_skipped_with_a_warning(music, caplog):
    (music / "Gamma" / "Third Time" / "03 - Empty.ogg").write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        p = LocalFolderProvider(music)
        tracks = p.album_tracks(_by_name(p)["Third Time"].id)
    assert [t.title for t in tracks] == ["Tick"]
    assert "02 - Broken.mp3: not an audio file" in caplog.text and "03 - Empty.ogg: empty file" in caplog.text
    assert "cover-notes.txt" not in caplog.text  # not an audio suffix: not even looked at


def test_damaged_audio_is_listed_for_the_analysis_to_report(music, caplog):
    """A truncated FLAC still starts with "fLaC": it is a song whose file is broken, not a stray file."""
    damaged = music / "Gamma" / "Third Time" / "04 - Cut Short.flac"
    good = (music / "Alpha Band/First Light/01 - Dawn.flac").read_bytes()
    damaged.write_bytes(good[:30])
    with caplog.at_level(logging.WARNING):
        p = LocalFolderProvider(music)
        tracks = p.album_tracks(_by_name(p)["Third Time"].id)
    assert [(t.title, t.track_number, t.duration) for t in tracks] == [("Tick", 1, pytest.approx(5.0, abs=0.01)),
                                                                       ("Cut Short", 4, None)]
    assert "04 - Cut Short.flac: damaged audio file" in caplog.text


def test_missing_tags_fall_back_to_folders_and_file_name(tmp_path):
    root = tmp_path / "music"
    write_wav(root / "Some Artist" / "Some Album" / "07 - Untagged Song.flac", tone((330.0,), 1.0))
    write_wav(root / "Loose" / "1-02 Disc Two.flac", tone((330.0,), 1.0))
    p = LocalFolderProvider(root)
    albums = _by_name(p)
    assert set(albums) == {"Some Album", "Loose"}
    (t,) = p.album_tracks(albums["Some Album"].id)
    assert (t.title, t.track_number, t.artist, t.album) == ("Untagged Song", 7, "Some Artist", "Some Album")
    assert albums["Some Album"].artist == "Some Artist"
    (loose,) = p.album_tracks(albums["Loose"].id)
    assert (loose.title, loose.track_number) == ("Disc Two", 2)


def test_refresh_reads_only_new_or_changed_files(music, monkeypatch):
    import audiomuse.providers.local as local

    p = LocalFolderProvider(music)
    p.newest_albums()
    reads = []
    real = local._read_tags
    monkeypatch.setattr(local, "_read_tags", lambda path, size=None: reads.append(path.name) or real(path, size))
    p.refresh()
    assert reads == []  # nothing changed: the cached tags are reused
    new = write_tagged(music / "Gamma" / "Third Time" / "03 - Tock.flac", "Tock", "Gamma", "Third Time", 3, 1.0)
    later = time.time() + 5
    os.utime(new, (later, later))
    p.refresh()
    assert reads == ["03 - Tock.flac"]
    assert [t.title for t in p.album_tracks(_by_name(p)["Third Time"].id)] == ["Tick", "Tock"]
    assert p.newest_albums()[0].name == "Third Time"


def test_download_copies_bytes_and_cleans_up(music):
    p = LocalFolderProvider(music)
    track = p.album_tracks(_by_name(p)["Second Wind"].id)[0]
    with p.downloaded(track) as path:
        assert path.suffix == ".wav" and path.name == f"{track.id}.wav"
        assert path.read_bytes() == (music / "Beta Group/Second Wind/01 - Gust.wav").read_bytes()
        tmp = path.parent
    assert not tmp.exists()


def test_playlists_m3u8_replace_and_delete_by_suffix(music):
    p = LocalFolderProvider(music)
    albums = _by_name(p)
    first = p.album_tracks(albums["First Light"].id)
    second = p.album_tracks(albums["Second Wind"].id)
    made = p.create_or_replace_playlist("Calm_automatic", [first[1].id, second[0].id])
    p.create_or_replace_playlist("Keep me", [first[0].id])
    file = music / "playlists" / "Calm_automatic.m3u8"
    assert made.id == "Calm_automatic.m3u8"
    assert file.read_text(encoding="utf-8") == (
        "#EXTM3U\n#PLAYLIST:Calm_automatic\n"
        "#EXTINF:4,Alpha Band - Noon\n../Alpha Band/First Light/02 - Noon.flac\n"
        "#EXTINF:2,Beta Group - Gust\n../Beta Group/Second Wind/01 - Gust.wav\n")
    for line in file.read_text().splitlines()[3::2]:  # every path resolves to the real file
        assert (file.parent / line).resolve().is_file()
    again = p.create_or_replace_playlist("Calm_automatic", [second[2].id])
    assert again.id == made.id
    assert file.read_text().count("#EXTINF") == 1 and "03 - Calm.flac" in file.read_text()
    assert sorted(x.name for x in (music / "playlists").iterdir()) == ["Calm_automatic.m3u8", "Keep me.m3u8"]
    assert p.delete_playlists_by_suffix("_automatic") == ["Calm_automatic"]
    assert [pl.name for pl in p.list_playlists()] == ["Keep me"]
    assert len(LocalFolderProvider(music).newest_albums()) == 3  # the playlists folder is not music


def test_playlist_names_with_unsafe_characters(music, tmp_path):
    p = LocalFolderProvider(music, playlist_dir=tmp_path / "lists")
    track = p.album_tracks(p.newest_albums()[0].id)[0]
    made = p.create_or_replace_playlist("AC/DC: best?_automatic", [track.id])
    assert made.id == "AC_DC_ best__automatic.m3u8" and (tmp_path / "lists" / made.id).exists()
    assert [pl.name for pl in p.list_playlists()] == ["AC/DC: best?_automatic"]
    assert p.delete_playlists_by_suffix("_automatic") == ["AC/DC: best?_automatic"]
    with pytest.raises(ProviderError, match="not a playlist id"):
        p.delete_playlist("../music/Alpha Band/First Light/01 - Dawn.flac")
    assert (music / "Alpha Band/First Light/01 - Dawn.flac").exists()


def test_unknown_track_id_fails_before_writing(music):
    p = LocalFolderProvider(music)
    with pytest.raises(ProviderError, match="no track with id"):
        p.create_or_replace_playlist("X", ["0000000000000000"])
    assert p.list_playlists() == []


def test_no_history_without_a_scrobbler_log(music):
    assert LocalFolderProvider(music).top_played() == []


def test_history_from_scrobbler_log(music):
    (music / ".scrobbler.log").write_text(
        "#AUDIOSCROBBLER/1.1\n#TZ/UTC\n"
        "Alpha Band\tFirst Light\tNoon\t2\t4\tL\t1767225600\t\n"
        "Alpha Band\tFirst Light\tNoon\t2\t4\tL\t1767225700\t\n"
        "Gamma\tThird Time\tTick\t1\t5\tL\t1767225800\t\n"
        "Gamma\tThird Time\tTick\t1\t5\tS\t1767225900\t\n")
    p = LocalFolderProvider(music)
    played = p.top_played()
    assert [(p.path_of(x.track_id).name, x.play_count) for x in played] == [("02 - Noon.flac", 2), ("01 - Tick.flac", 1)]


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ProviderError, match="does not exist"):
        LocalFolderProvider(tmp_path / "nope")


def test_make_provider_picks_by_kind(tmp_path):
    from audiomuse.config import Settings
    from audiomuse.providers import make_provider
    from audiomuse.providers.jellyfin import JellyfinProvider
    from audiomuse.providers.lyrion import LyrionProvider
    from audiomuse.providers.subsonic import SubsonicProvider

    (tmp_path / "m").mkdir()
    assert make_provider(Settings(media_server_type="local", music_dir=tmp_path / "m")).kind == "local"
    nav = make_provider(Settings(media_server_type="navidrome", media_server_url="http://h:4533",
                                 media_server_user="u", media_server_password="pw-navi-1", http_retries=5))
    assert isinstance(nav, SubsonicProvider) and "pw-navi-1" not in repr(nav) and nav.http.retries == 5
    jf = make_provider(Settings(media_server_type="jellyfin", media_server_url="http://h:8096",
                                media_server_user="u", media_server_token="tok-jf-1"))
    assert isinstance(jf, JellyfinProvider) and "tok-jf-1" not in repr(jf)
    ly = make_provider(Settings(media_server_type="lyrion", media_server_url="http://h:9000"))
    assert isinstance(ly, LyrionProvider)
    with pytest.raises(ProviderError, match="MEDIA_SERVER_URL"):
        make_provider(Settings(media_server_type="lyrion"))
    with pytest.raises(ProviderError, match="MEDIA_SERVER_USER"):
        make_provider(Settings(media_server_type="subsonic", media_server_url="http://h:4533"))


def test_wav_id3_tags_are_read(tmp_path):
    path = write_tagged(tmp_path / "m" / "x.wav", "Wave Title", "Wave Artist", "Wave Album", 4, 1.0)
    assert mutagen.File(path, easy=True).tags is not None  # raw ID3 frames, not easy keys
    p = LocalFolderProvider(tmp_path / "m")
    (album,) = p.newest_albums()
    (t,) = p.album_tracks(album.id)
    assert (album.name, album.artist, t.title, t.track_number) == ("Wave Album", "Wave Artist", "Wave Title", 4)


def test_playlist_tracks_maps_m3u8_lines_back_to_track_ids(music, caplog):
    """What the provider writes reads back in order; a hand-made playlist with absolute paths,
    file:// URLs and Windows separators maps to the same ids; lines naming no music file are skipped."""
    p = LocalFolderProvider(music)
    albums = _by_name(p)
    first, second = p.album_tracks(albums["First Light"].id), p.album_tracks(albums["Second Wind"].id)
    order = [second[2].id, first[0].id, second[0].id]
    assert p.playlist_tracks(p.create_or_replace_playlist("Order", order).id) == order
    (music / "playlists" / "hand.m3u8").write_text(
        "\ufeff#EXTM3U\n"
        f"{music / 'Beta Group/Second Wind/02 - Breeze.wav'}\n"
        "\n# a comment\n"
        "..\\Alpha Band\\First Light\\02 - Noon.flac\n"
        f"file://{(music / 'Gamma/Third Time/01 - Tick.flac').as_posix().replace(' ', '%20')}\n"
        "../Gone/Missing/01 - Nothing.flac\n/elsewhere/not-music.flac\n", encoding="utf-8")
    gamma = p.album_tracks(albums["Third Time"].id)
    with caplog.at_level(logging.WARNING):
        assert p.playlist_tracks("hand.m3u8") == [second[1].id, first[1].id, gamma[0].id]
    assert caplog.text.count("is not a track of") == 2
    with pytest.raises(ProviderError, match="local folder: no playlist 'nope.m3u8'"):
        p.playlist_tracks("nope.m3u8")
    with pytest.raises(ProviderError, match="not a playlist id"):
        p.playlist_tracks("../secrets.m3u8")
