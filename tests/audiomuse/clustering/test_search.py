import math
import time
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from audiomuse.clustering.data import ClusteringCancelled, ClusteringInput, PlaylistResult
from audiomuse.clustering.fitness import ScoreWeights
from audiomuse.clustering.params import ClusteringParams
from audiomuse.clustering.postprocess import select_diverse
from audiomuse.clustering.run import kmeans
from audiomuse.clustering.search import run_search
from audiomuse.clustering.sampling import StratifiedSampler, water_fill

from .conftest import MOOD_LABELS, make_library

# No per-artist cap unless a test asks for one: the default (3) would drop songs of the 50-artist fixture.
SMALL = dict(k_min=6, k_max=16, sample_size=400, min_playlist_size=10, top_playlists=8, batch_size=20,
             max_songs_per_artist=0)


def params(**kw) -> ClusteringParams:
    return ClusteringParams(**{**SMALL, "runs": 60, **kw})


def mood_match(inp: ClusteringInput, playlists) -> tuple[float, float]:
    """(worst playlist, overall) share of songs whose top mood is their playlist's dominant mood."""
    top = inp.moods.argmax(axis=1)
    hits, sizes = [], []
    for p in playlists:
        dom = inp.mood_labels.index(p.dominant_moods[0])
        hits.append(int((top[p.track_indices] == dom).sum()))
        sizes.append(len(p.track_indices))
    return min(h / s for h, s in zip(hits, sizes)), sum(hits) / sum(sizes)


def test_search_finds_mood_pure_playlists(library):
    inp, _ = library
    res = run_search(inp, params(runs=80), seed=1)
    assert len(res.playlists) >= 6
    worst, overall = mood_match(inp, res.playlists)
    assert worst >= 0.7 and overall >= 0.9
    assert len({p.dominant_moods[0] for p in res.playlists}) >= 6  # diverse, not one mood split 8 ways
    assert res.runs_done == 80 and res.best_params["algorithm"] == "kmeans"
    assert 6 <= res.best_params["n_clusters"] <= 16
    assert res.best_score == pytest.approx(res.components["mood_purity"] + 2 * res.components["mood_diversity"])
    p = res.playlists[0]
    assert p.track_ids == [inp.track_ids[i] for i in p.track_indices]
    assert list(p.profile) == sorted(p.profile, key=p.profile.get, reverse=True)
    assert p.dominant_moods == list(p.profile)[:3]
    assert p.tempo_mean == pytest.approx(float(inp.tempo[p.track_indices].mean()))
    assert set(p.other_means) == set(inp.other_labels)


def test_control_without_structure_fails_the_same_threshold(library):
    """The threshold above is a real one: embeddings unrelated to the moods cannot meet it."""
    inp, _ = library
    shuffled = replace(inp, X=np.random.default_rng(0).permutation(inp.X))
    res = run_search(shuffled, params(runs=20), seed=1)
    worst, overall = mood_match(shuffled, res.playlists)
    assert overall < 0.5


def test_every_song_is_assigned_not_only_the_sample(library):
    inp, _ = library
    res = run_search(inp, params(runs=20, min_playlist_size=1, top_playlists=1000), seed=2)
    assigned = [i for p in res.playlists for i in p.track_indices]
    assert res.sample_size == 400
    assert sorted(assigned) == list(range(inp.n))  # all 600, each exactly once


def test_score_vectors_mode_needs_no_embeddings(library):
    inp, _ = library
    res = run_search(replace(inp, X=None), params(runs=30, use_embeddings=False), seed=1)
    worst, overall = mood_match(inp, res.playlists)
    assert worst >= 0.7 and overall >= 0.9
    with pytest.raises(ValueError, match="needs ClusteringInput.X"):
        run_search(replace(inp, X=None), params(runs=2), seed=1)


@pytest.mark.parametrize("algorithm, extra", [
    ("gmm", {"gmm_covariance_types": ("diag", "spherical")}),
    ("dbscan", {}),
    ("spectral", {}),
])
def test_other_algorithms(library, algorithm, extra):
    inp, _ = library
    res = run_search(inp, params(runs=20, algorithm=algorithm, **extra), seed=4)
    assert res.best_params["algorithm"] == algorithm
    assert len(res.playlists) >= 4
    worst, overall = mood_match(inp, res.playlists)
    assert overall >= 0.85
    if algorithm == "dbscan":
        assert res.best_params["eps"] > 0 and 5 <= res.best_params["min_samples"] <= 20


def test_same_seed_same_result_with_one_or_two_workers(library):
    inp, _ = library
    p = params(runs=120, exploitation_start=0.2)  # 6 batches: elites drive the later ones
    one = run_search(inp, p, seed=7, workers=1)
    two = run_search(inp, p, seed=7, workers=2)
    assert one.best_score == two.best_score
    assert one.components == two.components
    assert one.best_params == two.best_params and one.best_run == two.best_run
    assert one.playlists == two.playlists
    other = run_search(inp, p, seed=8, workers=1)
    assert (other.best_run, other.best_score) != (one.best_run, one.best_score)


def test_progress_after_each_batch(library):
    inp, _ = library
    seen = []
    res = run_search(inp, params(runs=50, batch_size=20), seed=1, progress=seen.append)
    assert [p.runs_done for p in seen] == [20, 40, 50]
    assert all(p.runs_total == 50 for p in seen)
    scores = [p.best_score for p in seen]
    assert scores == sorted(scores) and scores[-1] == res.best_score
    assert all(b.elapsed_s >= a.elapsed_s for a, b in zip(seen, seen[1:]))


def test_should_stop_before_the_first_batch(library):
    inp, _ = library
    seen = []
    with pytest.raises(ClusteringCancelled) as err:
        run_search(inp, params(runs=50), seed=1, progress=seen.append, should_stop=lambda: True)
    assert err.value.runs_done == 0 and seen == []


@pytest.mark.parametrize("workers", [1, 2])
def test_should_stop_cancels_promptly(library, workers):
    inp, _ = library
    seen = []
    t0 = time.perf_counter()
    with pytest.raises(ClusteringCancelled) as err:
        # 100,000 runs would take minutes: only a prompt cancellation keeps this test fast
        run_search(inp, params(runs=100_000, batch_size=20), seed=1, workers=workers,
                   progress=seen.append, should_stop=lambda: len(seen) >= 2)
    assert time.perf_counter() - t0 < 15
    assert len(seen) == 2 and err.value.runs_done == 40 and err.value.runs_total == 100_000


def test_max_songs_per_cluster_splits_big_playlists(library):
    inp, _ = library
    base = params(runs=20, k_min=6, k_max=6, min_playlist_size=1, top_playlists=1000)
    whole = run_search(inp, base, seed=5)
    split = run_search(inp, replace(base, max_songs_per_cluster=30), seed=5)
    assert whole.best_run == split.best_run  # the cap is post-processing only
    assert max(len(p.track_indices) for p in whole.playlists) > 30
    assert all(len(p.track_indices) <= 30 for p in split.playlists)
    parts = {frozenset(p.track_indices) for p in split.playlists}
    for p in whole.playlists:
        mine = [q for q in parts if q <= set(p.track_indices)]
        assert len(mine) == math.ceil(len(p.track_indices) / 30)  # 2 or more near-equal parts
        assert frozenset().union(*mine) == set(p.track_indices)
        sizes = [len(q) for q in mine]
        assert max(sizes) - min(sizes) <= 1
    names = [p.name for p in split.playlists]
    assert len(set(names)) == len(names) and all(n.endswith("_automatic") for n in names)


def test_min_size_and_top_n(library):
    inp, _ = library
    base = params(runs=20, k_min=14, k_max=16, min_playlist_size=1, top_playlists=1000)
    everything = run_search(inp, base, seed=6).playlists
    sizes = sorted(len(p.track_indices) for p in everything)
    cut = sizes[len(sizes) // 2]  # drops about half of them
    kept = run_search(inp, replace(base, min_playlist_size=cut), seed=6).playlists
    assert all(len(p.track_indices) >= cut for p in kept)
    assert len(kept) == sum(s >= cut for s in sizes) < len(everything)
    top3 = run_search(inp, replace(base, min_playlist_size=cut, top_playlists=3), seed=6).playlists
    assert len(top3) == 3
    assert len(top3[0].track_indices) == max(len(p.track_indices) for p in kept)  # anchored on the largest
    assert [p.track_indices for p in top3] == [p.track_indices for p in kept[:3]]  # greedy prefix
    assert len({p.dominant_moods[0] for p in top3}) == 3


def _pl(n: int, profile: dict[str, float]) -> PlaylistResult:
    dom = sorted(profile, key=profile.get, reverse=True)
    return PlaylistResult(list(range(n)), profile, dom, None, None, {})


def test_select_diverse_prefers_new_dominant_moods():
    labels = ["rock", "pop", "jazz"]
    a = _pl(50, {"rock": 0.9, "pop": 0.1, "jazz": 0.0})
    b = _pl(49, {"rock": 0.5, "pop": 0.45, "jazz": 0.4})  # far from a, but rock again
    c = _pl(20, {"jazz": 0.6, "rock": 0.5, "pop": 0.1})  # smaller, new dominant mood
    assert select_diverse([b, c, a], 2, labels) == [a, c]
    assert select_diverse([b, c, a], 5, labels) == [a, c, b]
    assert select_diverse([], 3, labels) == []


def test_stratified_sampling_quotas_and_perturbation():
    codes = np.repeat([0, 1, 2], [500, 20, 80])
    assert list(water_fill(np.array([500, 20, 80]), 120)) == [50, 20, 50]
    s = StratifiedSampler(codes, 120, 0.2)
    rng = np.random.default_rng(0)
    first = s.next(None, rng)
    assert list(np.bincount(codes[first], minlength=3)) == [50, 20, 50]  # the rare style entirely in
    prev = first
    for _ in range(30):
        nxt = s.next(prev, rng)
        assert len(np.unique(nxt)) == 120
        assert list(np.bincount(codes[nxt], minlength=3)) == [50, 20, 50]
        assert len(np.intersect1d(prev, nxt)) == 100  # 10 of 50 swapped in strata 0 and 2
        prev = nxt
    assert len(np.setdiff1d(prev, first)) > 20  # the sample really wanders
    assert np.array_equal(StratifiedSampler(codes, 1000, 0.2).next(None, rng), np.arange(600))


def test_kmeans_recovers_separated_blobs():
    rng = np.random.default_rng(0)
    truth = np.repeat(np.arange(5), 40)
    X = (rng.standard_normal((5, 10)) * 10)[truth] + rng.standard_normal((200, 10))
    labels, centres = kmeans(X.astype(np.float32), 5, np.random.default_rng(1))
    assert centres.shape == (5, 10)
    # a perfect clustering up to renaming: each true blob maps to exactly one label
    assert len({(t, lab) for t, lab in zip(truth, labels)}) == 5


def test_validation(library):
    inp, _ = library
    with pytest.raises(ValueError):
        ClusteringParams(algorithm="hdbscan")
    with pytest.raises(ValueError):
        ClusteringParams(k_min=50, k_max=40)
    with pytest.raises(ValueError):
        ClusteringInput(X=np.zeros((3, 2)), moods=np.zeros((4, 2)), mood_labels=["a", "b"])
    with pytest.raises(ValueError):
        ClusteringInput(X=None, moods=np.zeros((4, 2)), mood_labels=["a"])
    with pytest.raises(ValueError):
        ClusteringInput(X=None, moods=np.zeros((4, 2)), mood_labels=["a", "b"], active_moods=["c"])


def test_from_settings_maps_every_clustering_setting():
    s = SimpleNamespace(
        clustering_runs=123, cluster_algorithm="gmm", num_clusters_min=5, num_clusters_max=9,
        enable_clustering_embeddings=False, sampling_percentage_change_per_run=0.3,
        max_songs_per_cluster=40, min_songs_per_playlist=7, top_playlist_number=4, max_songs_per_artist=3,
        score_weight_diversity=2.5, score_weight_purity=1.5, score_weight_silhouette=0.1,
        score_weight_davies_bouldin=0.2, score_weight_calinski_harabasz=0.3,
        score_weight_other_feature_diversity=0.4, score_weight_other_feature_purity=0.5,
    )
    p = ClusteringParams.from_settings(s, sample_size=999)
    assert (p.runs, p.algorithm, p.k_min, p.k_max, p.use_embeddings) == (123, "gmm", 5, 9, False)
    assert (p.sampling_change, p.max_songs_per_cluster, p.min_playlist_size, p.top_playlists) == (0.3, 40, 7, 4)
    assert p.max_songs_per_artist == 3 and p.sample_size == 999
    assert p.weights == ScoreWeights(2.5, 1.5, 0.1, 0.2, 0.3, 0.4, 0.5)


def test_reference_defaults():
    p = ClusteringParams()
    assert (p.runs, p.algorithm, p.k_min, p.k_max, p.use_embeddings, p.elites) == (5000, "kmeans", 40, 100, True, 10)
    assert (p.exploitation_start, p.exploitation_probability, p.sampling_change, p.top_k_moods) == (0.2, 0.7, 0.2, 3)
    assert p.weights == ScoreWeights(diversity=2.0, purity=1.0)
    assert (p.max_songs_per_cluster, p.min_playlist_size, p.top_playlists) == (0, 20, 10)


def test_artist_cap(library):
    inp, _ = library
    few_artists = replace(inp, artists=[f"a{i % 5}" for i in range(inp.n)])
    res = run_search(few_artists, params(runs=10, min_playlist_size=1, max_songs_per_artist=2), seed=1)
    for p in res.playlists:
        artists = [few_artists.artists[i] for i in p.track_indices]
        assert max(artists.count(a) for a in set(artists)) <= 2


def test_mood_labels_fixture_is_consistent(library):
    inp, style = library
    assert inp.mood_labels == MOOD_LABELS and inp.moods.shape == (600, 20)
    assert (inp.moods.argmax(axis=1) == style).all()
    assert make_library(seed=0)[0].X.tobytes() == inp.X.tobytes()


def test_failed_runs_are_skipped_and_reported(library, monkeypatch):
    from audiomuse.clustering import run

    inp, _ = library
    real = run.cluster

    def flaky(problem, Xs, x2s, run_params, rng):
        if run_params["n_clusters"] % 2 == 0:
            raise ValueError("singular covariance")
        return real(problem, Xs, x2s, run_params, rng)

    monkeypatch.setattr(run, "cluster", flaky)
    res = run_search(inp, params(runs=10), seed=1)  # about half the runs fail: the others still count
    assert res.best_params["n_clusters"] % 2 == 1 and res.playlists

    def broken(*args):
        raise ValueError("singular covariance")

    monkeypatch.setattr(run, "cluster", broken)
    with pytest.raises(RuntimeError, match="singular covariance"):
        run_search(inp, params(runs=10), seed=1)
