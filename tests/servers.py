"""Real servers the tests start: supysonic (a Subsonic API server) on a folder of real music."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def supysonic(music: Path, workdir: Path, user: str = "alice", password: str = "wonder-land-42"):
    """Yields the base URL of a running supysonic serving ``music`` for ``user``."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "supysonic.conf").write_text(
        f"[base]\ndatabase_uri = sqlite:///{workdir}/supysonic.db\n"
        f"[webapp]\ncache_dir = {workdir}/cache\nlog_file = {workdir}/supysonic.log\nmount_webui = no\n"
        f"[daemon]\nsocket = {workdir}/daemon.sock\n"
    )

    def cli(*args):  # supysonic reads ./supysonic.conf
        subprocess.run([str(BIN / "supysonic-cli"), *args], cwd=workdir, check=True, capture_output=True)

    cli("user", "add", user, "-p", password)
    cli("folder", "add", "music", str(music))
    cli("folder", "scan", "--foreground", "music")
    port = free_port()
    proc = subprocess.Popen([str(BIN / "supysonic-server"), "-S", "waitress", "-h", "127.0.0.1", "-p", str(port)],
                            cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/rest/ping", params={"u": user, "p": password, "c": "t", "v": "1.12.0"}, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"supysonic did not start: see {workdir}/supysonic.log")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
