"""Analysis speed and parity on the real test music, against Essentia's TensorflowPredictMusiCNN.

Prints audio-seconds per CPU-second and per wall-second, peak RSS per worker, the patch-hop
trade-off (187 vs 93 frames) and, in the same run, Essentia (essentia-tensorflow, our frozen graph,
one TF thread) at the same hop with its default batch size 64 and with batch size 1, plus the
embedding cosine when both get the same 16 kHz audio.

Essentia is installed only for this benchmark, in its own venv: `make essentia-venv`
(scripts/essentia-venv.sh; `make bench` does it), under ~/.cache/audiomuse/essentia-venv.
Usage: python benchmarks/analysis.py [--tracks 30]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._samples import pick_tracks  # noqa: E402
CACHE = Path(os.environ.get("AUDIOMUSE_CACHE", "~/.cache/audiomuse")).expanduser()
ESSENTIA_PY = CACHE / "essentia-venv" / "bin" / "python"
GRAPH = ROOT / "audiomuse" / "analysis" / "models" / "msd-musicnn.pb"
from audiomuse.analysis.track import DEFAULT_PRECISION  # noqa: E402


def ours(files: list[str], hop: int = 187, precision: str = DEFAULT_PRECISION, split: bool = True) -> dict:
    """The pipeline as the analysis runs it, in one process: ``TrackAnalyser.analyse`` (streaming
    decode, mel, model, features), then (``split``) the CPU split from the same stages called one
    at a time."""
    from audiomuse.analysis.track import TrackAnalyser

    analyser = TrackAnalyser(threads=1, patch_hop=hop, precision=precision)
    analyser.analyse(Path(files[0]))  # warm-up (model load, first-call costs)
    c0, w0 = time.process_time(), time.perf_counter()
    results = [analyser.analyse(Path(f)) for f in files]
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the split's whole-file decodes
    return {"cpu_s": cpu, "wall_s": wall, "audio_s": sum(r.audio_seconds for r in results),
            "embeddings": [r.embedding.tolist() for r in results], "parts": stage_split(analyser, files, hop) if split else {},
            "peak_rss_mb": peak}


def stage_split(analyser, files: list[str], hop: int) -> dict[str, float]:
    """CPU seconds of decode, model (with the log-mel) and features, each stage on the whole file."""
    from audiomuse.analysis import features
    from audiomuse.analysis.decode import load_audio
    from audiomuse.analysis.musicnn import log_mel
    from audiomuse.analysis.track import blas_threads

    parts = {"decode": 0.0, "model": 0.0, "features": 0.0}
    with blas_threads(1):  # as TrackAnalyser.analyse does
        for f in files:
            t = time.process_time()
            y = load_audio(Path(f))
            t1 = time.process_time()
            mel = log_mel(y)
            analyser.model.analyse_mel(mel, hop)
            t2 = time.process_time()
            features.signal_features(y, log_mel=mel)
            t3 = time.process_time()
            parts["decode"] += t1 - t
            parts["model"] += t2 - t1
            parts["features"] += t3 - t2
    return parts


def librosa_decode_cpu(files: list[str]) -> float:
    import librosa

    t = time.process_time()
    for f in files:
        librosa.load(f, sr=16000, mono=True)
    return time.process_time() - t


def essentia(files: list[str], hop: int, batch: int, mode: str) -> dict | None:
    if not ESSENTIA_PY.exists():
        return None
    proc = subprocess.run([str(ESSENTIA_PY), str(ROOT / "benchmarks" / "_essentia_worker.py"), str(GRAPH), str(hop),
                           str(batch), mode, *files], capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        print("essentia failed:", proc.stderr[-800:])
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cosines(a, b) -> np.ndarray:
    a, b = np.array(a), np.array(b)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def fresh(fn, *args):
    """``fn(*args)`` in a fresh process: a clean peak RSS, no state from the run before."""
    with ProcessPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracks", type=int, default=30)
    args = ap.parse_args()
    files = [str(p) for p in pick_tracks(args.tracks)]
    print(f"{len(files)} real tracks of the sample library; one thread per worker; load {os.getloadavg()[0]:.1f}\n")

    runs = {precision: fresh(ours, files, 187, precision) for precision in ("int8", "fp32")}
    audio = runs["int8"]["audio_s"]
    for precision, r in runs.items():
        default = " (default)" if precision == DEFAULT_PRECISION else ""
        print(f"AudioMuse {precision}{default}, hop 187: {audio / r['cpu_s']:.0f} audio-s per CPU-s, "
              f"{audio / r['wall_s']:.0f} per wall-s (1 worker), peak RSS {r['peak_rss_mb']:.0f} MB")
        parts = r["parts"]
        print("  CPU split (stages one at a time): " + ", ".join(f"{k} {v / sum(parts.values()):.0%}" for k, v in parts.items())
              + f"; model with the log-mel {1000 * parts['model'] / (audio / 2.992):.1f} ms CPU per patch")
    c = cosines(runs["int8"]["embeddings"], runs["fp32"]["embeddings"])
    print(f"  int8 vs fp32 embedding cosine: mean {c.mean():.5f} min {c.min():.5f}")
    r187 = runs[DEFAULT_PRECISION]
    r93 = fresh(ours, files, 93)
    c = cosines(r187["embeddings"], r93["embeddings"])
    print(f"AudioMuse, hop 93 (Essentia's default overlap): {audio / r93['cpu_s']:.0f} audio-s per CPU-s; "
          f"cosine to hop 187 mean {c.mean():.5f} min {c.min():.5f}")

    with ProcessPoolExecutor(2) as pool:  # two workers, the 2-core deployment
        half = len(files) // 2
        w0 = time.perf_counter()
        futures = [pool.submit(ours, part, 187, DEFAULT_PRECISION, False) for part in (files[:half], files[half:])]
        rs = [f.result() for f in futures]
        wall = time.perf_counter() - w0
    print(f"AudioMuse, 2 workers: {sum(r['audio_s'] for r in rs) / wall:.0f} audio-s per wall-s "
          f"(includes process start, model load and each worker's untimed warm-up track: "
          f"benchmarks/analysis_workers.py measures scaling), peak RSS per worker "
          f"{max(r['peak_rss_mb'] for r in rs):.0f} MB")

    decode = r187["parts"]["decode"]
    lib_cpu = librosa_decode_cpu(files)
    print(f"Decoding: librosa.load {lib_cpu:.1f} CPU-s vs ours {decode:.1f} CPU-s ({lib_cpu / decode:.1f}x less)")
    compare_essentia(files, runs, audio)


def compare_essentia(files: list[str], runs: dict[str, dict], audio: float) -> None:
    """Essentia at batch 64 and 1: its model alone on our 16 kHz audio, and its whole pipeline."""
    with tempfile.TemporaryDirectory() as tmp:
        from audiomuse.analysis.decode import load_audio

        npys = []
        for i, f in enumerate(files):
            np.save(f"{tmp}/{i}.npy", load_audio(Path(f)))
            npys.append(f"{tmp}/{i}.npy")
        for batch in (64, 1):
            e = essentia(npys, 187, batch, "npy")
            if e is None:
                print("Essentia: not installed (make essentia-venv), skipped")
                return
            model_cpu = e["cpu_s"] - e["decode_cpu_s"]
            c = cosines(runs["fp32"]["embeddings"], e["embeddings"])
            mine = ", ".join(f"{p} {model_cpu / (r['parts']['model'] + r['parts']['features']):.2f}x"
                             for p, r in runs.items())
            print(f"Essentia batch {batch:>2}, hop 187, same 16 kHz audio: model {audio / model_cpu:.0f} audio-s per "
                  f"CPU-s; ours (model+features) {mine}; fp32 embedding cosine mean {c.mean():.5f} min {c.min():.5f}")
    for batch in (64, 1):
        e = essentia(files, 187, batch, "file")
        if e is None:
            return
        mine = ", ".join(f"{p} {e['cpu_s'] / r['cpu_s']:.2f}x" for p, r in runs.items())
        print(f"Essentia batch {batch:>2} with its own loader, whole pipeline: {audio / e['cpu_s']:.0f} audio-s per "
              f"CPU-s (decode {e['decode_cpu_s']:.1f} CPU-s), peak RSS {e['peak_rss_mb']:.0f} MB -> ours {mine}")


if __name__ == "__main__":
    main()
