"""The search settings (``ClusteringParams``) and their reference defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from audiomuse.clustering.scoring import LN_MOOD_DIVERSITY_STATS, LN_MOOD_PURITY_STATS, LogNormalStats, ScoreWeights

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
    max_songs_per_artist: int = 0  # 0 = no cap (from_settings maps MAX_SONGS_PER_ARTIST)
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
        """From :class:`audiomuse.config.Settings` (or anything with the same attribute names)."""
        kw: dict[str, Any] = dict(
            runs=settings.clustering_runs,
            algorithm=settings.cluster_algorithm,
            k_min=settings.num_clusters_min,
            k_max=settings.num_clusters_max,
            use_embeddings=settings.enable_clustering_embeddings,
            sampling_change=settings.sampling_percentage_change_per_run,
            max_songs_per_cluster=settings.max_songs_per_cluster,
            min_playlist_size=settings.min_songs_per_playlist,
            top_playlists=settings.top_playlist_number,
            max_songs_per_artist=getattr(settings, "max_songs_per_artist", 0),
            weights=ScoreWeights(
                diversity=settings.score_weight_diversity,
                purity=settings.score_weight_purity,
                silhouette=settings.score_weight_silhouette,
                davies_bouldin=settings.score_weight_davies_bouldin,
                calinski_harabasz=settings.score_weight_calinski_harabasz,
                other_feature_diversity=settings.score_weight_other_feature_diversity,
                other_feature_purity=settings.score_weight_other_feature_purity,
            ),
        )
        kw.update(overrides)
        return cls(**kw)
