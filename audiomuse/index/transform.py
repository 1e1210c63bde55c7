"""Library-adaptive options for "which songs sound alike": measured; the transforms can be chosen.

Two kinds, both unsupervised and learned from the library itself (no labels):

* **Embedding transforms** (:class:`LinearTransform`): ``y = (x - mean) @ matrix``, fitted on all
  analysed embeddings and applied to every vector before it enters the cosine index (and to every
  query vector). :func:`centring`, :func:`standardising` (per-dimension z-score) and
  :func:`pca_whitening` (PCA to ``k`` dims, each divided by its standard deviation).
* **Query-time re-ranking** of the ANN's top-K candidates by a hubness-reducing score:
  :func:`csls_scores` (cross-domain similarity local scaling) with per-track radii from
  :func:`neighbourhood_radius`, and mutual proximity (:func:`mp_gauss_scores` with moments from
  :class:`GaussianMoments`; :func:`mp_empirical_scores` for small libraries).

Hubs are songs that sit in many other songs' top 10 (high-dimensional cosine spaces grow them near
the data mean); these options push them down. ``benchmarks/similarity_quality.py`` measures them.
A transform named by ``SIMILARITY_TRANSFORM`` (:data:`SIMILARITY_TRANSFORMS`; default none, as no
option passed the bar on the test music: BENCHMARKS.md) is fitted when the index is built and
stored in the index artifact, so every tool and the Subsonic front query in the same space and a
change needs no re-analysis. The re-rankings are measured only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


@dataclass(frozen=True)
class LinearTransform:
    """``apply(x) = (x - mean) @ matrix`` (``matrix`` None = identity): cosine of the outputs is the
    similarity. ``name`` says which fit made it (for the artifact's metadata)."""

    name: str
    mean: np.ndarray
    matrix: np.ndarray | None = None

    def apply(self, x: np.ndarray) -> np.ndarray:
        y = np.asarray(x, dtype=np.float32) - self.mean
        return (y if self.matrix is None else y @ self.matrix).astype(np.float32)


def centring(x: np.ndarray) -> LinearTransform:
    """Subtract the library mean. MusiCNN embeddings are non-negative-ish and share a large common
    component; cosine around the origin is then dominated by it, cosine around the mean is not."""
    return LinearTransform("centred", np.asarray(x, np.float64).mean(axis=0).astype(np.float32))


def standardising(x: np.ndarray, eps: float = 1e-6) -> LinearTransform:
    """Centre and divide each dimension by its library standard deviation (z-score): every
    dimension weighs the same, whatever its scale in the raw embedding."""
    x = np.asarray(x, np.float64)
    std = x.std(axis=0)
    return LinearTransform(
        "z-score", x.mean(axis=0).astype(np.float32), np.diag(1.0 / (std + eps)).astype(np.float32)
    )


#: the transforms SIMILARITY_TRANSFORM can name: each fits a LinearTransform on the library's raw embeddings
SIMILARITY_TRANSFORMS = ("none", "centred", "standardised")


def fit_similarity_transform(name: str, x: np.ndarray) -> LinearTransform | None:
    """The transform ``name`` fitted on the raw embeddings ``x`` (None for "none" or no embeddings)."""
    if name not in SIMILARITY_TRANSFORMS:
        raise ValueError(f"unknown similarity transform {name!r}: one of {', '.join(SIMILARITY_TRANSFORMS)}")
    if name == "none" or len(x) == 0:
        return None
    fitted = centring(x) if name == "centred" else standardising(x)
    return LinearTransform(name, fitted.mean, fitted.matrix)


def pca_whitening(x: np.ndarray, k: int, power: float = 1.0, shrink: float = 0.0) -> LinearTransform:
    """Centre, project on the top ``k`` principal axes and divide axis i by ``(lambda_i +
    shrink * mean lambda) ** (power / 2)``: ``power`` 1 is full whitening, 0.5 a half, 0 plain
    PCA. ``k`` is capped at the rank the library supports (n - 1)."""
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    k = int(min(k, len(x) - 1, x.shape[1]))
    lam = s[:k] ** 2 / max(len(x) - 1, 1)
    scale = (lam + shrink * lam.mean() + 1e-12) ** (-power / 2)
    return LinearTransform(f"pca-white{k}" + (f"^{power:g}" if power != 1 else ""),
                           mean.astype(np.float32), (vt[:k].T * scale).astype(np.float32))


def neighbourhood_radius(sims_to_neighbours: np.ndarray, k: int = 10) -> np.ndarray:
    """CSLS's r_k per track: the mean cosine to its ``k`` nearest other tracks, from each track's
    neighbour similarities sorted or not (n x >= k, itself excluded). Computed once at index build
    time (one k-NN query per track) and stored beside the index."""
    s = np.asarray(sims_to_neighbours, np.float32)
    top = -np.partition(-s, k - 1, axis=1)[:, :k] if s.shape[1] > k else s
    return top.mean(axis=1)


def csls_scores(cosines: np.ndarray, candidate_radius: np.ndarray) -> np.ndarray:
    """CSLS(q, c) = 2 cos(q, c) - r(q) - r(c) (Conneau et al., 2018), up to ``r(q)``, which is the
    same for every candidate of one query and so does not change its ranking: a candidate close to
    everything (a hub, large ``r(c)``) is pushed down. Higher is nearer."""
    return 2.0 * np.asarray(cosines, np.float32) - np.asarray(candidate_radius, np.float32)


@dataclass(frozen=True)
class GaussianMoments:
    """The library's first two moments of unit vectors, so the mean and standard deviation of any
    vector's cosine to every library track are exact and O(d^2): mean = q . m, E[cos^2] =
    q^T C q with m = mean of the unit vectors and C their second-moment matrix."""

    m: np.ndarray
    c: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> GaussianMoments:
        xn = unit(x).astype(np.float64)
        return cls(xn.mean(axis=0), xn.T @ xn / len(xn))

    def of(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) of the cosine of each unit row of ``q`` to the library (itself included)."""
        qn = unit(q).astype(np.float64)
        mu = qn @ self.m
        var = ((qn @ self.c) * qn).sum(axis=1) - mu**2
        return mu, np.sqrt(np.maximum(var, 1e-12))


def mp_gauss_scores(cosines: np.ndarray, query_mu: float, query_sd: float,
                    cand_mu: np.ndarray, cand_sd: np.ndarray) -> np.ndarray:
    """Mutual proximity, Gaussian and independent (Schnitzer et al., 2012): the probability that
    a random track is farther from q than c is AND farther from c than q is, each track's cosines
    modelled as a normal with its own mean and std. In [0, 1]; higher is nearer."""
    s = np.asarray(cosines, np.float64)
    return ndtr((s - query_mu) / query_sd) * ndtr((s - cand_mu) / cand_sd)


def mp_empirical_scores(sims: np.ndarray) -> np.ndarray:
    """Empirical mutual proximity over a full n x n similarity matrix (diagonal ignored): the share
    of other tracks that are less similar to i than j is and less similar to j than i is. O(n^3):
    for libraries of a few thousand tracks, and for checking the Gaussian version."""
    s = np.asarray(sims, np.float64).copy()
    n = len(s)
    np.fill_diagonal(s, -np.inf)
    out = np.zeros((n, n))
    for i in range(n):
        below_i = s[i][None, :] < s[i][:, None]  # below_i[j, t]: t less similar to i than j is
        below_j = s < s[i][:, None]  # row j: t less similar to j than i is to j (symmetric s)
        out[i] = (below_i & below_j).sum(axis=1) / max(n - 2, 1)
    np.fill_diagonal(out, -np.inf)
    return out
