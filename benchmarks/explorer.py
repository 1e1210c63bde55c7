"""Explorer tools at library scale: p95 latency of the core calls and the app process's memory.

Targets (issue 6), at 100k synthetic tracks: p95 < 300 ms for similar songs, song path, song alchemy
and sonic fingerprint (the calls the Streamlit pages make, with the pages' default sizes), and an
app process under 1 GB RSS once it holds the index, the track metadata and the map.
Peer: the same calls answered by exact brute force over the normalised matrix (what a tool without
an ANN index does), for similar songs, in the same run.

The memory figure comes from a separate process that loads what the app loads the way it loads it
(index from its stored bytes, metadata dict, map positions from the stored npz, streamlit and plotly
imported) and runs each tool once; its build-time peak is not counted.
Usage: python benchmarks/explorer.py [--n 100000] [--queries 50]
"""

from __future__ import annotations

import argparse
import io
import json
import pickle
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from audiomuse.index import SimilarityIndex  # noqa: E402
from audiomuse.index.similar import similar_by_track  # noqa: E402
from audiomuse.media import PlayedTrack  # noqa: E402
from audiomuse.playlists.alchemy import alchemy_view, song_alchemy  # noqa: E402
from audiomuse.playlists.fingerprint import sonic_fingerprint  # noqa: E402
from audiomuse.playlists.path import find_path  # noqa: E402
from benchmarks._synthetic import synthetic_embeddings  # noqa: E402


def metadata_for(n: int) -> dict[str, dict]:
    """Shaped like store.analysis.track_metadata: ~10 tracks per album, ~40 per artist."""
    return {
        str(i): {"title": f"Song {i}", "artist": f"Artist {i // 40}", "album": f"Album {i // 10}",
                 "song_key": f"artist {i // 40}|song {i}", "canonical": str(i), "duration": 200.0 + i % 120}
        for i in range(n)
    }


def history_for(rng: np.random.Generator, n: int, now: datetime) -> list[PlayedTrack]:
    picks = rng.choice(n, 100, replace=False)
    return [PlayedTrack(str(i), int(rng.integers(1, 50)), now - timedelta(days=float(rng.uniform(0, 200))))
            for i in picks]


def tool_calls(index, meta, positions, rng: np.random.Generator, n: int):
    """One call of each tool with the pages' defaults; returns {tool: callable}."""
    now = datetime.now(timezone.utc)
    a, b, c, d = (str(x) for x in rng.choice(n, 4, replace=False))
    history = history_for(rng, n, now)
    return {
        "similar (25)": lambda: similar_by_track(index, meta, a, 25, max_per_artist=3),
        "path (25 songs)": lambda: find_path(index, meta, a, b, 25),
        "alchemy (2 add, 1 sub, 100, T=1)": lambda: song_alchemy(index, meta, [a, b], [c], 100, temperature=1.0),
        "alchemy + map view (aligned)": lambda: alchemy_view(index, song_alchemy(index, meta, [a, b], [c], 100),
                                                             positions),
        "alchemy + map view, no subtract": lambda: alchemy_view(index, song_alchemy(index, meta, [a, b], [], 100),
                                                                positions),
        "fingerprint (100 plays, 100)": lambda: sonic_fingerprint(index, meta, history, 100, now=now),
    }


def latencies(index, meta, positions, n: int, queries: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    out: dict[str, list[float]] = {}
    for _ in range(queries):
        for name, call in tool_calls(index, meta, positions, rng, n).items():
            t0 = time.perf_counter()
            call()
            out.setdefault(name, []).append((time.perf_counter() - t0) * 1000)
    return {k: np.array(v) for k, v in out.items()}


def brute_similar(x: np.ndarray, queries: int) -> np.ndarray:
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    rng = np.random.default_rng(3)
    lat = []
    for qi in rng.choice(len(x), queries, replace=False):
        t0 = time.perf_counter()
        sims = xn @ xn[qi]
        top = np.argpartition(-sims, 100)[:100]
        top[np.argsort(-sims[top])]
        lat.append((time.perf_counter() - t0) * 1000)
    return np.array(lat)


CHILD = r"""
import io, json, pickle, sys, time
sys.path.insert(0, sys.argv[2])
import numpy as np
import plotly.graph_objects  # noqa: F401  the pages import these
import streamlit  # noqa: F401
from audiomuse.index import SimilarityIndex
from benchmarks.explorer import tool_calls

def rss():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024

base = rss()[0]
folder = sys.argv[1]
index = SimilarityIndex.from_bytes(open(f"{folder}/index.amvx", "rb").read())
meta = pickle.load(open(f"{folder}/meta.pkl", "rb"))
data = np.load(io.BytesIO(open(f"{folder}/map.npz", "rb").read()))
ids, coords = json.loads(str(data["ids"])), data["coords"]
positions = {t: (float(coords[i, 0]), float(coords[i, 1])) for i, t in enumerate(ids)}
loaded = rss()[0]
for call in tool_calls(index, meta, positions, np.random.default_rng(5), len(meta)).values():
    call()
now, peak = rss()
print(json.dumps({"imports_mb": base, "loaded_mb": loaded, "after_tools_mb": now, "peak_mb": peak}))
"""


def app_memory(index: SimilarityIndex, meta: dict, x: np.ndarray) -> dict:
    from audiomuse.music_map import pca_2d

    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "index.amvx").write_bytes(index.to_bytes())
        Path(folder, "meta.pkl").write_bytes(pickle.dumps(meta))
        buf = io.BytesIO()
        coords = pca_2d(x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)  # same size as UMAP's
        np.savez(buf, coords=coords, ids=np.array(json.dumps(list(meta))))
        Path(folder, "map.npz").write_bytes(buf.getvalue())
        out = subprocess.run([sys.executable, "-c", CHILD, folder, str(ROOT)], capture_output=True, text=True,
                             check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=50)
    args = ap.parse_args()
    x, _ = synthetic_embeddings(args.n)
    ids = [str(i) for i in range(args.n)]
    t0 = time.perf_counter()
    index = SimilarityIndex.build(ids, x)
    print(f"n={args.n}: index built in {time.perf_counter() - t0:.1f} s; {args.queries} calls per tool", flush=True)
    meta = metadata_for(args.n)
    coords = np.random.default_rng(0).uniform(-1, 1, (args.n, 2))
    missing = set(np.random.default_rng(1).choice(args.n, args.n // 100, replace=False).tolist())
    positions = {t: (coords[i, 0], coords[i, 1]) for i, t in enumerate(ids) if i not in missing}  # 1% not on map
    print(f"{'tool':<34} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}")
    for name, ms in latencies(index, meta, positions, args.n, args.queries).items():
        print(f"{name:<34} {np.percentile(ms, 50):>7.1f} {np.percentile(ms, 95):>7.1f} {ms.max():>7.1f}", flush=True)
    bf = brute_similar(x, args.queries)
    print(f"{'peer: brute-force top 100':<34} {np.percentile(bf, 50):>7.1f} {np.percentile(bf, 95):>7.1f} "
          f"{bf.max():>7.1f}")
    mem = app_memory(index, meta, x)
    print(f"app process RSS: {mem['imports_mb']:.0f} MB after imports, {mem['loaded_mb']:.0f} MB with index + "
          f"metadata + map, {mem['after_tools_mb']:.0f} MB after one call of each tool (peak {mem['peak_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
