"""Evolutionary clustering search: many randomised clusterings of stratified samples, best one kept.

One *run* = draw (or mutate) parameters, cluster a stratified sample of the songs, score it
(:mod:`audiomuse.clustering.scoring`). Runs execute in fixed batches (``ClusteringParams.batch_size``);
between batches the master updates the elites, calls ``progress`` and checks ``should_stop``.

Reproducibility: run ``i`` draws everything from ``np.random.default_rng((seed, i, stream))``; the
sample chain and the parameters are decided in the master, the elites change only between batches
and batch boundaries do not depend on ``workers``; every process pins BLAS/OpenMP to one thread. So
the same seed gives the same result whatever ``workers`` is.

See :mod:`.run` for one run (and why K-Means is a numpy Lloyd) and :mod:`.postprocess` for the
playlists of the best run.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from audiomuse.clustering.data import ClusteringCancelled, ClusteringInput, RunProgress, SearchResult
from audiomuse.clustering.params import ClusteringParams
from audiomuse.clustering.postprocess import assign_all, build_playlists
from audiomuse.clustering.problem import build_problem
from audiomuse.clustering.run import execute, init_worker, run_chunk
from audiomuse.clustering.run_params import mutate, params_key, random_params
from audiomuse.clustering.sampling import StratifiedSampler


def run_search(
    inp: ClusteringInput,
    params: ClusteringParams,
    seed: int,
    progress: Callable[[RunProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    workers: int = 1,
) -> SearchResult:
    """Evolutionary search for the best clustering, then the playlists of its full assignment.

    Raises :class:`ClusteringCancelled` when ``should_stop()`` returns True (checked before every
    batch) and ``RuntimeError`` when no run produced a clustering.
    """
    t0 = time.perf_counter()
    if inp.n < 4:
        raise ValueError(f"need at least 4 songs to cluster, got {inp.n}")
    if workers <= 0:
        workers = os.cpu_count() or 1
    with threadpool_limits(limits=1):
        problem = build_problem(inp, params, seed)
        sampler = StratifiedSampler(inp.strata(), params.sample_size, params.sampling_change)
        executor = None
        if workers > 1:
            executor = ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=init_worker, initargs=(problem,),
            )
        try:
            best, done, error = _evolve(problem, sampler, params, seed, executor, workers, progress, should_stop, t0)
        finally:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
        if best is None:
            raise RuntimeError(f"no clustering run succeeded; first error: {error}")
        final = execute(problem, (best["run"], best["sample"], best["run_params"], seed), keep=True)
        labels_all = assign_all(problem, best["sample"], best["run_params"], final["labels"], final["model"])
        playlists = build_playlists(inp, problem, labels_all, params)
    best_params = dict(best["run_params"])
    if best_params["algorithm"] == "dbscan":
        best_params["eps"] = best_params["eps_factor"] * problem.dbscan_scale
    return SearchResult(
        best_score=best["score"], components=best["components"], best_params=best_params,
        playlists=playlists, runs_done=done, elapsed_s=time.perf_counter() - t0,
        best_run=best["run"], sample_size=sampler.size,
    )


PIPELINE_DEPTH = 2  # batches in flight: batch b is drawn with the elites known after batch b - 2


def _evolve(problem, sampler, params, seed, executor, workers, progress, should_stop, t0):
    """Batches of runs; results of a batch are applied (best, elites, progress) once the next batch
    is already queued, so workers never wait for the master. The schedule is the same in-process and
    in the pool, hence the same result for any ``workers``."""
    total = params.runs
    exploit_from = int(round(params.exploitation_start * total))
    state: dict[str, Any] = {"elites": [], "best": None, "done": 0, "error": None}
    pending: deque = deque()
    prev_sample: np.ndarray | None = None

    def collect() -> None:
        end, samples, result = pending.popleft()
        outcomes = sorted(result(), key=lambda o: o["run"])
        valid = [o for o in outcomes if math.isfinite(o["score"])]
        if state["error"] is None:
            state["error"] = next((o["error"] for o in outcomes if o["error"]), None)
        for o in valid:
            o["sample"], o["run_params"] = samples[o["run"]]
            if state["best"] is None or o["score"] > state["best"]["score"]:
                state["best"] = o
        state["elites"] = _update_elites(state["elites"], valid, params.elites)
        state["done"] = end
        if progress is not None:
            best = state["best"]["score"] if state["best"] else -math.inf
            progress(RunProgress(end, total, best, time.perf_counter() - t0))

    for start in range(0, total, params.batch_size):
        if should_stop is not None and should_stop():
            raise ClusteringCancelled(state["done"], total)
        end = min(total, start + params.batch_size)
        elites = state["elites"]
        tasks, samples = [], {}
        for i in range(start, end):
            prev_sample = sampler.next(prev_sample, np.random.default_rng((seed, i, 1)))
            rng = np.random.default_rng((seed, i, 0))
            if i >= exploit_from and elites and rng.random() < params.exploitation_probability:
                elite = elites[int(rng.integers(len(elites)))]["run_params"]
                run_params = mutate(rng, elite, params, len(prev_sample))
            else:
                run_params = random_params(rng, params, len(prev_sample))
            tasks.append((i, prev_sample, run_params, seed))
            samples[i] = (prev_sample, run_params)
        if executor is None:
            outcomes = [execute(problem, t) for t in tasks]
            pending.append((end, samples, lambda outcomes=outcomes: outcomes))
        else:
            n_chunks = min(len(tasks), workers * 4)
            bounds = np.linspace(0, len(tasks), n_chunks + 1).astype(int)
            futures = [executor.submit(run_chunk, tasks[a:b]) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
            pending.append((end, samples, lambda futures=futures: [o for f in futures for o in f.result()]))
        if len(pending) >= PIPELINE_DEPTH:
            collect()
    while pending:
        collect()
    return state["best"], state["done"], state["error"]


def _update_elites(elites: list[dict], outcomes: list[dict], keep: int) -> list[dict]:
    """Best ``keep`` distinct parameter sets so far (ties: earlier run first)."""
    merged = sorted(elites + [{"score": o["score"], "run": o["run"], "run_params": o["run_params"]} for o in outcomes],
                    key=lambda e: (-e["score"], e["run"]))
    out, seen = [], set()
    for e in merged:
        key = params_key(e["run_params"])
        if key not in seen:
            seen.add(key)
            out.append(e)
        if len(out) == keep:
            break
    return out
