"""Faults the core survives: its database restarting mid-album, an LLM endpoint that never answers,
and a 2-hour file (memory bounded). The media server going down mid-album and bad files are in
tests/audiomuse/analysis/test_album.py; Dagster-level faults in tests/audiomuse_pipelines/test_faults.py.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import mutagen
import numpy as np
import pytest

from audiomuse.analysis.album import analyse_album
from audiomuse.catalog import refresh_catalog
from audiomuse.providers.local import LocalFolderProvider
from audiomuse.store import Database
from audiomuse.store.server import ensure_database, start_embedded_server, stop_embedded_server
from tests.signals import click_track, tone, write_wav

API_KEY = "sk-test-Zq8-never-log-me"


# -- the database restarts ---------------------------------------------------------------------------

def _album(root: Path, n: int) -> Path:
    for i in range(1, n + 1):
        path = write_wav(root / "Band" / "Restarts" / f"{i:02d}.flac",
                         click_track(90 + 10 * i, 4) if i % 2 else tone((220.0 * i,), 4))
        tags = mutagen.File(path, easy=True)
        tags.update({"title": f"Song {i}", "artist": "Band", "albumartist": "Band", "album": "Restarts",
                     "tracknumber": str(i)})
        tags.save()
    return root


@pytest.fixture(scope="module")
def analyser():
    from audiomuse.analysis.track import TrackAnalyser

    return TrackAnalyser()


@pytest.fixture
def own_server(server_tmp_path):
    """An embedded PostgreSQL of this test's own, which the test may stop and start."""
    pgdata = server_tmp_path / "pgdata"
    server = start_embedded_server(pgdata)
    ensure_database(server.get_uri("postgres"), "audiomuse")
    db = Database(server.get_uri("audiomuse"))
    db.migrate()
    yield pgdata, db
    stop_embedded_server(pgdata)


class RestartingProvider(LocalFolderProvider):
    """Stops the database while a given track downloads; ``restart_after`` seconds later (None:
    never) a thread starts it again."""

    def __init__(self, root, pgdata, at_download: int, restart_after: float | None):
        super().__init__(root)
        self.pgdata, self.at, self.after = pgdata, at_download, restart_after
        self.downloads = 0
        self.restarter: threading.Thread | None = None

    def download(self, track, dest_dir):
        self.downloads += 1
        if self.downloads == self.at:
            assert stop_embedded_server(self.pgdata)
            if self.after is not None:
                timer = threading.Timer(self.after, start_embedded_server, args=(self.pgdata,))
                timer.start()
                self.restarter = timer
        return super().download(track, dest_dir)


def _rows(db: Database) -> tuple[int, int, int]:
    with db.connection() as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM embedding), (SELECT count(DISTINCT track_id) FROM embedding),"
            " (SELECT count(*) FROM score)").fetchone()


def test_database_restart_mid_album_is_survived_without_duplicates(own_server, tmp_path, analyser, caplog):
    """The server goes down while track 2 is analysed and is back 2 s later: the saves wait."""
    pgdata, db = own_server
    music = _album(tmp_path / "music", 4)
    refresh_catalog(LocalFolderProvider(music), db)
    provider = RestartingProvider(music, pgdata, at_download=2, restart_after=2.0)
    album_id = provider.newest_albums()[0].id
    with caplog.at_level(logging.WARNING, logger="audiomuse.store.db"):
        report = analyse_album(album_id, provider, db, analyser, progress=lambda m: None)
    provider.restarter.join()
    assert report.analysed == 4 and not report.failed
    assert _rows(db) == (4, 4, 4)
    assert "retrying" in caplog.text  # it did wait for the restart


def test_database_down_for_good_fails_the_album_cleanly_and_a_rerun_finishes(own_server, tmp_path, analyser):
    """Down longer than the reconnect window: the album fails with a clear error naming the
    server, keeps the track saved before, and a re-run once the server is back adds the rest."""
    pgdata, fixture_db = own_server
    db = Database(fixture_db.url, reconnect_seconds=1.0)
    music = _album(tmp_path / "music", 3)
    refresh_catalog(LocalFolderProvider(music), db)
    provider = RestartingProvider(music, pgdata, at_download=2, restart_after=None)
    album_id = provider.newest_albums()[0].id
    with pytest.raises(ConnectionError, match="Cannot connect to PostgreSQL at"):
        analyse_album(album_id, provider, db, analyser, progress=lambda m: None)
    start_embedded_server(pgdata)
    assert _rows(db) == (1, 1, 1)
    rerun = analyse_album(album_id, LocalFolderProvider(music), db, analyser, progress=lambda m: None)
    assert rerun.skipped == 1 and rerun.analysed == 2
    assert _rows(db) == (3, 3, 3)


def test_a_database_never_reached_is_not_retried(caplog):
    """Reconnecting is for restarts: a wrong URL fails on the first attempt, with no retry."""
    db = Database("postgresql://am:pw@127.0.0.1:1/audiomuse?connect_timeout=2")
    with caplog.at_level(logging.WARNING, logger="audiomuse.store.db"), pytest.raises(ConnectionError) as err:
        with db.connection():
            pass
    assert "127.0.0.1" in str(err.value) and "retrying" not in caplog.text
    assert db.reconnect_seconds > 0


def test_connection_killed_mid_transaction_raises_its_own_error_and_the_next_one_works(db):
    """A server restart kills open connections: the transaction's real error comes out (not a
    failed rollback on the dead connection), nothing of it is kept, and the next connection works."""
    import psycopg

    with pytest.raises(psycopg.OperationalError, match="terminating connection"):
        with db.connection() as conn:
            conn.execute("INSERT INTO albums (id, name, artist) VALUES ('gone', 'Gone', 'Nobody')")
            with db.connection(autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
            conn.execute("SELECT 1")
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM albums WHERE id = 'gone'").fetchone()[0] == 0


# -- the LLM endpoint hangs --------------------------------------------------------------------------

class SilentServer:
    """Accepts TCP connections and reads requests, never answers a byte."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        self.received = b""
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)
            conn.settimeout(5)
            try:
                self.received += conn.recv(65536)
            except OSError:
                pass

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def test_llm_that_never_answers_gives_automatic_names_and_a_clear_chat_error(db, caplog):
    from audiomuse.chat import chat_playlist
    from audiomuse.clustering.params import ClusteringParams
    from audiomuse.config import Settings
    from audiomuse.llm import make_llm
    from audiomuse.playlists import clustering as core
    from tests.seed import seed_library

    seed_library(db)
    with SilentServer() as server, caplog.at_level(logging.DEBUG):
        settings = Settings(ai_model_provider="openai", ai_model_url=server.url, ai_model_name="m",
                            ai_api_key=API_KEY, ai_timeout=0.5)
        lib = core.load_clustering_tracks(db)
        result = core.search_playlists(lib, ClusteringParams(runs=30, k_min=2, k_max=4, min_playlist_size=5,
                                                             top_playlists=3, batch_size=10), seed=1)
        names = core.name_with_llm(result, lib, make_llm(settings))
        chat = chat_playlist(db, settings, "calm ambient music")
    assert names == [p.name for p in result.playlists]  # every name fell back to the automatic one
    assert "AI naming failed" in caplog.text
    assert not chat.ok and chat.rows == []
    assert chat.error == f"openai at {server.url}: no answer within 0.5s (AI_TIMEOUT)"
    assert b"Authorization: Bearer" in server.received  # the key was sent to the endpoint...
    for text in (caplog.text, chat.error, repr(chat)):  # ...and nowhere else
        assert API_KEY not in text


# -- a 2-hour file -----------------------------------------------------------------------------------

TWO_HOURS = 2 * 3600
MEMORY_LIMIT_MB = 2048  # the run pod's limit in deploy/helm/values.yaml

_ANALYSE = """
import json, sys
from pathlib import Path
from audiomuse.analysis.track import TrackAnalyser
r = TrackAnalyser().analyse(Path(sys.argv[1]))
print(json.dumps({"seconds": r.audio_seconds, "patches": r.n_patches, "tempo": r.tempo,
                  "finite": bool(__import__("numpy").isfinite(r.embedding).all())}))
"""


def _write_long_flac(path: Path, seconds: int, sr: int = 16000) -> Path:
    """A 16 kHz mono FLAC written a minute at a time (a pulsed tone: cheap, compresses well)."""
    import soundfile as sf

    with sf.SoundFile(str(path), "w", samplerate=sr, channels=1, format="FLAC", subtype="PCM_16") as f:
        for minute in range(seconds // 60):
            t = np.arange(60 * sr) / sr + minute * 60
            f.write((0.3 * np.sin(2 * np.pi * 220 * t) * (np.floor(t * 2) % 2)).astype(np.float32))
    return path


@pytest.mark.slow
def test_two_hour_file_is_analysed_within_the_pod_memory_limit(tmp_path):
    """A 2-hour track is analysed in a child process whose peak RSS (from the kernel, for that
    child alone) stays under the run pod's memory limit."""
    path = _write_long_flac(tmp_path / "long.flac", TWO_HOURS)
    proc = subprocess.Popen([sys.executable, "-c", _ANALYSE, str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(os.environ, OMP_NUM_THREADS="1"))
    _, status, usage = os.wait4(proc.pid, 0)
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, err[-2000:]
    result = json.loads(out.strip().splitlines()[-1])
    peak_mb = usage.ru_maxrss / 1024  # kilobytes on Linux
    print(f"2-hour file: peak RSS {peak_mb:.0f} MB")
    assert result["seconds"] == TWO_HOURS and result["finite"]
    assert result["patches"] >= TWO_HOURS // 3 - 5  # the whole file went through the model
    assert result["tempo"] > 0
    assert peak_mb < MEMORY_LIMIT_MB
