"""Similarity index: build time, query p50/p95 and recall@10 against brute force.

Targets (issue 5): recall@10 >= 0.99 and p95 < 5 ms at 100k tracks. Peer: exact brute force with
numpy (what a library without an index does), measured in the same run.
Usage: python benchmarks/index.py [--sizes 10000 100000] [--queries 500]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from audiomuse.index import SimilarityIndex  # noqa: E402
from benchmarks._synthetic import synthetic_embeddings  # noqa: E402


def brute_force(xn: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    sims = xn @ q
    top = np.argpartition(-sims, k)[:k]
    return top[np.argsort(-sims[top])]


def run(n: int, queries: int, M: int, ef_construction: int, query_ef: int) -> dict:
    x, _ = synthetic_embeddings(n)
    ids = [str(i) for i in range(n)]
    t0 = time.perf_counter()
    index = SimilarityIndex.build(ids, x, M=M, ef_construction=ef_construction)
    build = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    qidx = rng.choice(n, queries, replace=False)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    lat, bf_lat, hits = [], [], 0
    for qi in qidx:
        t = time.perf_counter()
        got = index.query(x[qi], 10, query_ef=query_ef)
        lat.append(time.perf_counter() - t)
        t = time.perf_counter()
        want = brute_force(xn, xn[qi], 10)
        bf_lat.append(time.perf_counter() - t)
        hits += len({int(g) for g, _ in got} & set(want.tolist()))
    ms = np.array(lat) * 1000
    bf = np.array(bf_lat) * 1000
    return {"n": n, "M": M, "efc": ef_construction, "ef": query_ef, "build_s": build,
            "p50_ms": np.percentile(ms, 50), "p95_ms": np.percentile(ms, 95), "recall@10": hits / (10 * queries),
            "bf_p50_ms": np.percentile(bf, 50), "bf_p95_ms": np.percentile(bf, 95),
            "size_mb": len(index.to_bytes()) / 1e6}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--grid", action="store_true", help="also try other M / ef settings")
    args = ap.parse_args()
    settings = [(16, 200, 100)]
    if args.grid:
        settings += [(12, 200, 64), (16, 200, 64), (24, 200, 100), (32, 200, 100)]
    print(f"{'n':>7} {'M':>3} {'efc':>4} {'ef':>4} {'build s':>8} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'recall@10':>9} {'brute p50':>9} {'brute p95':>9} {'MB':>6}")
    for n in args.sizes:
        for M, efc, ef in settings:
            r = run(n, args.queries, M, efc, ef)
            print(f"{r['n']:>7} {r['M']:>3} {r['efc']:>4} {r['ef']:>4} {r['build_s']:>8.1f} {r['p50_ms']:>7.2f} "
                  f"{r['p95_ms']:>7.2f} {r['recall@10']:>9.4f} {r['bf_p50_ms']:>9.2f} {r['bf_p95_ms']:>9.2f} "
                  f"{r['size_mb']:>6.1f}", flush=True)


if __name__ == "__main__":
    main()
