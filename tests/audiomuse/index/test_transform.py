"""The neighbour-quality metrics and the library-adaptive similarity options, on tiny cases."""

import numpy as np
import pytest

from audiomuse.index import quality as q
from audiomuse.index import transform as tf


def _rng_vectors(n=40, d=8, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, d)) + 3.0).astype(np.float32)  # a large common component


# ---- metrics


def test_top_k_skips_self_and_excluded_and_orders_best_first():
    s = np.array([[9, 3, 2, 1], [3, 9, 1, 2], [2, 1, 9, 3], [1, 2, 3, 9]], float)
    assert q.top_k(s, 2).tolist() == [[1, 2], [0, 3], [3, 0], [2, 1]]
    exclude = q.same_group(np.array(["a", "a", "b", "b"]))
    assert q.top_k(s, 2, exclude=exclude).tolist() == [[2, 3], [3, 2], [0, 1], [1, 0]]


def test_precision_at_k_with_and_without_same_album_exclusion():
    # 0, 1: style A, album X; 2: style A, album Y; 3: style B, album Y
    styles = np.array(["A", "A", "A", "B"])
    albums = np.array(["X", "X", "Y", "Y"])
    s = np.array([[0, .9, .1, .5], [.9, 0, .2, .6], [.1, .2, 0, .8], [.5, .6, .8, 0]])
    plain = q.precision_at_k(q.top_k(s, 1), styles)
    assert plain.tolist() == [1.0, 1.0, 0.0, 0.0]  # 0 <-> 1 same album, 2 -> 3, 3 -> 2
    cross = q.precision_at_k(q.top_k(s, 1, exclude=q.same_group(albums)), styles)
    assert cross.tolist() == [0.0, 0.0, 1.0, 0.0]  # 0 -> 3, 1 -> 3, 2 -> 1, 3 -> 1
    assert q.precision_at_k(np.array([[1, 2, 3]]), np.array(["A", "A", "B", "A"]))[0] == pytest.approx(2 / 3)


def test_k_occurrence_skewness_and_orphans_on_a_hand_made_hub():
    # every one of 5 items names item 0 (item 0 names 1): N1 = [4, 1, 0, 0, 0]
    nb = np.array([[1], [0], [0], [0], [0]])
    nk = q.k_occurrence(nb)
    assert nk.tolist() == [4, 1, 0, 0, 0]
    d = nk - nk.mean()
    assert q.skewness(nk) == pytest.approx((d**3).mean() / (d**2).mean() ** 1.5)
    assert q.skewness(nk) > 1.0
    h = q.hubness(nb)
    assert h["orphans"] == pytest.approx(0.6) and h["max"] == 4
    assert q.hubness(np.array([[1], [2], [3], [0]]))["skew"] == 0.0  # a ring: no hubs


# ---- transforms


def test_centring_then_cosine_is_the_cosine_of_centred_vectors():
    x = _rng_vectors()
    t = tf.centring(x)
    centred = x - x.mean(axis=0)
    want = centred @ centred.T / np.outer(np.linalg.norm(centred, axis=1), np.linalg.norm(centred, axis=1))
    y = tf.unit(t.apply(x))
    np.testing.assert_allclose(y @ y.T, want, atol=1e-5)
    np.testing.assert_allclose(t.apply(x).mean(axis=0), 0, atol=1e-5)


def test_standardising_gives_zero_mean_unit_variance_and_whitening_identity_covariance():
    x = _rng_vectors(200) * np.linspace(0.1, 5, 8).astype(np.float32)
    z = tf.standardising(x).apply(x)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-3)
    w = tf.pca_whitening(x, 4).apply(x)
    assert w.shape == (200, 4)
    np.testing.assert_allclose(np.cov(w, rowvar=False), np.eye(4), atol=1e-3)
    assert tf.pca_whitening(x[:5], 64).matrix.shape == (8, 4)  # capped at the rank n - 1


def test_csls_reorders_a_hub_down():
    # the query's raw nearest is a hub (close to everything); its CSLS nearest is the other song
    cos_to_query = np.array([0.80, 0.75])  # candidate 0 = the hub, candidate 1 = a plain song
    radius = np.array([0.85, 0.50])  # the hub's mean cosine to its own 10 nearest is high
    assert np.argmax(cos_to_query) == 0
    assert np.argmax(tf.csls_scores(cos_to_query, radius)) == 1
    sims = np.array([[0.9, 0.85, 0.8], [0.5, 0.4, 0.3]])
    np.testing.assert_allclose(tf.neighbourhood_radius(sims, 2), [0.875, 0.45])


def test_csls_and_mutual_proximity_lower_hubness_of_random_high_dimensional_data():
    x = np.random.default_rng(1).standard_normal((300, 50)) + 0.5  # hubs grow near the mean
    s = (tf.unit(x) @ tf.unit(x).T).astype(np.float64)
    plain = q.top_k(s, 10)
    r = tf.neighbourhood_radius(np.take_along_axis(s, plain, axis=1), 10)
    mu, sd = tf.GaussianMoments.fit(x).of(x)
    csls = q.top_k(tf.csls_scores(s, r[None, :]), 10)
    mp = q.top_k(tf.mp_gauss_scores(s, mu[:, None], sd[:, None], mu[None, :], sd[None, :]), 10)
    base = q.hubness(plain)
    assert base["skew"] > 0.5
    assert q.hubness(csls)["skew"] < base["skew"] / 2 and q.hubness(mp)["skew"] < base["skew"] / 2
    assert q.hubness(csls)["orphans"] <= base["orphans"]


def test_gaussian_moments_are_the_exact_mean_and_std_of_cosines():
    x = _rng_vectors(50)
    s = tf.unit(x) @ tf.unit(x).T
    mu, sd = tf.GaussianMoments.fit(x).of(x)
    np.testing.assert_allclose(mu, s.mean(axis=1), atol=1e-5)
    np.testing.assert_allclose(sd, s.std(axis=1), atol=1e-4)


def test_mutual_proximity_is_symmetric_and_prefers_mutual_neighbours():
    x = _rng_vectors(30)
    s = (tf.unit(x) @ tf.unit(x).T).astype(np.float64)
    mu, sd = tf.GaussianMoments.fit(x).of(x)
    mp = tf.mp_gauss_scores(s, mu[:, None], sd[:, None], mu[None, :], sd[None, :])
    np.testing.assert_allclose(mp, mp.T, atol=1e-12)
    emp = tf.mp_empirical_scores(s)
    off = ~np.eye(30, dtype=bool)
    np.testing.assert_allclose(emp[off], emp.T[off])
    assert ((emp[off] >= 0) & (emp[off] <= 1)).all()
    # by hand for one pair: share of the others farther from 0 than 1 is AND farther from 1 than 0 is
    others = [t for t in range(30) if t not in (0, 1)]
    want = np.mean([(s[0, t] < s[0, 1]) and (s[1, t] < s[1, 0]) for t in others])
    assert emp[0, 1] == pytest.approx(want)
