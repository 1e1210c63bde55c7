"""Quality on the real test music: do nearest neighbours by embedding share the style label?"""

from collections import defaultdict

import numpy as np
import pytest

from audiomuse.index import SimilarityIndex
from audiomuse.store.analysis import load_embeddings

pytestmark = pytest.mark.slow


def _neighbours(x: np.ndarray, k: int) -> np.ndarray:
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    sims = xn @ xn.T
    np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1)[:, :k]


def test_style_precision_at_10(analysed_library):
    db, styles = analysed_library
    with db.connection() as conn:
        ids, x = load_embeddings(conn)
    assert len(ids) >= 120
    labels = np.array([styles[i] for i in ids])
    hits = (labels[_neighbours(x, 10)] == labels[:, None]).mean(axis=1)
    per_style = defaultdict(list)
    for label, h in zip(labels, hits):
        per_style[label].append(h)
    report = {s: round(float(np.mean(v)), 3) for s, v in sorted(per_style.items())}
    overall = float(hits.mean())
    print(f"style precision@10 overall {overall:.3f} {report}")
    assert overall >= 0.75, report
    for style in ("orchestral", "electronic", "rock"):
        assert report[style] >= 0.85, report


def test_index_returns_brute_force_neighbours_on_real_music(analysed_library):
    db, _ = analysed_library
    with db.connection() as conn:
        ids, x = load_embeddings(conn)
    index = SimilarityIndex.build(ids, x)
    exact = _neighbours(x, 10)
    agree = [len({t for t, _ in index.query(x[i], 11)[1:]} & {ids[j] for j in exact[i]}) / 10 for i in range(len(ids))]
    assert np.mean(agree) >= 0.99
