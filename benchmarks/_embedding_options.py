"""Track vectors beyond the stored mean: other poolings of MSD_musicnn's patch embeddings, the mean
of musicnn's other weights, and fusions of two models; and their CPU price per patch.

Option names (``--embeddings`` of similarity_quality.py):
  a pooling of MSD_musicnn's patches: ``mean`` (fp32: the stored embedding is int8's), ``mean+std``
  (400-d, raw), ``mean+std-unit`` (the two halves L2-normalised: equal weight), ``max``,
  ``mean+max`` (halves L2-normalised), ``unit-mean`` (mean of the L2-normalised patches);
  ``MODEL[:POOLING]`` for another model (``mtt``, ``msd-vgg``, ``mtt-vgg``; default mean);
  ``A+B[@w]``: w * cos(A) + (1 - w) * cos(B) of two models' means (w 0.5 by default, which equals
  the cosine of the concatenated L2-normalised means).
"""

from __future__ import annotations

import time

import numpy as np

from audiomuse.index import transform as tf
from benchmarks import _patch_embeddings as pe

ALIASES = {"msd": "msd-musicnn", "mtt": "mtt-musicnn", "msd-vgg": "msd-vgg", "mtt-vgg": "mtt-vgg"}
DEFAULT_EMBEDDINGS = ("mean", "mean+std", "mean+std-unit", "max", "mean+max", "unit-mean",
                      "mtt", "msd-vgg", "mtt-vgg", "msd+mtt", "msd+msd-vgg", "msd+mtt-vgg",
                      "msd+mtt@0.7", "msd+msd-vgg@0.7")


def _halves(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.concatenate([tf.unit(a[None])[0], tf.unit(b[None])[0]])


POOLINGS = {
    "mean": lambda e: e.mean(0),
    "mean+std": lambda e: np.concatenate([e.mean(0), e.std(0)]),
    "mean+std-unit": lambda e: _halves(e.mean(0), e.std(0)),
    "max": lambda e: e.max(0),
    "mean+max": lambda e: _halves(e.mean(0), e.max(0)),
    "unit-mean": lambda e: tf.unit(e).mean(0),
}


def _cos(x: np.ndarray) -> np.ndarray:
    xn = tf.unit(x)
    return (xn @ xn.T).astype(np.float64)


def parse(option: str) -> list[tuple[str, str, float]]:
    """[(model, pooling, weight)] of an option name (see the module docstring)."""
    if option in POOLINGS:
        return [("msd-musicnn", option, 1.0)]
    if option in ALIASES or ":" in option:
        model, _, pooling = option.partition(":")
        return [(ALIASES[model], pooling or "mean", 1.0)]
    pair, _, w = option.partition("@")
    a, b = pair.split("+")
    w = float(w or 0.5)
    return [(ALIASES[a], "mean", w), (ALIASES[b], "mean", 1 - w)]


def models_of(options: list[str]) -> list[str]:
    return sorted({m for o in options for m, _, _ in parse(o)})


def option_scores(options: list[str], per_patch: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    """option -> dense n x n score matrix (weighted sum of cosines of the pooled track vectors)."""
    out = {}
    for option in options:
        parts = parse(option)
        out[option] = sum(w * _cos(np.stack([POOLINGS[p](e) for e in per_patch[m]])) for m, p, w in parts)
    return out


def model_cpu_ms(names: list[str], sample: np.ndarray, rounds: int = 3) -> dict[str, float]:
    """CPU ms per patch of each model (one thread, batch 1) on the same patches, interleaved in
    rounds so that load changes hit every model alike; the best round (least disturbed) counts."""
    from threadpoolctl import threadpool_limits

    sessions = {n: pe.session(n) for n in names}
    best = dict.fromkeys(names, np.inf)
    with threadpool_limits(limits=1, user_api="blas"):
        for n in names:  # warm-up
            pe.embed(sessions[n], n, sample[:2])
        for _ in range(rounds):
            for n in names:
                t = time.process_time()
                pe.embed(sessions[n], n, sample)
                best[n] = min(best[n], (time.process_time() - t) * 1000 / len(sample))
    return best


def analysis_cpu_ms(files: list, threads: int = 1) -> float:
    """CPU ms per patch of the whole analysis (``TrackAnalyser``: decode, mel, int8 model, features),
    this process and its decoder subprocesses."""
    import resource

    from audiomuse.analysis.track import TrackAnalyser

    analyser = TrackAnalyser(threads=threads)
    analyser.analyse(files[0])  # warm-up: model load, first-call costs
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    t, n = time.process_time(), 0
    for f in files:
        n += analyser.analyse(f).n_patches
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = (after.ru_utime + after.ru_stime) - (kids.ru_utime + kids.ru_stime)
    return (time.process_time() - t + child) * 1000 / n
