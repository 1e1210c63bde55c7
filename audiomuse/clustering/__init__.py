"""Evolutionary clustering into mood playlists: pure core (numpy / scikit-learn, no database).

``run_search(inp, params, seed, progress, should_stop, workers)`` (:mod:`.search`) is the entry
point. Its parts: the data in and out (:mod:`.data`), the settings (:mod:`.params`), the problem
shipped to workers (:mod:`.problem`), stratified sampling (:mod:`.sampling`), the parameters of a
run (:mod:`.run_params`), one run (:mod:`.run`), the playlists of the best run
(:mod:`.postprocess`), its fitness (:mod:`.scoring`) and the playlist names (:mod:`.naming`).
"""

from audiomuse.clustering.data import (
    OTHER_FEATURE_LABELS,
    ClusteringCancelled,
    ClusteringInput,
    PlaylistResult,
    RunProgress,
    SearchResult,
    score_vectors,
)
from audiomuse.clustering.naming import (
    ai_naming_prompt,
    automatic_name,
    clean_ai_name,
    name_playlists,
    unique_names,
)
from audiomuse.clustering.params import ALGORITHMS, ClusteringParams
from audiomuse.clustering.postprocess import select_diverse
from audiomuse.clustering.run import kmeans
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
from audiomuse.clustering.search import run_search

__all__ = [
    "ALGORITHMS", "LN_MOOD_DIVERSITY_STATS", "LN_MOOD_PURITY_STATS", "OTHER_FEATURE_LABELS",
    "ClusteringCancelled", "ClusteringInput", "ClusteringParams", "LogNormalStats", "PlaylistResult",
    "RunProgress", "Scores", "ScoreWeights", "SearchResult", "ai_naming_prompt", "automatic_name",
    "clean_ai_name", "kmeans", "mood_diversity_raw", "mood_purity_raw", "name_playlists", "normalise",
    "run_search", "score_labels", "score_vectors", "select_diverse", "unique_names",
]
