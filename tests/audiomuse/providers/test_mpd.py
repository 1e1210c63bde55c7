"""The MPD provider against a real MPD (Debian's mpd, started by tests/audiomuse/providers/mpd_server.py):
the contract behaviours the HTTP providers show against their fakes (catalog order and paging, tags,
byte-exact downloads, playlists replaced in place and deleted by suffix, history, bad credentials,
a server that is down or is not MPD), on the generated library and on the real small sample library."""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from audiomuse.config import Settings
from audiomuse.providers import make_provider
from audiomuse.providers.base import ProviderAuthError, ProviderError, ProviderUnavailable
from audiomuse.providers.mpd import MPDProvider, parse_address
from tests.audiomuse.providers.mpd_server import PASSWORD, mpd_client, mpd_generated, mpd_server, requires_mpd
from tests.servers import free_port

__all__ = ["mpd_generated"]  # the session fixture, used here by name

pytestmark = requires_mpd


@pytest.fixture
def fresh(generated_music, tmp_path):
    """(provider, url) of an MPD of this test's own on the generated library (it changes playlists)."""
    with mpd_server(generated_music, tmp_path / "mpd") as url:
        with MPDProvider(url, music_dir=generated_music, retries=1) as provider:
            yield provider, url


@pytest.fixture(scope="module")
def sample_mpd(small_library, tmp_path_factory):
    """(url, music root) of an MPD on the real small sample library (read-only use)."""
    with mpd_server(small_library, tmp_path_factory.mktemp("mpd-sample")) as url:
        yield url, small_library


@pytest.fixture(scope="module")
def locked_mpd(generated_music, tmp_path_factory):
    """An MPD with a ``password`` (every permission needs it)."""
    with mpd_server(generated_music, tmp_path_factory.mktemp("mpd-locked"), password=PASSWORD) as url:
        yield url


def _provider(mpd_generated) -> MPDProvider:
    url, music = mpd_generated
    return MPDProvider(url, music_dir=music, retries=1)


# Catalog -------------------------------------------------------------------------------------------
def test_newest_albums_by_the_files_last_modified_with_limit_and_paging(mpd_generated):
    with _provider(mpd_generated) as p:
        albums = p.newest_albums()
        assert [(a.name, a.artist) for a in albums] == [
            ("Third Time", "Gamma"), ("Second Wind", "Beta Group"), ("First Light", "Alpha Band")]
        assert [a.added for a in albums] == sorted((a.added for a in albums), reverse=True)
        # an album is as new as its newest file: Second Wind's track 3 is one minute newer than track 1
        newest_file = max((mpd_generated[1] / "Beta Group/Second Wind").glob("0*"), key=lambda f: f.stat().st_mtime)
        stamp = datetime.fromtimestamp(int(newest_file.stat().st_mtime), timezone.utc)
        assert albums[1].added == stamp
        assert [a.name for a in p.newest_albums(2)] == ["Third Time", "Second Wind"]
        assert len({a.id for a in albums}) == 3
    paged = MPDProvider(mpd_generated[0], page_size=1, retries=1)  # one song per window: pages must add up
    assert [a.id for a in paged.newest_albums()] == [a.id for a in albums]
    assert [a.id for a in paged.newest_albums(1)] == [albums[0].id]
    paged.close()


def test_album_tracks_carry_the_tags_and_file_uris(mpd_generated):
    with _provider(mpd_generated) as p:
        by_name = {a.name: a for a in p.newest_albums()}
        wind = p.album_tracks(by_name["Second Wind"].id)
        assert [(t.title, t.track_number, t.file_format) for t in wind] == [
            ("Gust", 1, "wav"), ("Breeze", 2, "wav"), ("Calm", 3, "flac")]
        assert [t.id for t in wind] == ["Beta Group/Second Wind/01 - Gust.wav", "Beta Group/Second Wind/02 - Breeze.wav",
                                        "Beta Group/Second Wind/03 - Calm.flac"]
        assert all(t.album == "Second Wind" and t.artist == "Beta Group" for t in wind)
        assert [t.duration for t in wind] == pytest.approx([2.0, 3.0, 2.0], abs=0.05)
        # a fresh instance (one analysis run) finds an album by id without listing every song
        again = MPDProvider(mpd_generated[0], retries=1)
        assert again.album_tracks(by_name["Third Time"].id)[0].title == "Tick"  # the broken .mp3 is not in MPD's db
        with pytest.raises(ProviderError, match="no album with id nope"):
            again.album_tracks("nope")
        again.close()


def test_the_real_sample_library_is_listed_and_downloaded_byte_for_byte(sample_mpd, tmp_path):
    url, music = sample_mpd
    manifest = json.loads((music / "manifest.json").read_text())["tracks"]
    with MPDProvider(url, music_dir=music, retries=1) as p:
        albums = p.newest_albums()
        tracks = [t for a in albums for t in p.album_tracks(a.id)]
        assert sorted(t.id for t in tracks) == sorted(t["path"] for t in manifest)
        assert len(albums) == len({(t["artist"], t["album"]) for t in manifest})
        expected = {t["path"]: t for t in manifest}
        for t in tracks:
            assert (t.title, t.album) == (expected[t.id]["title"], expected[t.id]["album"])
            assert t.duration == pytest.approx(expected[t.id]["duration"], abs=0.5)
        for track in (tracks[0], tracks[-1]):
            path = p.download(track, tmp_path)
            assert path.parent == tmp_path and "/" not in path.name and path.suffix == f".{track.file_format}"
            assert path.read_bytes() == (music / track.id).read_bytes()
            with p.downloaded(track) as temp:
                assert temp.read_bytes() == path.read_bytes()
            assert not temp.exists()


def test_download_needs_the_music_dir_and_stays_inside_it(mpd_generated, tmp_path):
    url, music = mpd_generated
    with MPDProvider(url, retries=1) as p:
        track = p.album_tracks(p.newest_albums(1)[0].id)[0]
        with pytest.raises(ProviderError, match="set MPD_MUSIC_DIR"):
            p.download(track, tmp_path)
    with MPDProvider(url, music_dir=music, retries=1) as p:
        with pytest.raises(ProviderError, match="outside MPD_MUSIC_DIR"):
            p.download(type(track)("../../etc/passwd", "x", "t", "a", "b"), tmp_path)
    with MPDProvider(url, music_dir=tmp_path, retries=1) as p:  # not MPD's music folder
        with pytest.raises(ProviderError, match="is not in MPD_MUSIC_DIR"):
            p.download(track, tmp_path)
    with pytest.raises(ProviderError, match="does not exist"):
        MPDProvider(url, music_dir=tmp_path / "missing")


# Playlists -----------------------------------------------------------------------------------------
def _ids(p: MPDProvider) -> list[str]:
    return [t.id for a in p.newest_albums() for t in p.album_tracks(a.id)]


def test_playlists_replaced_in_place_and_deleted_by_suffix(fresh):
    p, url = fresh
    ids = _ids(p)
    first = p.create_or_replace_playlist("Calm_automatic", ids[:2])
    mine = p.create_or_replace_playlist("Mine", ids[:1])
    p.create_or_replace_playlist("Keep_automatic", ids[1:2])
    second = p.create_or_replace_playlist("Calm_automatic", ids[3:6])
    assert second == first  # same stored playlist: its name is its id
    assert mpd_client(url).listplaylist("Calm_automatic") == ids[3:6]  # what MPD itself stores
    assert sorted(pl.name for pl in p.list_playlists()) == ["Calm_automatic", "Keep_automatic", "Mine"]
    assert p.delete_playlists_by_suffix("_automatic", keep=["Keep_automatic"]) == ["Calm_automatic"]
    p.delete_playlist(mine.id)
    assert [pl.name for pl in p.list_playlists()] == ["Keep_automatic"]
    p.delete_playlist(mine.id)  # already gone: fine


def test_an_unknown_track_fails_before_the_playlist_is_touched(fresh):
    p, _ = fresh
    ids = _ids(p)
    p.create_or_replace_playlist("Night_path", ids[:3])
    with pytest.raises(ProviderError, match="no track with id 'Gone/away.flac'"):
        p.create_or_replace_playlist("Night_path", [ids[0], "Gone/away.flac"])
    assert p.playlist_tracks("Night_path") == ids[:3]
    assert p.create_or_replace_playlist("Rock/Pop_similar", ids[:1]).name == "Rock_Pop_similar"  # no / in MPD names
    assert p.create_or_replace_playlist("Empty_similar", []).id == "Empty_similar"
    assert p.playlist_tracks("Empty_similar") == []


def test_publishing_clustering_playlists_twice_replaces_them(fresh, db):
    """publish_generation against the real MPD: the second run replaces the first run's playlist
    of the same name (one playlist, new songs) and deletes the stale one."""
    from psycopg.types.json import Jsonb

    from audiomuse.playlists.clustering import publish_generation

    p, url = fresh
    ids = _ids(p)

    def store(playlists):
        with db.connection() as conn:
            conn.execute("DELETE FROM playlists")
            for name, tracks in playlists:
                conn.execute("INSERT INTO playlists (name, kind, generation, track_ids, details) "
                             "VALUES (%s, 'clustering', 'g', %s, %s)", (name, tracks, Jsonb({})))

    store([("Night Drive_automatic", ids[:3]), ("Old Mood_automatic", ids[3:4])])
    assert publish_generation(db, p)["published"] == 2
    store([("Night Drive_automatic", ids[4:7])])
    assert publish_generation(db, p)["deleted"] == ["Old Mood_automatic"]
    assert [pl.name for pl in p.list_playlists()] == ["Night Drive_automatic"]
    assert mpd_client(url).listplaylist("Night Drive_automatic") == ids[4:7]
    with db.connection() as conn:
        assert conn.execute("SELECT provider_id FROM playlists").fetchone()[0] == "Night Drive_automatic"


def test_owner_is_accepted_and_ignored_mpd_has_no_users(fresh):
    p, _ = fresh
    ids = _ids(p)
    made = p.create_or_replace_playlist("Mine_recipe", ids[:2], owner="bob")
    assert made.name == "Mine_recipe"  # no owner prefix: MPD is single-user
    assert [pl.id for pl in p.list_playlists(owner="ann")] == [made.id]
    assert p.playlist_tracks(made.id, owner="ann") == ids[:2]
    assert p.delete_playlists_by_suffix("_recipe", owner="ann") == ["Mine_recipe"]


# History -------------------------------------------------------------------------------------------
def test_top_played_reads_play_count_stickers(fresh):
    p, url = fresh
    assert p.top_played() == []  # no stickers yet: no history
    ids = _ids(p)
    player = mpd_client(url)  # as myMPD writes them: playCount, lastPlayed in Unix seconds
    for uri, count, when in ((ids[0], 3, 1_790_000_000), (ids[4], 9, 1_795_000_000), (ids[2], 5, None)):
        player.sticker_set("song", uri, "playCount", str(count))
        if when:
            player.sticker_set("song", uri, "lastPlayed", str(when))
    player.sticker_set("song", ids[1], "rating", "8")  # another sticker: not a play
    played = p.top_played(10, user="whoever")
    assert [(t.track_id, t.play_count) for t in played] == [(ids[4], 9), (ids[2], 5), (ids[0], 3)]
    assert played[0].last_played == datetime.fromtimestamp(1_795_000_000, timezone.utc)
    assert played[1].last_played is None
    assert [t.track_id for t in p.top_played(1)] == [ids[4]]


def test_no_sticker_database_is_no_history(generated_music, tmp_path, caplog):
    with mpd_server(generated_music, tmp_path / "mpd", stickers=False) as url, MPDProvider(url, retries=1) as p:
        assert "sticker_file" not in (tmp_path / "mpd" / "mpd.conf").read_text()
        with caplog.at_level(logging.INFO):
            assert p.top_played() == []
        assert "keeps no play counts" in caplog.text


# Bad input -----------------------------------------------------------------------------------------
def test_wrong_or_missing_password_is_an_auth_error_without_the_secret(locked_mpd, caplog):
    wrong = "not-the-mpd-pass-99"
    with caplog.at_level(logging.DEBUG):
        bad = MPDProvider(locked_mpd, password=wrong, retries=1)
        with pytest.raises(ProviderAuthError) as err:
            bad.newest_albums()
        message = str(err.value)
        assert message.startswith(f"MPD server at {locked_mpd}: rejected the password")
        leaked = message + repr(bad) + repr(err.value.args) + caplog.text
        assert wrong not in leaked and PASSWORD not in leaked
        with pytest.raises(ProviderAuthError, match="needs a password \\(set MEDIA_SERVER_PASSWORD\\)"):
            MPDProvider(locked_mpd, retries=1).newest_albums()
        with MPDProvider(locked_mpd, password=PASSWORD, retries=1) as good:
            assert len(good.newest_albums()) == 3
            good.create_or_replace_playlist("X_automatic", [good.album_tracks(good.newest_albums(1)[0].id)[0].id])
            good.delete_playlists_by_suffix("_automatic")
    assert PASSWORD not in caplog.text and "******" in caplog.text  # python-mpd2 masks it in its own log


def test_no_secret_in_any_log_record_of_a_whole_session(locked_mpd, generated_music, caplog, tmp_path):
    with caplog.at_level(logging.DEBUG), MPDProvider(locked_mpd, password=PASSWORD, music_dir=generated_music,
                                                     retries=1) as p:
        ids = _ids(p)
        p.download(p.album_tracks(p.newest_albums()[0].id)[0], tmp_path)
        p.create_or_replace_playlist("S_automatic", ids[:2])
        p.top_played()
        p.delete_playlists_by_suffix("_automatic")
        assert "Calling MPD find" in caplog.text  # python-mpd2 did log the commands
    assert PASSWORD not in caplog.text and PASSWORD not in repr(p)


def test_a_connection_mpd_closed_is_reopened(mpd_generated, caplog):
    """MPD closes idle connections (its connection_timeout, 60 s by default): the next command
    reconnects instead of failing a long analysis run."""
    with _provider(mpd_generated) as p:
        albums = p.newest_albums()
        p._client.close()  # MPD's own "close" command: the server hangs up
        with caplog.at_level(logging.INFO):
            assert [a.id for a in p.newest_albums()] == [a.id for a in albums]
        assert "connection lost" in caplog.text and "reconnecting" in caplog.text


def test_a_failed_catalog_run_changes_nothing_in_the_store(locked_mpd, generated_music, db):
    from audiomuse.catalog import refresh_catalog

    with MPDProvider(locked_mpd, password=PASSWORD, music_dir=generated_music, retries=1) as good:
        assert refresh_catalog(good, db).tracks == 6
    with db.connection() as conn:
        before = conn.execute("SELECT id, name FROM albums ORDER BY id").fetchall()
    with pytest.raises(ProviderAuthError):
        refresh_catalog(MPDProvider(locked_mpd, password="wrong", retries=1), db)
    with db.connection() as conn:
        assert conn.execute("SELECT id, name FROM albums ORDER BY id").fetchall() == before


def test_an_unreachable_port_is_unavailable_after_retries(caplog):
    port = free_port()
    provider = MPDProvider(f"mpd://127.0.0.1:{port}", password=PASSWORD, retries=3, backoff=0.001)
    with caplog.at_level(logging.WARNING), pytest.raises(ProviderUnavailable) as err:
        provider.list_playlists()
    assert str(err.value) == f"MPD server at mpd://127.0.0.1:{port}: unreachable after 3 attempts: connection refused"
    assert caplog.text.count("retrying") == 2 and PASSWORD not in caplog.text


class _LoginPage(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<html><body><form>Sign in</form></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, *args):
        pass


def test_an_http_server_at_the_address_is_a_clear_error():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LoginPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"mpd://127.0.0.1:{server.server_port}"
        with pytest.raises(ProviderError) as err:
            MPDProvider(url, password=PASSWORD, timeout=0.5, retries=1).newest_albums()
        assert not isinstance(err.value, (ProviderAuthError, ProviderUnavailable))
        assert str(err.value).startswith(f"MPD server at {url}: sent no MPD greeting within 0.5 s: an HTTP server")
        assert PASSWORD not in str(err.value)
    finally:
        server.shutdown()
        server.server_close()


def test_addresses_and_settings():
    assert parse_address("mpd://music.lan:6601") == ("music.lan", 6601, "MPD server at mpd://music.lan:6601")
    assert parse_address("music.lan")[:2] == ("music.lan", 6600)
    assert parse_address("/run/mpd/socket")[:2] == ("/run/mpd/socket", None)
    with pytest.raises(ProviderError, match="must look like mpd://host:6600"):
        parse_address("https://music.lan/")
    settings = Settings(media_server_type="mpd", media_server_url="mpd://127.0.0.1:6600",
                        media_server_password="pw-secret-1")
    provider = make_provider(settings)
    assert isinstance(provider, MPDProvider) and provider.music_dir is None and "pw-secret-1" not in repr(provider)


def test_the_compose_override_sets_real_settings_on_every_audiomuse_service():
    import re
    from pathlib import Path

    import yaml

    docker = Path(__file__).resolve().parents[3] / "docker"
    text = (docker / "compose.mpd.yaml").read_text()
    override, base = yaml.safe_load(text), yaml.safe_load((docker / "compose.yaml").read_text())
    assert set(override["services"]) == set(base["services"]) - {"postgres"}
    settings = {str(f.validation_alias or name).upper() for name, f in Settings.model_fields.items()}
    for service in override["services"].values():
        assert service["environment"]["MEDIA_SERVER_TYPE"] == "mpd" and set(service["environment"]) <= settings
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    assert all(var in header for var in re.findall(r"\$\{(\w+)", text))


def test_songs_without_album_artist_or_album_tags_still_make_albums(tmp_path):
    """No album artist: MPD (and so the album) falls back to the artist; no album tag: the songs
    of one folder are an album named after it. A fresh instance finds both by id."""
    from mutagen.flac import FLAC

    from tests.audiomuse.providers.conftest import write_tagged

    music = tmp_path / "music"
    solo = FLAC(write_tagged(music / "Delta/Lonely/01 - Aa.flac", "Aa", "Delta Solo", "Lonely", 1, 2.0))
    del solo["albumartist"]
    solo.save()
    for n in (1, 2):
        bare = FLAC(write_tagged(music / f"Loose Ends/take{n}.flac", "x", "y", "z", n, 2.0))
        bare.delete()
        bare.save()
    with mpd_server(music, tmp_path / "mpd") as url, MPDProvider(url, retries=1) as p:
        albums = {a.name: a for a in p.newest_albums()}
        assert sorted((a.name, a.artist) for a in albums.values()) == [("Lonely", "Delta Solo"), ("Loose Ends", "")]
        with MPDProvider(url, retries=1) as fresh_instance:
            assert [t.title for t in fresh_instance.album_tracks(albums["Loose Ends"].id)] == ["take1", "take2"]
            assert [(t.title, t.artist) for t in fresh_instance.album_tracks(albums["Lonely"].id)] == [("Aa", "Delta Solo")]
