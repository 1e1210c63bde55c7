"""Evolutionary clustering: runs/s and total time on synthetic style-clustered libraries.

Target: 5000 runs on 2,000 tracks x 200-d in < 2 minutes on 2 cores, scoring included. Peer: the
reference implementation took 18-44 minutes for ~1.4k tracks; one scikit-learn KMeans fit
(n_init=1) on the same sample is measured here too, since it bounds any sklearn-based run.
Synthetic data: embeddings from benchmarks/_synthetic (mixture of 20 Gaussian styles with
sub-clusters); each style has its own mood profile (a dominant tag, two secondary tags, background).
Usage: python benchmarks/clustering.py [--quick] [--runs 5000] [--tracks 2000] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from audiomuse.clustering.data import ClusteringInput  # noqa: E402
from audiomuse.clustering.params import ClusteringParams  # noqa: E402
from audiomuse.clustering.search import run_search  # noqa: E402
from benchmarks._synthetic import synthetic_embeddings  # noqa: E402

MOODS = [f"tag{i:02d}" for i in range(50)]
OTHER = ["danceable", "aggressive", "happy", "party", "relaxed", "sad"]


def synthetic_library(n: int, styles: int = 20, seed: int = 0) -> ClusteringInput:
    X, style = synthetic_embeddings(n, styles=styles, seed=seed)
    rng = np.random.default_rng(seed + 1)
    profiles = rng.beta(0.5, 8.0, (styles, len(MOODS)))  # weak background tags
    dominant = rng.permutation(len(MOODS))[:styles]
    profiles[np.arange(styles), dominant] = rng.uniform(0.55, 0.85, styles)
    for s in range(styles):
        profiles[s, rng.choice(len(MOODS), 2, replace=False)] += rng.uniform(0.15, 0.35, 2)
    moods = np.clip(profiles[style] + rng.normal(0, 0.08, (n, len(MOODS))), 0, 1)
    other = np.clip(rng.uniform(0, 1, (styles, len(OTHER)))[style] + rng.normal(0, 0.1, (n, len(OTHER))), 0, 1)
    tempo = np.clip(rng.uniform(0.1, 0.9, styles)[style] + rng.normal(0, 0.1, n), 0, 1)
    energy = np.clip(rng.uniform(0.1, 0.9, styles)[style] + rng.normal(0, 0.1, n), 0, 1)
    return ClusteringInput(X=X, moods=moods, mood_labels=MOODS, other=other, other_labels=OTHER,
                           tempo=tempo, energy=energy, track_ids=[str(i) for i in range(n)])


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(inp: ClusteringInput, runs: int, workers: int, **kw) -> tuple[float, float, object]:
    """Wall seconds, CPU seconds (this process + finished worker processes) and the result."""
    t0, c0 = time.perf_counter(), _cpu()
    res = run_search(inp, ClusteringParams(runs=runs, **kw), seed=42, workers=workers)
    return time.perf_counter() - t0, _cpu() - c0, res


def sklearn_peer(inp: ClusteringInput, fits: int = 20) -> float:
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    X = (inp.X - inp.X.mean(0)) / inp.X.std(0)
    rng = np.random.default_rng(0)
    with threadpool_limits(1):
        t0 = time.perf_counter()
        for i in range(fits):
            sample = rng.choice(len(X), min(1500, len(X)), replace=False)
            KMeans(int(rng.integers(40, 101)), n_init=1, random_state=i).fit(X[sample])
    return (time.perf_counter() - t0) / fits


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5000)
    ap.add_argument("--tracks", type=int, default=2000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--quick", action="store_true", help="skip the scaling tables")
    args = ap.parse_args()

    inp = synthetic_library(args.tracks)
    peer = sklearn_peer(inp)
    print(f"peer: one sklearn KMeans fit (n_init=1, 1 thread) on 1500 x 200, k in 40-100: {peer * 1000:.0f} ms "
          f"-> {args.runs} runs ~ {peer * args.runs / 60:.1f} min on one core")
    print(f"load average before: {os.getloadavg()[0]:.2f} (the figures assume an otherwise idle machine)")
    print(f"\n{args.runs} runs on {args.tracks} tracks x 200-d (kmeans, sample 1500, scoring included)")
    print(f"{'workers':>7} {'total s':>8} {'cpu s':>7} {'runs/s':>7} {'best score':>10} {'playlists':>9} "
          f"{'purity':>7} {'diversity':>9}")
    results = {}
    for w in args.workers:
        s, cpu, res = timed(inp, args.runs, w)
        results[w] = res
        print(f"{w:>7} {s:>8.1f} {cpu:>7.1f} {args.runs / s:>7.1f} {res.best_score:>10.3f} {len(res.playlists):>9} "
              f"{res.components['mood_purity']:>7.3f} {res.components['mood_diversity']:>9.3f}", flush=True)
    if len(results) > 1:
        a, b = list(results.values())[:2]
        same = a.best_score == b.best_score and a.playlists == b.playlists
        print(f"same seed, workers {list(results)[:2]}: identical result = {same}")
    if args.quick:
        return
    w = max(args.workers)
    print(f"\nscaling with tracks ({args.runs} runs, workers={w}; sample = min(n, 1500))")
    print(f"{'tracks':>7} {'total s':>8} {'cpu s':>7} {'runs/s':>7}")
    for n in (500, 2000, 8000):
        s, cpu, _ = timed(synthetic_library(n), args.runs, w)
        print(f"{n:>7} {s:>8.1f} {cpu:>7.1f} {args.runs / s:>7.1f}", flush=True)
    print(f"\nscaling with runs ({args.tracks} tracks, workers={w})")
    print(f"{'runs':>7} {'total s':>8} {'cpu s':>7} {'runs/s':>7}")
    for runs in (500, 5000):
        s, cpu, _ = timed(inp, runs, w)
        print(f"{runs:>7} {s:>8.1f} {cpu:>7.1f} {runs / s:>7.1f}", flush=True)


if __name__ == "__main__":
    main()
