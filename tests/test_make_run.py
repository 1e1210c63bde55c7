"""`make run` end to end: the launcher brings up the database, materialises the catalog, serves
the Dagster UI and the explorer, and Ctrl-C stops every process it started."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
SMALL = Path(os.environ.get("AUDIOMUSE_CACHE", "~/.cache/audiomuse")).expanduser() / "sample-library-small"

pytestmark = pytest.mark.slow


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_launcher_serves_ui_with_catalog_and_stops_cleanly(server_tmp_path):
    tmp_path = server_tmp_path
    if not (SMALL / "manifest.json").exists():
        pytest.skip("small sample library missing: run `make samples-small`")
    music = tmp_path / "music"  # two real albums keep the test short
    import shutil

    for album in ["Kenta Cho/Gunroar", "Max McCracken/Endgame_ Singularity"]:
        shutil.copytree(SMALL / album, music / album)
    dagster_port, app_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DAGSTER_PG_URL", "DAGSTER_HOME")}
    env.update(AUDIOMUSE_DATA_DIR=str(tmp_path / "data"), MUSIC_DIR=str(music), MEDIA_SERVER_TYPE="local",
               AUDIOMUSE_CONFIG=str(tmp_path / "none.toml"))
    launcher = subprocess.Popen(
        [sys.executable, "-m", "audiomuse_run.launcher", "--dagster-port", str(dagster_port), "--app-port", str(app_port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    seen: set[int] = set()
    try:
        check = subprocess.run(
            [sys.executable, "scripts/check_ui.py", "--dagster", f"http://127.0.0.1:{dagster_port}",
             "--app", f"http://127.0.0.1:{app_port}", "--wait", "240"],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )
        seen = {p.pid for p in _descendants(launcher.pid)}
        assert check.returncode == 0, check.stdout + check.stderr
        assert "2 albums" in check.stdout and "2 album partitions" in check.stdout
    finally:
        launcher.send_signal(signal.SIGINT)
        try:
            out, _ = launcher.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            launcher.kill()
            out, _ = launcher.communicate()
    time.sleep(1)
    alive = [p for p in seen if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"orphans left: {alive}\n{out[-3000:]}"
    postgres = [p for p in psutil.process_iter(["cmdline"]) if str(tmp_path) in " ".join(p.info["cmdline"] or [])]
    assert not postgres, "the embedded PostgreSQL was not stopped"
    assert "embedded PostgreSQL stopped" in out
