"""Library-wide assets rebuilt whenever analysis partitions change (or a collection sync pulled
analyses in): index and map."""

import dagster as dg

from audiomuse.library import build_music_map, build_similarity_index
from audiomuse_pipelines.defs.analysis import track_analysis
from audiomuse_pipelines.defs.resources import DatabaseResource, LLMResource, MediaServerResource
from audiomuse_pipelines.defs.sync import collection_sync

# Like eager(), but a library with some albums not (yet) analysed still gets an index: missing
# partitions must not block it. Waiting while analysis runs are in progress debounces a backfill.
ON_ANALYSIS_CHANGE = dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())
LIBRARY_TAGS = {"audiomuse/kind": "library"}


@dg.asset(
    deps=[track_analysis, collection_sync],
    group_name="library",
    kinds={"voyager", "postgres"},
    op_tags=LIBRARY_TAGS,
    automation_condition=ON_ANALYSIS_CHANGE,
    description="Voyager (HNSW, cosine) index over every embedding, stored in PostgreSQL.",
)
def similarity_index(context: dg.AssetExecutionContext, database: DatabaseResource) -> dg.MaterializeResult:
    return _reported(context, "index", build_similarity_index(database.database()))


@dg.asset(
    deps=[track_analysis, collection_sync],
    group_name="library",
    kinds={"umap", "postgres"},
    op_tags=LIBRARY_TAGS,
    automation_condition=ON_ANALYSIS_CHANGE,
    description="2-D projection of every embedding (UMAP; PCA for tiny libraries) for the map and alchemy.",
)
def music_map(context: dg.AssetExecutionContext, database: DatabaseResource) -> dg.MaterializeResult:
    return _reported(context, "map", build_music_map(database.database()))


def _reported(context: dg.AssetExecutionContext, what: str, report) -> dg.MaterializeResult:
    context.log.info(f"{what} of {report.tracks} tracks built in {report.seconds:.1f} s ({report.detail})")
    return dg.MaterializeResult(
        metadata={"tracks": report.tracks, "build_seconds": round(report.seconds, 2), "sha256": report.sha256,
                  **report.detail}
    )


library_automation = dg.AutomationConditionSensorDefinition(
    "library_automation",
    target=dg.AssetSelection.assets(similarity_index, music_map),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    run_tags=LIBRARY_TAGS,
    description="Rebuilds the index and map after analysis runs finish.",
)


class ClusteringConfig(dg.Config):
    """Run config for the clustering search; unset values come from the settings (spec defaults)."""

    runs: int | None = None
    algorithm: str | None = None
    num_clusters_min: int | None = None
    num_clusters_max: int | None = None
    use_embeddings: bool | None = None
    min_playlist_size: int | None = None
    top_playlists: int | None = None
    max_songs_per_cluster: int | None = None
    seed: int = 42
    workers: int = 0
    """Processes for the search; 0 = one per core."""


@dg.asset(
    deps=[track_analysis, collection_sync],
    group_name="library",
    kinds={"scikitlearn", "postgres"},
    op_tags=LIBRARY_TAGS,
    description="Evolutionary clustering into playlists scored for mood purity and diversity, named "
    "automatically or by the configured LLM. A terminated run keeps the previous playlists.",
)
def clustering_playlists(
    context: dg.AssetExecutionContext, config: ClusteringConfig, database: DatabaseResource, llm: LLMResource
) -> dg.MaterializeResult:
    import os

    from audiomuse.clustering.params import ClusteringParams
    from audiomuse.llm import LlmError
    from audiomuse.playlists import clustering as core

    settings = database.settings()
    db = database.database()
    overrides = {k: v for k, v in {
        "runs": config.runs, "algorithm": config.algorithm, "k_min": config.num_clusters_min,
        "k_max": config.num_clusters_max, "use_embeddings": config.use_embeddings,
        "min_playlist_size": config.min_playlist_size, "top_playlists": config.top_playlists,
        "max_songs_per_cluster": config.max_songs_per_cluster,
    }.items() if v is not None}
    params = ClusteringParams.from_settings(settings, **overrides)
    lib = core.load_library(db)
    core.store_score_vectors(db, lib)
    run_id = context.run.run_id

    def progress(p):
        context.log.info(f"clustering: {p.runs_done}/{p.runs_total} runs, best score {p.best_score:.3f}")

    def should_stop() -> bool:
        run = context.instance.get_run_by_id(run_id)
        return run is not None and run.status in (dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.CANCELED)

    result = core.search_playlists(lib, params, config.seed, progress=progress, should_stop=should_stop,
                                   workers=config.workers or os.cpu_count() or 1)
    try:
        client = llm.client()
    except LlmError as exc:  # misconfigured LLM: the playlists still get their automatic names
        context.log.warning(f"AI naming off: {exc}")
        client = None
    names = core.name_with_llm(result, lib, client)
    ai_named = sum(name != p.name for name, p in zip(names, result.playlists, strict=True))
    stored = core.store_generation(db, run_id, result, names)
    return dg.MaterializeResult(metadata={
        "playlists": stored, "ai_named": ai_named, "naming_llm": client.provider if client else "none",
        "tracks": len(lib.track_ids), "runs": result.runs_done,
        "best_score": round(result.best_score, 4), "seconds": round(result.elapsed_s, 1),
        "best_params": dg.MetadataValue.json(result.best_params), "names": dg.MetadataValue.json(names),
    })


@dg.asset(
    deps=[clustering_playlists],
    group_name="library",
    kinds={"postgres"},
    op_tags=LIBRARY_TAGS,
    description="The clustering playlists on the configured media server: new `_automatic` playlists are "
    "created or replaced before stale ones are deleted, so a failure never leaves none.",
)
def published_playlists(
    context: dg.AssetExecutionContext, database: DatabaseResource, media_server: MediaServerResource
) -> dg.MaterializeResult:
    from audiomuse.playlists.clustering import publish_generation

    with media_server.provider() as provider:
        report = publish_generation(database.database(), provider)
    context.log.info(f"published {report['published']} playlists, removed {len(report['deleted'])} stale ones")
    return dg.MaterializeResult(metadata={"published": report["published"], "deleted": len(report["deleted"]),
                                          "provider": provider.kind})
