"""A real MPD (Debian's ``mpd``) for the MPD provider's tests, and its fixtures.

Each server runs as the test process's own user from a generated config in a temp dir (no system
service, no system config): ``music_directory`` is the library under test, its own
``playlist_directory``, ``db_file`` and ``sticker_file``, ``bind_to_address "127.0.0.1"`` on a free
port, a ``null`` audio output and no zeroconf. The fixture waits for the greeting, asks for an
``update`` and polls ``status`` until ``updating_db`` is gone, so the database is complete before a
test reads it. Tests skip (saying why) only when the ``mpd`` binary is missing.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from pathlib import Path

import mpd
import pytest

from tests.servers import free_port, stop_process

MPD_BIN = shutil.which("mpd")
PASSWORD = "mpd-pass-Word-7"
requires_mpd = pytest.mark.skipif(MPD_BIN is None, reason="the mpd binary is missing: run "
                                                          "scripts/install_system_deps.sh (Debian package mpd)")


def _config(music: Path, workdir: Path, port: int, password: str | None, stickers: bool) -> str:
    lines = [
        f'music_directory "{music}"', f'playlist_directory "{workdir / "playlists"}"',
        f'db_file "{workdir / "database"}"', *([f'sticker_file "{workdir / "sticker.sql"}"'] if stickers else []),
        'bind_to_address "127.0.0.1"', f'port "{port}"', 'zeroconf_enabled "no"', 'auto_update "no"',
        'audio_output {\n  type "null"\n  name "null"\n}',
    ]
    if password:
        lines.append(f'password "{password}@read,add,control,admin"')
    return "\n".join(lines) + "\n"


def _client(port: int, password: str | None, deadline: float, proc: subprocess.Popen, out: Path) -> mpd.MPDClient:
    while True:
        client = mpd.MPDClient()
        client.timeout = 5
        try:
            client.connect("127.0.0.1", port)
            if password:
                client.password(password)
            return client
        except (OSError, mpd.ConnectionError):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"mpd did not start: {out.read_text()[-2000:]}") from None
            time.sleep(0.05)


@contextlib.contextmanager
def mpd_server(music: Path, workdir: Path, password: str | None = None, stickers: bool = True):
    """Yields ``mpd://127.0.0.1:<port>`` of a running MPD whose database holds ``music`` (with a
    sticker database unless ``stickers`` is false)."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "playlists").mkdir(exist_ok=True)
    port = free_port()
    conf = workdir / "mpd.conf"
    conf.write_text(_config(music, workdir, port, password, stickers))
    out = workdir / "mpd.out"
    with open(out, "wb") as log:
        proc = subprocess.Popen([MPD_BIN, "--no-daemon", "--stderr", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        client = _client(port, password, time.monotonic() + 30, proc, out)
        try:
            client.update()
            deadline = time.monotonic() + 60
            while "updating_db" in client.status():
                if time.monotonic() > deadline:
                    raise RuntimeError("mpd's database update did not finish within 60 s")
                time.sleep(0.05)
        finally:
            client.disconnect()
        yield f"mpd://127.0.0.1:{port}"
    finally:
        stop_process(proc, 10)


def mpd_client(url: str, password: str | None = None) -> mpd.MPDClient:
    """A plain python-mpd2 client, for what a test sets up itself (stickers, as a player writes them)."""
    host, port = url.removeprefix("mpd://").rsplit(":", 1)
    client = mpd.MPDClient()
    client.timeout = 5
    client.connect(host, int(port))
    if password:
        client.password(password)
    return client


@pytest.fixture(scope="session")
def mpd_generated(generated_music, tmp_path_factory):
    """(url, music root) of a real MPD on the generated library (albums of known age)."""
    if MPD_BIN is None:
        pytest.skip("the mpd binary is missing: run scripts/install_system_deps.sh (Debian package mpd)")
    with mpd_server(generated_music, tmp_path_factory.mktemp("mpd-generated")) as url:
        yield url, generated_music
