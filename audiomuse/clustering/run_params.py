"""The parameters of one run: random draws (exploration) and mutations of an elite (exploitation)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from audiomuse.clustering.params import ClusteringParams


def _k_bounds(p: ClusteringParams, n_sample: int) -> tuple[int, int]:
    hi = max(2, min(p.k_max, n_sample - 1))
    lo = max(2, min(p.k_min, hi))
    return lo, hi


def random_params(rng: np.random.Generator, p: ClusteringParams, n_sample: int) -> dict[str, Any]:
    lo, hi = _k_bounds(p, n_sample)
    if p.algorithm == "dbscan":
        ms_lo, ms_hi = p.dbscan_min_samples_range
        return {"algorithm": "dbscan", "eps_factor": round(float(rng.uniform(*p.dbscan_eps_range)), 4),
                "min_samples": int(rng.integers(ms_lo, ms_hi + 1))}
    out: dict[str, Any] = {"algorithm": p.algorithm, "n_clusters": int(rng.integers(lo, hi + 1))}
    if p.algorithm == "gmm":
        out["covariance_type"] = str(p.gmm_covariance_types[int(rng.integers(len(p.gmm_covariance_types)))])
    return out


def mutate(rng: np.random.Generator, elite: Mapping[str, Any], p: ClusteringParams, n_sample: int) -> dict[str, Any]:
    out = dict(elite)
    if p.algorithm == "dbscan":
        f = p.mutation_eps_factor
        eps = elite["eps_factor"] * float(rng.uniform(1 - f, 1 + f))
        out["eps_factor"] = round(float(np.clip(eps, *p.dbscan_eps_range)), 4)
        ms_lo, ms_hi = p.dbscan_min_samples_range
        out["min_samples"] = int(np.clip(elite["min_samples"] + rng.integers(-2, 3), ms_lo, ms_hi))
        return out
    lo, hi = _k_bounds(p, n_sample)
    d = p.mutation_k_delta
    out["n_clusters"] = int(np.clip(elite["n_clusters"] + rng.integers(-d, d + 1), lo, hi))
    if p.algorithm == "gmm" and rng.random() < 0.2:
        out["covariance_type"] = str(p.gmm_covariance_types[int(rng.integers(len(p.gmm_covariance_types)))])
    return out


def params_key(run_params: Mapping[str, Any]) -> tuple:
    return tuple(sorted(run_params.items()))
