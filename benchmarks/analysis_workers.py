"""Analysis throughput with 1 and 2 worker processes, and where the second worker's gain goes.

Each worker is a fresh interpreter (spawn), as a Dagster run worker is: it imports the analysis,
loads the model and analyses its share of N real sample-library tracks with one onnxruntime and one
BLAS thread. Per worker the script separates the **start** (interpreter, imports, model load and the
first call's one-off costs, measured on a 2-second generated tone) from the **steady** analysis
(CPU per audio-second over the real tracks), so the figures say whether a second worker loses to
per-process costs or to the two cores sharing caches and memory bandwidth.

``--bytecode both`` (default) runs every configuration twice: with the venv's compiled bytecode and
with none (an empty PYTHONPYCACHEPREFIX under PYTHONDONTWRITEBYTECODE, as in a venv the run user
cannot write and that was installed without compiling), the difference a run worker pays per run.

``--dagster-runs N`` prices whole Dagster runs instead: N album analyses of the small sample library,
each one `dagster asset materialize` process (as a run worker: it loads the code location and runs
the step), alternating the code location's in-process executor with Dagster's default multiprocess
one (`benchmarks/_multiprocess_location.py`, a second interpreter per step), CPU of the process tree.

Usage: python benchmarks/analysis_workers.py [--tracks 16] [--repeats 2] [--bytecode both|compiled|none]
       python benchmarks/analysis_workers.py --dagster-runs 6
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._samples import pick_tracks  # noqa: E402
CACHE = Path(os.environ.get("AUDIOMUSE_CACHE", "~/.cache/audiomuse")).expanduser()


def _worker(files: list[str]) -> dict:
    """One run worker: start (imports, model, first call on a short tone), then its share."""
    import numpy as np
    import soundfile as sf

    from audiomuse.analysis.track import TrackAnalyser

    with tempfile.TemporaryDirectory() as tmp:
        tone = Path(tmp) / "tone.wav"
        t = np.arange(2 * 22050) / 22050
        sf.write(tone, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 22050)
        analyser = TrackAnalyser(threads=1)
        analyser.analyse(tone)
    started = time.process_time()
    audio = sum(analyser.analyse(Path(f)).audio_seconds for f in files)
    return {"start_cpu_s": started, "steady_cpu_s": time.process_time() - started, "audio_s": audio}


def run(files: list[str], workers: int) -> dict:
    """Wall and CPU figures of `workers` fresh processes sharing `files` round-robin."""
    ctx = mp.get_context("spawn")
    shares = [files[i::workers] for i in range(workers)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        parts = list(pool.map(_worker, shares))
    wall = time.perf_counter() - t0
    audio = sum(p["audio_s"] for p in parts)
    return {"wall_s": wall, "audio_s": audio,
            "start_cpu_s": sum(p["start_cpu_s"] for p in parts) / workers,
            "steady_rate": audio / sum(p["steady_cpu_s"] for p in parts)}


@contextlib.contextmanager
def bytecode_mode(mode: str):
    """Children see the venv's compiled bytecode, or (none) an empty pycache they cannot write to."""
    if mode != "none":
        yield
        return
    with tempfile.TemporaryDirectory() as empty, mock.patch.dict(
            os.environ, {"PYTHONPYCACHEPREFIX": empty, "PYTHONDONTWRITEBYTECODE": "1"}):
        yield


LOCATIONS = {"in-process": "audiomuse_pipelines.definitions", "multiprocess": "benchmarks._multiprocess_location"}


def _children_cpu() -> float:
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


def _dagster(env: dict, module: str, *args: str) -> float:
    """CPU seconds of one `dagster asset materialize` process tree (children are waited for)."""
    before = _children_cpu()
    proc = subprocess.run([str(Path(sys.executable).parent / "dagster"), "asset", "materialize", "-m", module, *args],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"dagster failed: {proc.stderr[-3000:]}")
    return _children_cpu() - before


def dagster_runs(count: int) -> None:
    import psycopg

    from audiomuse.store.server import with_driver
    from benchmarks.scale import databases

    with databases(keep=False) as (app_url, dagster_url, _), tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "dagster_home"
        home.mkdir()
        shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
        env = {**os.environ, "DATABASE_URL": app_url, "DAGSTER_HOME": str(home),
               "DAGSTER_PG_URL": with_driver(dagster_url, "psycopg2"), "MEDIA_SERVER_TYPE": "local",
               "MUSIC_DIR": str(CACHE / "sample-library-small"), "AUDIOMUSE_DATA_DIR": str(Path(tmp) / "data"),
               "AUDIOMUSE_CONFIG": str(Path(tmp) / "absent.toml"), "NUM_RECENT_ALBUMS": "0", "PYTHONPATH": str(ROOT)}
        _dagster(env, LOCATIONS["in-process"], "--select", "catalog")
        with psycopg.connect(dagster_url) as conn:
            albums = [r[0] for r in conn.execute(
                "SELECT partition FROM dynamic_partitions WHERE partitions_def_name = 'albums' ORDER BY partition")]
        force = json.dumps({"ops": {"track_analysis": {"config": {"force": True}}}})
        print(f"{count} album runs of the small sample library ({len(albums)} albums), each album once per executor")
        print("| album | in-process CPU-s | multiprocess CPU-s | load before |")
        print("|---|---|---|---|")
        totals = {name: 0.0 for name in LOCATIONS}
        for album in albums[:count]:
            load = os.getloadavg()[0]
            cpu = {name: _dagster(env, module, "--select", "track_analysis", "--partition", album,
                                  "--config-json", force) for name, module in LOCATIONS.items()}
            for name in LOCATIONS:
                totals[name] += cpu[name]
            print(f"| {album[:12]} | {cpu['in-process']:.1f} | {cpu['multiprocess']:.1f} | {load:.1f} |", flush=True)
        runs = min(count, len(albums))
        print(f"per run: in-process {totals['in-process'] / runs:.2f} CPU-s, multiprocess "
              f"{totals['multiprocess'] / runs:.2f} (saved {(totals['multiprocess'] - totals['in-process']) / runs:.2f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tracks", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--bytecode", choices=("both", "compiled", "none"), default="both")
    ap.add_argument("--dagster-runs", type=int, default=0, metavar="N", help="instead: price N whole Dagster runs")
    args = ap.parse_args()
    if args.dagster_runs:
        return dagster_runs(args.dagster_runs)
    files = [str(p) for p in pick_tracks(args.tracks)]
    modes = ("compiled", "none") if args.bytecode == "both" else (args.bytecode,)
    print(f"{len(files)} sample-library tracks, {os.cpu_count()} cores, 1 onnxruntime + 1 BLAS thread per worker")
    print("| bytecode | workers | wall s | audio-s per wall-s | start CPU-s per worker | steady audio-s per CPU-s | load before |")
    print("|---|---|---|---|---|---|---|")
    walls: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.repeats):
        for mode in modes:
            for workers in (1, 2):
                load = os.getloadavg()[0]
                with bytecode_mode(mode):
                    r = run(files, workers)
                walls.setdefault((mode, workers), []).append(r["wall_s"])
                print(f"| {mode} | {workers} | {r['wall_s']:.1f} | {r['audio_s'] / r['wall_s']:.0f} | "
                      f"{r['start_cpu_s']:.2f} | {r['steady_rate']:.0f} | {load:.1f} |", flush=True)
    for mode in modes:
        one, two = min(walls[(mode, 1)]), min(walls[(mode, 2)])
        print(f"{mode}: 2 workers give {one / two:.2f}x the throughput of 1 (best walls {one:.1f} / {two:.1f} s)")


if __name__ == "__main__":
    main()
