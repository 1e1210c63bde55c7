"""The similarity benchmark's pooling and fusion options (benchmarks/_embedding_options.py)."""

import numpy as np
import pytest

from benchmarks import _embedding_options as eo


def _per_patch(rng, dims):
    return [rng.normal(size=(n, dims)).astype(np.float32) + 0.5 for n in (1, 3, 7, 12)]


def test_option_names_parse_to_models_poolings_and_weights():
    assert eo.parse("mean+std") == [("msd-musicnn", "mean+std", 1.0)]
    assert eo.parse("msd-vgg") == [("msd-vgg", "mean", 1.0)]
    assert eo.parse("mtt:max") == [("mtt-musicnn", "max", 1.0)]
    assert eo.parse("msd+mtt@0.7") == [("msd-musicnn", "mean", 0.7), ("mtt-musicnn", "mean", pytest.approx(0.3))]
    assert eo.models_of(list(eo.DEFAULT_EMBEDDINGS)) == ["msd-musicnn", "msd-vgg", "mtt-musicnn", "mtt-vgg"]


def test_equal_weight_fusion_is_the_cosine_of_concatenated_unit_means():
    rng = np.random.default_rng(1)
    pp = {"msd-musicnn": _per_patch(rng, 200), "mtt-musicnn": _per_patch(rng, 200)}
    fused = eo.option_scores(["msd+mtt"], pp)["msd+mtt"]
    means = [np.stack([e.mean(0) for e in pp[m]]) for m in ("msd-musicnn", "mtt-musicnn")]
    cat = np.concatenate([m / np.linalg.norm(m, axis=1, keepdims=True) for m in means], axis=1)
    cat /= np.linalg.norm(cat, axis=1, keepdims=True)
    np.testing.assert_allclose(fused, cat @ cat.T, atol=1e-6)


def test_poolings_see_more_than_the_mean():
    rng = np.random.default_rng(2)
    e = rng.normal(size=(9, 200)).astype(np.float32)
    assert eo.POOLINGS["mean+std"](e).shape == (400,)
    np.testing.assert_allclose(eo.POOLINGS["mean+std"](e)[200:], e.std(0), rtol=1e-6)
    np.testing.assert_array_equal(eo.POOLINGS["max"](e), e.max(0))
    halves = eo.POOLINGS["mean+max"](e)
    assert np.linalg.norm(halves[:200]) == pytest.approx(1) and np.linalg.norm(halves[200:]) == pytest.approx(1)
    scaled = e * np.linspace(0.1, 10, 9, dtype=np.float32)[:, None]  # unit-mean ignores patch norms
    np.testing.assert_allclose(eo.POOLINGS["unit-mean"](scaled), eo.POOLINGS["unit-mean"](e), atol=1e-6)
