import math

import numpy as np
import pytest

from audiomuse.clustering.fitness import LN_MOOD_DIVERSITY_STATS, LN_MOOD_PURITY_STATS, ScoreWeights
from audiomuse.clustering.scoring import (
    mood_diversity_raw,
    mood_diversity_raw_array,
    mood_purity_raw,
    mood_purity_raw_array,
    normalise,
    score_labels,
)

# --- the spec's worked examples -----------------------------------------------------------------

PURITY_PROFILE = {"pop": 0.6, "indie": 0.4, "vocal": 0.35, "rock": 0.1}
PURITY_ACTIVE = ["indie", "rock", "vocal"]  # pop is not encoded in the songs' feature vectors
SONG_A = {"indie": 0.3, "rock": 0.7, "vocal": 0.6}
SONG_B = {"indie": 0.4, "rock": 0.45, "vocal": 0.3}

DIVERSITY_PROFILES = [
    {"indie": 0.6, "rock": 0.3, "vocal": 0.2},
    {"pop": 0.5, "rock": 0.2},
    {"vocal": 0.55, "indie": 0.1},
]


def test_purity_worked_example_is_exactly_one():
    # top moods [pop, indie, vocal]; pop skipped; A -> max(0.3, 0.6) = 0.6, B -> max(0.4, 0.3) = 0.4.
    # rock (0.7 for A) is active but not a top mood: it must not be used.
    assert mood_purity_raw([(PURITY_PROFILE, [SONG_A, SONG_B])], PURITY_ACTIVE, top_k=3) == 1.0


def test_purity_worked_example_array_form():
    labels = ["pop", "indie", "vocal", "rock"]
    moods = np.array([[0.9, 0.3, 0.6, 0.7], [0.9, 0.4, 0.3, 0.45]], dtype=np.float32)  # pop 0.9 ignored
    profiles = np.array([[PURITY_PROFILE[m] for m in labels]])
    active = np.array([m in PURITY_ACTIVE for m in labels])
    raw = mood_purity_raw_array(np.array([0, 0]), moods, profiles, active, top_k=3)
    assert raw == pytest.approx(1.0, abs=1e-6)


def test_diversity_worked_example_is_1_65():
    assert mood_diversity_raw(DIVERSITY_PROFILES) == pytest.approx(1.65, abs=1e-12)
    labels = ["indie", "rock", "vocal", "pop"]
    arr = np.array([[p.get(m, 0.0) for m in labels] for p in DIVERSITY_PROFILES])
    assert mood_diversity_raw_array(arr) == pytest.approx(1.65, abs=1e-12)


def test_shared_dominant_mood_counts_once_with_its_highest_score():
    profiles = DIVERSITY_PROFILES + [{"indie": 0.9}, {"indie": 0.2}]
    assert mood_diversity_raw(profiles) == pytest.approx(0.9 + 0.5 + 0.55)


def test_normalisation_values():
    assert LN_MOOD_PURITY_STATS == (5.8679, 1.1557)
    assert LN_MOOD_DIVERSITY_STATS == (0.9995, 0.3541)
    assert normalise(1.0, LN_MOOD_PURITY_STATS) == pytest.approx((math.log(2.0) - 5.8679) / 1.1557)
    assert normalise(1.0, LN_MOOD_PURITY_STATS) == pytest.approx(-4.47759, abs=1e-5)
    assert normalise(1.65, LN_MOOD_DIVERSITY_STATS) == pytest.approx(-0.0704, abs=1e-4)
    # the mean of the log-normal maps to 0, one sd above it to 1
    assert normalise(math.expm1(5.8679), LN_MOOD_PURITY_STATS) == pytest.approx(0.0, abs=1e-12)
    assert normalise(math.expm1(0.9995 + 0.3541), LN_MOOD_DIVERSITY_STATS) == pytest.approx(1.0)


def test_array_and_dict_forms_agree_on_random_clusterings():
    rng = np.random.default_rng(3)
    labels_ = [f"m{i}" for i in range(12)]
    active = rng.random(12) > 0.3
    for _ in range(20):
        n, k = 80, int(rng.integers(2, 9))
        moods = rng.random((n, 12)).astype(np.float32)
        lab = rng.integers(0, k, n)
        s = score_labels(lab, moods, active, ScoreWeights(), top_k=3)
        playlists = []
        for c in np.unique(lab):
            rows = moods[lab == c].astype(np.float64)
            profile = dict(zip(labels_, rows.mean(axis=0)))
            playlists.append((profile, [dict(zip(labels_, r)) for r in rows]))
        act = [m for m, a in zip(labels_, active) if a]
        assert s.components["raw_mood_purity"] == pytest.approx(mood_purity_raw(playlists, act, 3), rel=1e-5)
        diversity = mood_diversity_raw([p for p, _ in playlists])
        assert s.components["raw_mood_diversity"] == pytest.approx(diversity, rel=1e-5)


def test_total_is_the_weighted_sum_and_noise_is_ignored():
    rng = np.random.default_rng(0)
    moods = rng.random((50, 6)).astype(np.float32)
    lab = np.repeat(np.arange(5), 10)
    active = np.ones(6, bool)
    s = score_labels(lab, moods, active, ScoreWeights(diversity=2.0, purity=1.0))
    assert s.total == pytest.approx(s.components["mood_purity"] + 2 * s.components["mood_diversity"])
    assert "silhouette" not in s.components  # weight 0: never computed
    noisy = lab.copy()
    noisy[:10] = -1
    s2 = score_labels(noisy, moods, active, ScoreWeights())
    s3 = score_labels(lab[10:], moods[10:], active, ScoreWeights())
    assert s2.components == s3.components


def test_optional_terms_when_weighted():
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(c, 0.1, (20, 3)) for c in (0, 5, 10)]).astype(np.float32)
    lab = np.repeat(np.arange(3), 20)
    moods = rng.random((60, 4)).astype(np.float32)
    other = rng.random((60, 6)).astype(np.float32)
    w = ScoreWeights(silhouette=1, davies_bouldin=1, calinski_harabasz=1, other_feature_diversity=1,
                     other_feature_purity=1)
    s = score_labels(lab, moods, np.ones(4, bool), w, X=X, other=other)
    c = s.components
    assert c["silhouette"] > 0.9  # well separated blobs
    assert -0.2 < c["davies_bouldin"] < 0  # negated: lower DB is better
    assert c["calinski_harabasz"] > 5
    for key in ("other_feature_diversity", "other_feature_purity"):
        assert key in c
    expected = sum(c[k] for k in ("mood_purity", "silhouette", "davies_bouldin", "calinski_harabasz",
                                  "other_feature_diversity", "other_feature_purity")) + 2 * c["mood_diversity"]
    assert s.total == pytest.approx(expected)
