"""Evolutionary clustering into mood playlists: pure core (numpy / scikit-learn, no database).

``run_search(inp, params, seed, progress, should_stop, workers)`` is the entry point; scoring and
naming live in their own modules.
"""

from audiomuse.clustering.naming import (
    ai_naming_prompt,
    automatic_name,
    clean_ai_name,
    name_playlists,
    unique_names,
)
from audiomuse.clustering.scoring import (
    LN_MOOD_DIVERSITY_STATS,
    LN_MOOD_PURITY_STATS,
    LogNormalStats,
    Scores,
    ScoreWeights,
    mood_diversity_raw,
    mood_purity_raw,
    normalise,
    score_labels,
)
from audiomuse.clustering.search import (
    ALGORITHMS,
    OTHER_FEATURE_LABELS,
    ClusteringCancelled,
    ClusteringInput,
    ClusteringParams,
    PlaylistResult,
    RunProgress,
    SearchResult,
    kmeans,
    run_search,
    score_vectors,
    select_diverse,
)

__all__ = [
    "ALGORITHMS", "LN_MOOD_DIVERSITY_STATS", "LN_MOOD_PURITY_STATS", "OTHER_FEATURE_LABELS",
    "ClusteringCancelled", "ClusteringInput", "ClusteringParams", "LogNormalStats", "PlaylistResult",
    "RunProgress", "Scores", "ScoreWeights", "SearchResult", "ai_naming_prompt", "automatic_name",
    "clean_ai_name", "kmeans", "mood_diversity_raw", "mood_purity_raw", "name_playlists", "normalise",
    "run_search", "score_labels", "score_vectors", "select_diverse", "unique_names",
]
