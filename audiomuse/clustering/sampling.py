"""Stratified samples of the songs: fixed per-stratum quotas, a share swapped from one run to the next."""

from __future__ import annotations

import numpy as np


def water_fill(sizes: np.ndarray, total: int) -> np.ndarray:
    """Per-stratum quotas summing to ``total``: equal shares, small strata taken whole."""
    quota = np.zeros(len(sizes), dtype=np.int64)
    remaining = int(min(total, sizes.sum()))
    while remaining > 0:
        open_ = np.flatnonzero(quota < sizes)
        share = remaining // len(open_)
        if share == 0:  # fewer songs left than open strata: one more each, largest strata first
            order = open_[np.argsort(-sizes[open_], kind="stable")][:remaining]
            quota[order] += 1
            break
        add = np.minimum(share, sizes[open_] - quota[open_])
        quota[open_] += add
        remaining -= int(add.sum())
    return quota


class StratifiedSampler:
    """Samples of ``size`` songs with fixed per-stratum quotas; ``perturb`` swaps ``change`` of them."""

    def __init__(self, codes: np.ndarray, size: int, change: float):
        self.codes = codes
        self.n = len(codes)
        self.size = min(size, self.n)
        self.change = change
        self.n_strata = int(codes.max()) + 1 if self.n else 0
        self.sizes = np.bincount(codes, minlength=self.n_strata)
        self.by_stratum = np.argsort(codes, kind="stable")
        self.starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)
        self.quota = water_fill(self.sizes, self.size)

    @property
    def full(self) -> bool:
        return self.size >= self.n

    def next(self, prev: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
        if self.full:
            return np.arange(self.n, dtype=np.int32)
        if prev is None:
            return self._first(rng)
        if self.change <= 0:
            return prev
        return self._perturb(prev, rng)

    def _first(self, rng: np.random.Generator) -> np.ndarray:
        order = np.argsort(self.codes + rng.random(self.n), kind="stable")  # strata, random inside
        c = self.codes[order]
        rank = np.arange(self.n) - self.starts[c]
        return np.sort(order[rank < self.quota[c]]).astype(np.int32)

    def _perturb(self, prev: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        S = self.n_strata
        codes_m = self.codes[prev]
        cnt = np.bincount(codes_m, minlength=S)
        avail = self.sizes - cnt  # songs of the stratum not in the sample
        drop = np.minimum(np.rint(self.change * cnt).astype(np.int64), avail)
        # drop `drop[s]` random members of each stratum
        order = np.argsort(codes_m + rng.random(len(prev)), kind="stable")
        c = codes_m[order]
        rank = np.arange(len(prev)) - np.concatenate([[0], np.cumsum(cnt)[:-1]])[c]
        kept = prev[order][rank >= drop[c]]
        need = np.clip(self.quota - (cnt - drop), 0, avail)
        # add `need[s]` random non-members of each stratum: rejection sampling inside the stratum
        member = np.zeros(self.n, dtype=bool)
        member[prev] = True
        strata = np.flatnonzero(need > 0)
        draws = np.ceil(2.0 * need[strata] * self.sizes[strata] / np.maximum(avail[strata], 1)).astype(np.int64) + 4
        grp = np.repeat(strata, draws)
        pos = np.minimum((rng.random(len(grp)) * self.sizes[grp]).astype(np.int64), self.sizes[grp] - 1)
        cand = self.by_stratum[self.starts[grp] + pos]
        ok = ~member[cand]
        cand, grp = cand[ok], grp[ok]
        _, first = np.unique(cand, return_index=True)
        first.sort()
        cand, grp = cand[first], grp[first]
        rank = np.arange(len(grp)) - np.searchsorted(grp, grp, side="left")
        take = rank < need[grp]
        added = [cand[take]]
        got = np.bincount(grp[take], minlength=S)
        short = np.flatnonzero(got < need)
        if len(short):  # rare: exact draw for strata the rejection sampling left short
            member[added[0]] = True
            for s in short:
                pool = self.by_stratum[self.starts[s] : self.starts[s] + self.sizes[s]]
                pool = pool[~member[pool]]
                added.append(rng.choice(pool, min(int(need[s] - got[s]), len(pool)), replace=False))
        return np.sort(np.concatenate([kept, *added])).astype(np.int32)
