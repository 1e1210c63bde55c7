"""The fitness's constants: the weight of each score and the statistics that normalise raw scores.

Plain values (numpy only, for the scores' own log1p), so the settings (``audiomuse.config``) take
the clustering defaults from :mod:`audiomuse.clustering.params` without loading scipy or scikit-learn.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np


class LogNormalStats(NamedTuple):
    """Mean and standard deviation of ``log1p(raw score)`` over typical clusterings."""

    mean: float
    sd: float

    def z(self, raw: float) -> float:
        return float((np.log1p(raw) - self.mean) / self.sd)


LN_MOOD_PURITY_STATS = LogNormalStats(5.8679, 1.1557)
LN_MOOD_DIVERSITY_STATS = LogNormalStats(0.9995, 0.3541)
# The reference ships these two as placeholders; they only matter when their weights are non-zero.
LN_OTHER_FEATURE_PURITY_STATS = LogNormalStats(8.84, 0.07)
LN_OTHER_FEATURE_DIVERSITY_STATS = LogNormalStats(1.5, 0.46)


@dataclass(frozen=True)
class ScoreWeights:
    """Weights of the fitness terms (reference defaults: diversity 2, purity 1, the rest off)."""

    diversity: float = 2.0
    purity: float = 1.0
    silhouette: float = 0.0
    davies_bouldin: float = 0.0
    calinski_harabasz: float = 0.0
    other_feature_diversity: float = 0.0
    other_feature_purity: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)
