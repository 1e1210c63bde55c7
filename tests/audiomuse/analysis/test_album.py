"""analyse_album on real files: idempotent re-runs, bad tracks isolated, server down fails cleanly."""

import shutil
import subprocess

import mutagen
import numpy as np
import pytest

from audiomuse.analysis.album import analyse_album
from audiomuse.analysis.track import TrackAnalyser
from audiomuse.catalog import refresh_catalog
from audiomuse.providers.base import ProviderUnavailable
from audiomuse.providers.local import LocalFolderProvider
from tests.signals import click_track, noise, tone, write_wav


@pytest.fixture(scope="module")
def analyser():
    return TrackAnalyser()


def _tag(path, title, n):
    tags = mutagen.File(path, easy=True)
    tags.update({"title": title, "artist": "Band", "albumartist": "Band", "album": "Mixed Bag", "tracknumber": str(n)})
    tags.save()


@pytest.fixture
def album_dir(tmp_path):
    root = tmp_path / "music" / "Band" / "Mixed Bag"
    _tag(write_wav(root / "01.flac", click_track(120, 12)), "Clicks", 1)
    _tag(write_wav(root / "02.flac", tone((220, 330), 10)), "Chord", 2)
    (root / "03.ogg").write_bytes(b"")  # zero-byte file
    (root / "04.mp3").write_text("not audio at all\n" * 100)  # a text file named .mp3
    if shutil.which("ffmpeg"):
        ogg = root / "05.ogg"
        src = write_wav(tmp_path / "n.wav", noise(10))
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-c:a", "libvorbis", str(ogg)], check=True)
        _tag(ogg, "Truncated", 5)
        ogg.write_bytes(ogg.read_bytes()[:3000])  # header and a sliver of audio
    return tmp_path / "music"


def _counts(db):
    with db.connection() as conn:
        return conn.execute("SELECT (SELECT count(*) FROM score), (SELECT count(*) FROM embedding)").fetchone()


def test_bad_tracks_are_recorded_and_the_album_succeeds(db, album_dir, analyser):
    provider = LocalFolderProvider(album_dir)
    refresh_catalog(provider, db)
    album = provider.newest_albums()[0]
    report = analyse_album(album.id, provider, db, analyser, progress=lambda m: None)
    assert report.analysed >= 2
    assert report.analysed + len(report.failed) == len(provider.album_tracks(album.id))
    assert report.audio_seconds >= 22 and report.audio_s_per_cpu_s > 0
    with db.connection() as conn:
        errors = dict(conn.execute("SELECT title, analysis_error FROM tracks WHERE analysis_error IS NOT NULL"))
        tempo = conn.execute("SELECT s.tempo FROM score s JOIN tracks t ON t.id = s.track_id WHERE t.title = 'Clicks'").fetchone()[0]
    assert set(errors) == set(report.failed) and len(errors) >= 1
    assert all("DecodeError" in e for e in errors.values())
    assert abs(tempo - 120) <= 2


def test_rerun_skips_then_force_updates_without_duplicates(db, album_dir, analyser):
    provider = LocalFolderProvider(album_dir)
    refresh_catalog(provider, db)
    album_id = provider.newest_albums()[0].id
    first = analyse_album(album_id, provider, db, analyser, progress=lambda m: None)
    before = _counts(db)
    second = analyse_album(album_id, provider, db, analyser, progress=lambda m: None)
    assert second.analysed == 0 and second.skipped == first.analysed
    forced = analyse_album(album_id, provider, db, analyser, force=True, progress=lambda m: None)
    assert forced.analysed == first.analysed
    assert _counts(db) == before == (first.analysed, first.analysed)


class FlakyProvider(LocalFolderProvider):
    """Goes down after the first download."""

    downloads = 0

    def download(self, track, dest_dir):
        FlakyProvider.downloads += 1
        if FlakyProvider.downloads > 1:
            raise ProviderUnavailable("test server", "unreachable after 3 attempts")
        return super().download(track, dest_dir)


def test_server_down_mid_album_fails_then_rerun_finishes(db, album_dir, analyser):
    provider = FlakyProvider(album_dir)
    refresh_catalog(provider, db)
    album_id = provider.newest_albums()[0].id
    with pytest.raises(ProviderUnavailable):
        analyse_album(album_id, provider, db, analyser, progress=lambda m: None)
    assert _counts(db) == (1, 1)  # the track done before the failure is kept
    report = analyse_album(album_id, LocalFolderProvider(album_dir), db, analyser, progress=lambda m: None)
    assert report.skipped == 1
    with db.connection() as conn:
        n = conn.execute("SELECT count(*) FROM embedding").fetchone()[0]
        dup = conn.execute("SELECT count(*) - count(DISTINCT track_id) FROM embedding").fetchone()[0]
    assert n == 1 + report.analysed and dup == 0
    assert np.isfinite(n)
