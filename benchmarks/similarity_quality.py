"""Neighbour quality of the similarity options on the real test music, hubness at 100k synthetic.

Real: the 136-track sample library's stored mean MusiCNN embeddings (the tests' analysis cache,
``benchmarks/_library.py``). For each option: style precision@10, cross-album precision@10 (the 10
nearest from OTHER albums only, so shared album production cannot help), per-style P@10 and the
largest drop against plain cosine, and hubness of the top-10 lists (skewness of N10, the share of
tracks in no one's top 10). Synthetic: the same hubness figures over 100k ``_synthetic`` vectors
(exact brute force), the fit cost and the query-time cost of re-ranking K ANN candidates.

Options (``audiomuse/index/transform.py``): plain cosine (today's default); centred; z-score;
PCA whitening to k dims; CSLS (k=10) and mutual proximity re-ranking the top-K=100 candidates of
plain (or centred) cosine.

``--embeddings [OPTION ...]`` (``benchmarks/_embedding_options.py``; none named: all) measures other
track vectors instead, beside the same plain row: poolings of MSD_musicnn's per-patch embeddings
(mean+std, max, mean of unit patches, ...), the means of musicnn's other weights (MTT_musicnn,
MSD_vgg, MTT_vgg, converted by ``audiomuse.analysis.convert_musicnn --model``) and fusions of two
models; the per-patch embeddings are cached (``benchmarks/_patch_embeddings.py``). ``--price`` adds
each model's CPU ms per patch (one thread, batch 1, same run) against the whole analysis's.
Usage: python benchmarks/similarity_quality.py [--n 100000] [--queries 2000] [--skip-synthetic] [--skip-real] [--exact]
       [--spaces plain centred z-score pca-white64] [--embeddings [mean+std max msd+mtt ...]] [--price]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from audiomuse.index import quality as q  # noqa: E402
from audiomuse.index import transform as tf  # noqa: E402
from benchmarks._synthetic import synthetic_embeddings  # noqa: E402

K_CANDIDATES = 100
CSLS_K = 10


def _cos(x: np.ndarray) -> np.ndarray:
    xn = tf.unit(x)
    return (xn @ xn.T).astype(np.float64)


def _candidates_only(base: np.ndarray, scores: np.ndarray, k: int = K_CANDIDATES) -> np.ndarray:
    """``scores`` where the column is among the row's top ``k`` by ``base`` (the ANN's candidates),
    -inf elsewhere: what re-ranking an index answer can see."""
    out = np.full_like(scores, -np.inf)
    cand = q.top_k(base, k)
    rows = np.arange(len(base))[:, None]
    out[rows, cand] = scores[rows, cand]
    return out


def _rerankers(x: np.ndarray, prefix: str) -> dict[str, np.ndarray]:
    s = _cos(x)
    r = tf.neighbourhood_radius(np.take_along_axis(s, q.top_k(s, CSLS_K), axis=1), CSLS_K)
    mu, sd = tf.GaussianMoments.fit(x).of(x)
    mp = tf.mp_gauss_scores(s, mu[:, None], sd[:, None], mu[None, :], sd[None, :])
    return {f"{prefix}csls{CSLS_K}": _candidates_only(s, tf.csls_scores(s, r[None, :])),
            f"{prefix}mp-gauss": _candidates_only(s, mp),
            f"{prefix}mp-empirical": _candidates_only(s, tf.mp_empirical_scores(s))}


def real_options(x: np.ndarray) -> dict[str, np.ndarray]:
    """name -> dense n x n score matrix (higher = nearer) for every option on the library."""
    opts = {"plain": _cos(x)}
    fits = [tf.centring(x), tf.standardising(x), tf.pca_whitening(x, 32), tf.pca_whitening(x, 64),
            tf.pca_whitening(x, 64, power=0.5), tf.pca_whitening(x, 100, shrink=0.1)]
    for t in fits:
        opts[t.name if not t.name.startswith("pca-white100") else "pca-white100 shrink0.1"] = _cos(t.apply(x))
    opts.update(_rerankers(x, ""))
    opts.update(_rerankers(tf.centring(x).apply(x), "centred+"))
    return opts


def real_table(lib, options: dict[str, np.ndarray] | None = None) -> list[dict]:
    """One row per option (default ``real_options``), the first being the baseline ("plain")."""
    styles, same_album = lib.styles, q.same_group(lib.albums)
    rows, plain_style, base = [], None, None
    for name, s in (options or real_options(lib.x)).items():
        nb = q.top_k(s, 10)
        hits = q.precision_at_k(nb, styles)
        xa = q.precision_at_k(q.top_k(s, 10, exclude=same_album), styles)
        per = {st: float(hits[styles == st].mean()) for st in sorted(set(styles))}
        plain_style = plain_style or per
        base = base or (hits, xa)
        se = [float(np.std(v - b, ddof=1) / np.sqrt(len(v))) for v, b in zip((hits, xa), base)]
        drop_style = min(per, key=lambda st: per[st] - plain_style[st])
        h = q.hubness(nb, len(s))
        rows.append({"option": name, "style": hits.mean(), "cross_album": xa.mean(), "per": per,
                     "worst": (drop_style, per[drop_style] - plain_style[drop_style]), "se": se,
                     "per_xa": {st: float(xa[styles == st].mean()) for st in sorted(set(styles))}, **h})
    return rows


def brute_top_k(xq: np.ndarray, xn: np.ndarray, k: int, block: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` (indices, cosines) of unit rows ``xq`` among unit rows ``xn``, self excluded
    (``xq`` is ``xn``)."""
    idx = np.empty((len(xq), k), np.int64)
    sim = np.empty((len(xq), k), np.float32)
    for a in range(0, len(xq), block):
        s = xq[a : a + block] @ xn.T
        s[np.arange(len(s)), np.arange(a, a + len(s))] = -np.inf
        part = np.argpartition(-s, k - 1, axis=1)[:, :k]
        ps = np.take_along_axis(s, part, axis=1)
        order = np.argsort(-ps, axis=1)
        idx[a : a + block] = np.take_along_axis(part, order, axis=1)
        sim[a : a + block] = np.take_along_axis(ps, order, axis=1)
    return idx, sim


def ann_top_k(xq: np.ndarray, xn: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` (indices, cosines) of every unit row ``xq`` (= ``xn``) among the others, from the
    product's own index (Voyager, default M / ef_construction, query ef max(100, k + 1)): the
    neighbours the tools would see; an exact pass over 100k costs ~30 CPU-minutes per space."""
    import voyager

    from audiomuse.index.voyager_index import DEFAULT_EF_CONSTRUCTION, DEFAULT_M

    index = voyager.Index(voyager.Space.Cosine, num_dimensions=xn.shape[1], M=DEFAULT_M,
                          ef_construction=DEFAULT_EF_CONSTRUCTION, random_seed=1, max_elements=len(xn))
    index.add_items(xn, ids=np.arange(len(xn), dtype=np.uint64), num_threads=-1)
    ids, dists = index.query(xq, k=k + 1, query_ef=max(100, k + 1), num_threads=-1)
    ids = ids.astype(np.int64)
    own = ids == np.arange(len(xq))[:, None]
    keep = ~own
    keep[~own.any(axis=1), -1] = False  # self not returned: drop the farthest instead
    return ids[keep].reshape(len(xq), k), (1.0 - dists[keep]).reshape(len(xq), k).astype(np.float32)


def _rerank_top10(idx: np.ndarray, scores: np.ndarray) -> np.ndarray:
    return np.take_along_axis(idx, np.argsort(-scores, axis=1, kind="stable")[:, :10], axis=1)


def synthetic_table(n: int, queries: int, knn=brute_top_k, spaces_wanted=None) -> tuple[list[dict], dict]:
    x, labels = synthetic_embeddings(n)
    rows, cost = [], {"fit_s": {}}
    makers = {"centred": tf.centring, "z-score": tf.standardising, "pca-white64": lambda v: tf.pca_whitening(v, 64)}
    fits = {}
    for name, make in makers.items():
        t = time.perf_counter()
        fits[name] = make(x)
        cost["fit_s"][name] = time.perf_counter() - t
    spaces = {"plain": x, **{k: t.apply(x) for k, t in fits.items()}}
    spaces = {k: v for k, v in spaces.items() if spaces_wanted is None or k in spaces_wanted}
    for name, xs in spaces.items():
        xn = tf.unit(xs)
        t1 = time.perf_counter()
        idx, sim = knn(xn, xn, K_CANDIDATES if name in ("plain", "centred") else 10)
        cost.setdefault("brute_s", {})[name] = time.perf_counter() - t1
        rows.append({"option": name, "p": q.precision_at_k(idx[:, :10], labels).mean(), **q.hubness(idx[:, :10], n)})
        print(f"  {name}: top-k pass {cost['brute_s'][name]:.1f} s, {rows[-1]}", flush=True)
        if name in ("plain", "centred"):
            prefix = "" if name == "plain" else "centred+"
            r = tf.neighbourhood_radius(sim[:, :CSLS_K], CSLS_K)
            mu, sd = tf.GaussianMoments.fit(xs).of(xs)
            csls = _rerank_top10(idx, tf.csls_scores(sim, r[idx]))
            mp = _rerank_top10(idx, tf.mp_gauss_scores(sim, mu[:, None], sd[:, None], mu[idx], sd[idx]))
            for label, nb in ((f"{prefix}csls{CSLS_K}", csls), (f"{prefix}mp-gauss", mp)):
                rows.append({"option": label, "p": q.precision_at_k(nb, labels).mean(), **q.hubness(nb, n)})
            if name == "plain":
                cost.update(_query_cost(xs, idx, sim, r, queries))
    return rows, cost


def _query_cost(x: np.ndarray, idx: np.ndarray, sim: np.ndarray, r: np.ndarray, queries: int) -> dict:
    """ms per query of re-ranking its K candidates (given the ANN's ids and cosines), one query at a
    time as a tool would; and of applying a 200x200 transform to one query vector."""
    moments = tf.GaussianMoments.fit(x)
    mu, sd = moments.of(x)
    rng = np.random.default_rng(3)
    pick = rng.choice(len(x), queries, replace=False)
    out = {}
    t = time.perf_counter()
    for i in pick:
        np.argsort(-tf.csls_scores(sim[i], r[idx[i]]))[:10]
    out["csls_ms"] = (time.perf_counter() - t) * 1000 / queries
    t = time.perf_counter()
    for i in pick:
        qm, qs = moments.of(x[i][None, :])
        np.argsort(-tf.mp_gauss_scores(sim[i], qm[0], qs[0], mu[idx[i]], sd[idx[i]]))[:10]
    out["mp_ms"] = (time.perf_counter() - t) * 1000 / queries
    z = tf.standardising(x)
    t = time.perf_counter()
    for i in pick:
        z.apply(x[i])
    out["transform_ms"] = (time.perf_counter() - t) * 1000 / queries
    return out


def print_real(lib, rows: list[dict]) -> None:
    print(f"\nReal test music: {len(lib.x)} tracks ({lib.failed} failed), {len(set(lib.albums))} albums, "
          f"analysis cache {lib.cache}")
    styles = list(rows[0]["per"])
    print("(+- = standard error of the paired per-track difference to plain)")
    print("| option | style P@10 | cross-album P@10 | " + " | ".join(styles)
          + " | largest per-style drop vs plain | N10 skew | orphans | max N10 |")
    print("|---" * (7 + len(styles)) + "|")
    for r in rows:
        worst = f"{r['worst'][0]} {r['worst'][1]:+.3f}"
        d = [r["style"] - rows[0]["style"], r["cross_album"] - rows[0]["cross_album"]]
        gain = [f"{v:.3f}" + (f" ({x:+.3f} +- {e:.3f})" if e else "")
                for v, x, e in zip((r["style"], r["cross_album"]), d, r["se"])]
        print(f"| {r['option']} | {gain[0]} | {gain[1]} | "
              + " | ".join(f"{r['per'][s]:.3f}" for s in styles)
              + f" | {worst} | {r['skew']:.2f} | {r['orphans']:.3f} | {r['max']} |")
    multi = [st for st in styles if len(set(lib.albums[lib.styles == st])) > 1]
    print(f"\ncross-album P@10 per style (styles on one album only score 0 by construction: "
          f"{', '.join(st for st in styles if st not in multi)})")
    print("| option | " + " | ".join(multi) + " |")
    print("|---" * (1 + len(multi)) + "|")
    for r in rows:
        print(f"| {r['option']} | " + " | ".join(f"{r['per_xa'][st]:.3f}" for st in multi) + " |")


def embedding_options(lib, names: list[str]) -> dict[str, np.ndarray]:
    """plain (the stored embeddings) then each named option of ``_embedding_options``."""
    from benchmarks import _embedding_options as eo
    from benchmarks._patch_embeddings import patch_embeddings
    from tests.conftest import SAMPLE_LIBRARY

    t = time.perf_counter()
    per_patch = patch_embeddings([SAMPLE_LIBRARY / p for p in lib.paths], eo.models_of(names))
    print(f"per-patch embeddings of {', '.join(per_patch)} in {time.perf_counter() - t:.1f} s "
          f"({sum(len(e) for e in next(iter(per_patch.values())))} patches)")
    return {"plain": _cos(lib.x), **eo.option_scores(names, per_patch)}


def print_price(lib, names: list[str], tracks: int = 6, per_track: int = 20) -> None:
    """CPU per patch of every model the options need, beside MSD_musicnn (fp32 and the analysis's
    int8) and the whole analysis, all in this run."""
    from benchmarks import _embedding_options as eo
    from benchmarks._patch_embeddings import track_patches
    from tests.conftest import SAMPLE_LIBRARY

    files = [SAMPLE_LIBRARY / p for p in lib.paths[:: max(1, len(lib.paths) // tracks)][:tracks]]
    sample = np.concatenate([track_patches(f)[:per_track] for f in files])
    models = ["msd-musicnn-int8", "msd-musicnn"] + [m for m in eo.models_of(names) if m != "msd-musicnn"]
    ms = eo.model_cpu_ms(models, sample)
    whole = eo.analysis_cpu_ms(files[:3])
    print(f"\nCPU per patch ({len(sample)} patches of {len(files)} tracks, one thread, batch 1, best of 3 "
          f"interleaved rounds); whole analysis (int8, 3 tracks): {whole:.1f} ms per patch")
    print("| model | ms per patch | vs MSD_musicnn fp32 | added analysis CPU as a second model |")
    print("|---|---|---|---|")
    for m in models:
        print(f"| {m} | {ms[m]:.1f} | {ms[m] / ms['msd-musicnn']:.2f}x | {100 * ms[m] / whole:.0f}% |")


def print_synthetic(n: int, rows: list[dict], cost: dict) -> None:
    print(f"\nSynthetic {n:,} (benchmarks/_synthetic.py, 20 styles), top 10 by {cost['knn']}; "
          f"re-rankers over the top {K_CANDIDATES}")
    print("| option | N10 skew | orphans | max N10 | synthetic-style P@10 |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['option']} | {r['skew']:.2f} | {r['orphans']:.4f} | {r['max']} | {r['p']:.3f} |")
    print(f"\nquery-time cost per query (K={K_CANDIDATES} candidates, one query at a time): CSLS "
          f"{cost['csls_ms']:.3f} ms, MP-Gauss {cost['mp_ms']:.3f} ms, z-score transform of the query "
          f"{cost['transform_ms']:.4f} ms")
    print("fit on the whole catalog, s: " + ", ".join(f"{k} {v:.2f}" for k, v in cost["fit_s"].items()))
    print(f"top-k pass ({cost['knn']}) over the catalog (the CSLS radii need one k-NN pass at build time), s: "
          + ", ".join(f"{k} {v:.1f}" for k, v in cost["brute_s"].items()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--skip-synthetic", action="store_true")
    ap.add_argument("--skip-real", action="store_true")
    ap.add_argument("--exact", action="store_true", help="brute-force k-NN on the synthetic catalog "
                    "(default: the Voyager index, as the tools see it)")
    ap.add_argument("--spaces", nargs="*", default=None, help="synthetic spaces (default all): "
                    "plain centred z-score pca-white64")
    ap.add_argument("--embeddings", nargs="*", default=None, help="measure these track vectors "
                    "(benchmarks/_embedding_options.py; none named: all) instead of the transforms")
    ap.add_argument("--price", action="store_true", help="CPU per patch of the models --embeddings uses")
    args = ap.parse_args()
    if not args.skip_real:
        from benchmarks._embedding_options import DEFAULT_EMBEDDINGS
        from benchmarks._library import load_library

        t = time.perf_counter()
        lib = load_library()
        print(f"library loaded in {time.perf_counter() - t:.1f} s")
        names = None if args.embeddings is None else (args.embeddings or list(DEFAULT_EMBEDDINGS))
        print_real(lib, real_table(lib, None if names is None else embedding_options(lib, names)))
        if args.price and names is not None:
            print_price(lib, names)
    if not args.skip_synthetic:
        knn = brute_top_k if args.exact else ann_top_k
        rows, cost = synthetic_table(args.n, args.queries, knn, args.spaces)
        cost["knn"] = "exact brute force" if args.exact else "the Voyager index (M 16, ef_construction 200)"
        print_synthetic(args.n, rows, cost)


if __name__ == "__main__":
    main()
