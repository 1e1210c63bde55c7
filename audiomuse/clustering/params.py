"""The search settings (``ClusteringParams``), their reference defaults, and the ``Settings`` fields
(environment variables) that set them: each default is written here once, and config takes it."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from audiomuse.clustering.fitness import LN_MOOD_DIVERSITY_STATS, LN_MOOD_PURITY_STATS, LogNormalStats, ScoreWeights
from audiomuse.playlists.artist_cap import MAX_SONGS_PER_ARTIST

ALGORITHMS = ("kmeans", "gmm", "dbscan", "spectral")
GMM_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


@dataclass(frozen=True)
class ClusteringParams:
    """Search settings; defaults are the reference's."""

    runs: int = 5000
    algorithm: str = "kmeans"
    k_min: int = 40
    k_max: int = 100
    use_embeddings: bool = True
    elites: int = 10
    exploitation_start: float = 0.2
    exploitation_probability: float = 0.7
    sampling_change: float = 0.2
    top_k_moods: int = 3
    weights: ScoreWeights = field(default_factory=ScoreWeights)
    max_songs_per_cluster: int = 0  # 0 = no limit
    min_playlist_size: int = 20
    top_playlists: int = 10
    sample_size: int = 1500  # songs per run: min(n, sample_size)
    max_songs_per_artist: int = MAX_SONGS_PER_ARTIST  # per playlist (audiomuse.playlists.artist_cap); 0 = no cap
    batch_size: int = 100  # runs between elite updates / progress / cancellation checks
    # mutation
    mutation_k_delta: int = 3
    mutation_eps_factor: float = 0.15  # eps *= uniform(1 - f, 1 + f)
    # algorithm details
    kmeans_max_iter: int = 20
    kmeans_tol: float = 0.002  # stop when at most this fraction of labels changed
    gmm_covariance_types: tuple[str, ...] = GMM_COVARIANCE_TYPES
    gmm_max_iter: int = 100
    dbscan_eps_range: tuple[float, float] = (0.6, 1.4)  # x median distance to the 10th neighbour
    dbscan_min_samples_range: tuple[int, int] = (5, 20)
    spectral_n_neighbors: int = 20
    purity_stats: LogNormalStats = LN_MOOD_PURITY_STATS
    diversity_stats: LogNormalStats = LN_MOOD_DIVERSITY_STATS

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, not {self.algorithm!r}")
        if self.runs < 1 or self.batch_size < 1:
            raise ValueError("runs and batch_size must be >= 1")
        if not 2 <= self.k_min <= self.k_max:
            raise ValueError("need 2 <= k_min <= k_max")
        if not 0.0 <= self.sampling_change <= 1.0:
            raise ValueError("sampling_change must be within 0..1")
        if not (0.0 <= self.exploitation_start <= 1.0 and 0.0 <= self.exploitation_probability <= 1.0):
            raise ValueError("exploitation_start and exploitation_probability must be within 0..1")
        if self.sample_size < 4 or self.top_k_moods < 1 or self.min_playlist_size < 1 or self.top_playlists < 1:
            raise ValueError("sample_size >= 4, top_k_moods, min_playlist_size and top_playlists >= 1")
        if set(self.gmm_covariance_types) - set(GMM_COVARIANCE_TYPES) or not self.gmm_covariance_types:
            raise ValueError(f"gmm_covariance_types must be a non-empty subset of {GMM_COVARIANCE_TYPES}")
        lo, hi = self.dbscan_eps_range
        if not 0 < lo <= hi:
            raise ValueError("dbscan_eps_range must be 0 < lo <= hi")
        lo, hi = self.dbscan_min_samples_range
        if not 1 <= lo <= hi:
            raise ValueError("dbscan_min_samples_range must be 1 <= lo <= hi")

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> ClusteringParams:
        """From :class:`audiomuse.config.Settings` (or anything with the same attribute names), mapped
        by :data:`SETTINGS_TO_PARAMS`; an override that is ``None`` keeps the setting (so an optional
        run config can be passed as it is)."""
        kw: dict[str, Any] = {}
        weights: dict[str, Any] = {}
        for setting, param in SETTINGS_TO_PARAMS.items():
            target, name = (weights, param.removeprefix(_WEIGHTS)) if param.startswith(_WEIGHTS) else (kw, param)
            target[name] = getattr(settings, setting)
        kw["weights"] = ScoreWeights(**weights)
        kw.update({name: value for name, value in overrides.items() if value is not None})
        return cls(**kw)


_WEIGHTS = "weights."
# The settings that tune the search, each with the parameter it sets ("weights.x": ScoreWeights.x).
# A setting's environment variable is its upper-case name (documented in README.md, user-facing);
# its default is the parameter's: see setting_default.
SETTINGS_TO_PARAMS: dict[str, str] = {
    "cluster_algorithm": "algorithm",
    "clustering_runs": "runs",
    "num_clusters_min": "k_min",
    "num_clusters_max": "k_max",
    "enable_clustering_embeddings": "use_embeddings",
    "max_songs_per_cluster": "max_songs_per_cluster",
    "min_songs_per_playlist": "min_playlist_size",
    "top_playlist_number": "top_playlists",
    "sampling_percentage_change_per_run": "sampling_change",
    "max_songs_per_artist": "max_songs_per_artist",
    **{f"score_weight_{f.name}": _WEIGHTS + f.name for f in fields(ScoreWeights)},
}


def setting_default(setting: str) -> Any:
    """The default of a clustering setting: that of the parameter it maps to, so it is written once."""
    value: Any = ClusteringParams()
    for part in SETTINGS_TO_PARAMS[setting].split("."):
        value = getattr(value, part)
    return value
