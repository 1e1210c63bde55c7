"""The int8 MusiCNN model against the fp32 one on the real test music, in the same run.

For every sample-library track (decoded and turned into a log-mel once, then given to every model):
the mean-embedding cosine to fp32, the largest difference of a mean tag probability, the style
precision@10 of the embeddings' neighbours (computed as ``tests/audiomuse/test_quality.py`` does)
and each model's CPU ms per patch (one onnxruntime thread each). ``--timing`` then times every
model again on the same patches in this one process, twice, interleaved.

Usage: python benchmarks/int8.py [--workers 2] [--model name=path ...] [--every name=N ...] [--timing | --timing-only]
(``--every dynamic=7``: that model only on every 7th track, for slow ones)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LIBRARY = Path(os.environ.get("AUDIOMUSE_CACHE", "~/.cache/audiomuse")).expanduser() / "sample-library"

_MODELS: dict = {}


def _init(models: dict[str, str]) -> None:
    from audiomuse.analysis.musicnn import MusicnnModel

    for name, path in models.items():
        _MODELS[name] = MusicnnModel(Path(path))


def _one(job: tuple[int, str, dict[str, int]]):
    from audiomuse.analysis.decode import load_audio
    from audiomuse.analysis.musicnn import log_mel
    from audiomuse.analysis.track import blas_threads

    i, path, every = job
    with blas_threads(1):
        mel = log_mel(load_audio(LIBRARY / path, sr=16000))
        out = {}
        for name, model in _MODELS.items():
            if i % every.get(name, 1):
                continue
            t = time.process_time()
            emb, tags, n = model.analyse_mel(mel)
            out[name] = (emb, tags, n, time.process_time() - t)
    return i, out


def neighbours(x: np.ndarray, k: int) -> np.ndarray:
    """As tests/audiomuse/test_quality.py: the k nearest other tracks by embedding cosine."""
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    sims = xn @ xn.T
    np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1)[:, :k]


def style_precision(x: np.ndarray, labels: np.ndarray) -> tuple[float, dict[str, float]]:
    hits = (labels[neighbours(x, 10)] == labels[:, None]).mean(axis=1)
    per = defaultdict(list)
    for label, h in zip(labels, hits):
        per[label].append(h)
    return float(hits.mean()), {str(s): round(float(np.mean(v)), 3) for s, v in sorted(per.items())}


def timing(models: dict[str, str], tracks: list[dict], n_tracks: int = 6, repeats: int = 2) -> None:
    """CPU ms per patch of every model on the same 240 patches (of ``n_tracks`` tracks across the
    library), one thread, in this process, the models interleaved, ``repeats`` times."""
    from audiomuse.analysis.decode import load_audio
    from audiomuse.analysis.musicnn import MusicnnModel, log_mel, patches

    x = np.concatenate([patches(log_mel(load_audio(LIBRARY / t["path"], sr=16000)))
                        for t in tracks[:: max(1, len(tracks) // n_tracks)][:n_tracks]])[:240]
    sessions = {name: MusicnnModel(Path(p)) for name, p in models.items()}
    for rep in range(repeats):
        row = []
        for name, m in sessions.items():
            m.predict(x[:4])
            t = time.process_time()
            m.predict(x)
            row.append(f"{name} {(time.process_time() - t) / len(x) * 1000:.2f}")
        print(f"timing run {rep + 1}, {len(x)} patches, CPU ms per patch, 1 thread: " + " | ".join(row), flush=True)


def main() -> None:
    from audiomuse.analysis.musicnn import MODEL_PATH
    from audiomuse.analysis.quantize_musicnn import INT8_MODEL_PATH, calibration_tracks

    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--model", action="append", default=[], help="name=path (fp32 and int8 are always run)")
    ap.add_argument("--every", action="append", default=[], help="name=N: that model on every Nth track only")
    ap.add_argument("--timing", action="store_true", help="then time every model on the same patches, twice")
    ap.add_argument("--timing-only", action="store_true")
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()
    models = {"fp32": str(MODEL_PATH), "int8": str(INT8_MODEL_PATH)} | dict(m.split("=", 1) for m in args.model)
    every = {k: int(v) for k, v in (e.split("=", 1) for e in args.every)}
    tracks = json.loads((LIBRARY / "manifest.json").read_text())["tracks"]
    if args.limit:
        tracks = tracks[:: max(1, len(tracks) // args.limit)][: args.limit]
    calibration = {t["path"] for t in calibration_tracks(LIBRARY)}
    if args.timing_only:
        return timing(models, tracks)

    results: dict[int, dict] = {}
    t0 = time.time()
    with ProcessPoolExecutor(args.workers, initializer=_init, initargs=(models,)) as pool:
        for i, out in pool.map(_one, [(i, t["path"], every) for i, t in enumerate(tracks)]):
            results[i] = out
            if len(results) % 20 == 0:
                print(f"  {len(results)}/{len(tracks)} tracks, {time.time() - t0:.0f} s", flush=True)
    print(f"{len(tracks)} tracks in {time.time() - t0:.0f} s wall, {args.workers} workers", flush=True)

    labels = np.array([t["style"] for t in tracks])
    ref = {i: r["fp32"] for i, r in results.items()}
    for name in models:
        idx = [i for i in results if name in results[i]]
        emb = np.stack([results[i][name][0] for i in idx])
        tags = np.stack([results[i][name][1] for i in idx])
        cpu = sum(results[i][name][3] for i in idx) / sum(results[i][name][2] for i in idx) * 1000
        ref_e = np.stack([ref[i][0] for i in idx])
        ref_t = np.stack([ref[i][1] for i in idx])
        cos = (emb * ref_e).sum(1) / np.linalg.norm(emb, axis=1) / np.linalg.norm(ref_e, axis=1)
        held_out = np.array([tracks[i]["path"] not in calibration for i in idx])
        line = (f"{name}: {len(idx)} tracks, cosine to fp32 mean {cos.mean():.5f} min {cos.min():.5f} "
                f"(not calibrated on: mean {cos[held_out].mean():.5f} min {cos[held_out].min():.5f}, "
                f"{held_out.sum()} tracks), tag max abs diff {np.abs(tags - ref_t).max():.4f} "
                f"(mean {np.abs(tags - ref_t).mean():.5f}), {cpu:.2f} CPU ms per patch")
        if len(idx) == len(tracks):
            overall, per = style_precision(emb, labels)
            line += f", style precision@10 {overall:.3f} {per}"
        print(line, flush=True)
        worst = np.argsort(cos)[:3]
        print("   lowest cosine: " + "; ".join(f"{cos[w]:.5f} {tracks[idx[w]]['style']} {tracks[idx[w]]['path']}" for w in worst))
    if args.timing:
        timing(models, tracks)


if __name__ == "__main__":
    main()
