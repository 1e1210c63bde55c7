"""Fixtures for the provider tests: generated tagged music, and real supysonic servers.

supysonic (a Subsonic API 1.12 server, a test dependency) runs headless: a ``supysonic.conf`` with
an sqlite database in a temp dir (supysonic 0.7 reads ``supysonic.conf`` from its working directory,
after ``/etc/supysonic`` and ``~/.supysonic``: HOME points into the temp dir so no user config can
leak in), ``supysonic-cli user add`` / ``folder add`` / ``folder scan``, then ``supysonic-server``
(waitress) on a free port of 127.0.0.1, ready once ``ping`` answers; terminated at the end.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import mutagen
import pytest
from mutagen.flac import FLAC
from mutagen.id3 import TALB, TIT2, TPE1, TPE2, TRCK
from mutagen.wave import WAVE

from tests.servers import free_port, stop_process
from tests.signals import click_track, noise, tone, write_wav


USER, PASSWORD = "alice", "wonder-land-42"
#: a second (non-admin) user of every supysonic, for the per-user playlist tests
BOB, BOB_PASSWORD = "bob", "builder-of-77"
SMALL = Path(os.environ.get("AUDIOMUSE_CACHE", "~/.cache/audiomuse")).expanduser() / "sample-library-small"
BIN = Path(sys.executable).parent

# The generated library: (relative path, title, artist, album, track number, seconds); albums get
# distinct mtimes (days ago) so "newest" has one right answer.
GENERATED = [
    ("Alpha Band/First Light/01 - Dawn.flac", "Dawn", "Alpha Band", "First Light", 1, 3.0),
    ("Alpha Band/First Light/02 - Noon.flac", "Noon", "Alpha Band", "First Light", 2, 4.0),
    ("Beta Group/Second Wind/01 - Gust.wav", "Gust", "Beta Group", "Second Wind", 1, 2.0),
    ("Beta Group/Second Wind/02 - Breeze.wav", "Breeze", "Beta Group", "Second Wind", 2, 3.0),
    ("Beta Group/Second Wind/03 - Calm.flac", "Calm", "Beta Group", "Second Wind", 3, 2.0),
    ("Gamma/Third Time/01 - Tick.flac", "Tick", "Gamma", "Third Time", 1, 5.0),
]
AGE_DAYS = {"First Light": 30, "Second Wind": 10, "Third Time": 2}


def write_tagged(path: Path, title: str, artist: str, album: str, number: int, seconds: float, seed: int = 0) -> Path:
    """A real audio file (FLAC or WAV by suffix, via soundfile) with real tags (via mutagen)."""
    signals = [tone((220.0 + 55 * number,), seconds), click_track(100 + 10 * number, seconds), noise(seconds, seed=seed)]
    write_wav(path, signals[(number + seed) % 3])
    if path.suffix == ".flac":
        audio = FLAC(path)
        audio.update({"title": title, "artist": artist, "albumartist": artist, "album": album,
                      "tracknumber": str(number)})
        audio.save()
    elif path.suffix == ".wav":
        audio = WAVE(path)
        audio.add_tags()
        for frame in (TIT2(encoding=3, text=title), TPE1(encoding=3, text=artist), TPE2(encoding=3, text=artist),
                      TALB(encoding=3, text=album), TRCK(encoding=3, text=str(number))):
            audio.tags.add(frame)
        audio.save()
    else:  # pragma: no cover - only flac and wav are generated
        raise ValueError(path.suffix)
    return path


def build_generated_library(root: Path) -> Path:
    now = time.time()
    for seed, (rel, title, artist, album, number, seconds) in enumerate(GENERATED):
        path = write_tagged(root / rel, title, artist, album, number, seconds, seed)
        stamp = now - AGE_DAYS[album] * 86400 + number * 60
        os.utime(path, (stamp, stamp))
    (root / "Gamma" / "Third Time" / "cover-notes.txt").write_text("not music")
    (root / "Gamma" / "Third Time" / "02 - Broken.mp3").write_text("this is text, not an mp3\n" * 20)
    return root


@pytest.fixture(scope="session")
def generated_music(tmp_path_factory) -> Path:
    return build_generated_library(tmp_path_factory.mktemp("generated-music"))


@pytest.fixture(scope="session")
def small_library() -> Path:
    if not (SMALL / "manifest.json").exists():
        pytest.skip(f"small sample library missing at {SMALL}: run `make samples-small`")
    return SMALL


@contextlib.contextmanager
def supysonic_server(music: Path, workdir: Path, user: str = USER, password: str = PASSWORD,
                     others: dict[str, str] | None = None):
    """Yields the base URL of a running supysonic serving ``music`` for ``user`` (and the
    ``others`` users, default :data:`BOB`)."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "supysonic.conf").write_text(
        f"[base]\ndatabase_uri = sqlite:///{workdir}/supysonic.db\n"
        f"[webapp]\ncache_dir = {workdir}/cache\nlog_file = {workdir}/supysonic.log\nlog_level = WARNING\n"
        f"mount_webui = no\nmount_api = yes\n"
        f"[daemon]\nsocket = {workdir}/daemon.sock\nwait_delay = 1\n"
    )
    env = {**os.environ, "HOME": str(workdir)}

    def cli(*args):
        done = subprocess.run([str(BIN / "supysonic-cli"), *args], cwd=workdir, env=env, capture_output=True,
                              text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"supysonic-cli {' '.join(args[:2])} failed: {done.stderr[-2000:]}")
        return done.stdout

    cli("user", "add", user, "-p", password)
    for other, other_password in ({BOB: BOB_PASSWORD} if others is None else others).items():
        cli("user", "add", other, "-p", other_password)
    cli("folder", "add", "music", str(music))
    cli("folder", "scan", "--foreground", "music")
    port = free_port()
    log = open(workdir / "server.out", "wb")
    proc = subprocess.Popen([str(BIN / "supysonic-server"), "-S", "waitress", "-h", "127.0.0.1", "-p", str(port)],
                            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                ping = httpx.get(f"{url}/rest/ping", params={"u": user, "p": password, "c": "t", "v": "1.12.0",
                                                             "f": "json"}, timeout=1)
                if ping.status_code == 200 and ping.json()["subsonic-response"]["status"] == "ok":
                    break
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"supysonic did not start: {(workdir / 'server.out').read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        stop_process(proc, 10)
        log.close()


@pytest.fixture(scope="session")
def supysonic_generated(generated_music, tmp_path_factory):
    """(url, music root) of supysonic on the generated library."""
    with supysonic_server(generated_music, tmp_path_factory.mktemp("supysonic-generated")) as url:
        yield url, generated_music


@pytest.fixture(scope="session")
def supysonic_sample(small_library, tmp_path_factory):
    """(url, music root) of supysonic on the real small sample library (read-only use)."""
    with supysonic_server(small_library, tmp_path_factory.mktemp("supysonic-sample")) as url:
        yield url, small_library


@pytest.fixture(scope="session")
def supysonic_url(supysonic_sample):
    """The sample-library server's URL (kept for tests written against it)."""
    return supysonic_sample[0]


@pytest.fixture(scope="session")
def subsonic_music(supysonic_sample):
    return supysonic_sample[1]


def tags_of(path: Path) -> dict:
    """title/artist/album/tracknumber of a file, WAV's ID3 frames included."""
    audio = mutagen.File(path)
    if isinstance(audio, WAVE):
        t = audio.tags
        return {"title": str(t["TIT2"]), "artist": str(t["TPE1"]), "album": str(t["TALB"]),
                "tracknumber": int(str(t["TRCK"]).split("/")[0])}
    easy = mutagen.File(path, easy=True)
    return {"title": easy["title"][0], "artist": easy["artist"][0], "album": easy["album"][0],
            "tracknumber": int(easy["tracknumber"][0].split("/")[0]) if "tracknumber" in easy else None}
