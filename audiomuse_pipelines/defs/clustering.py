"""Clustering playlists: the evolutionary search (materialised from the UI) and its publication."""

import os

import dagster as dg

from audiomuse.config import get_settings
from audiomuse_pipelines.defs.analysis import track_analysis
from audiomuse_pipelines.defs.resources import DatabaseResource, LLMResource, MediaServerResource
from audiomuse_pipelines.defs.similarity import LIBRARY_TAGS
from audiomuse_pipelines.defs.sync import collection_sync


class ClusteringConfig(dg.Config):
    """Run config for the clustering search: each field is the ClusteringParams field of that name;
    unset keeps the setting (audiomuse.clustering.params.SETTINGS_TO_PARAMS), whose default is the spec's."""

    runs: int | None = None
    algorithm: str | None = None
    k_min: int | None = None
    k_max: int | None = None
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
    "automatically or by the configured LLM. A terminated run keeps the previous playlists; playlists "
    "pinned in the explorer are kept by every run.",
)
def clustering_playlists(
    context: dg.AssetExecutionContext, config: ClusteringConfig, database: DatabaseResource, llm: LLMResource
) -> dg.MaterializeResult:
    from audiomuse.clustering.params import ClusteringParams
    from audiomuse.llm import LlmError
    from audiomuse.playlists import clustering as core

    db = database.database()
    params = ClusteringParams.from_settings(get_settings(), **config.model_dump(exclude={"seed", "workers"}))
    tracks = core.load_clustering_tracks(db)
    core.store_score_vectors(db, tracks)
    run_id = context.run.run_id

    def progress(p):
        context.log.info(f"clustering: {p.runs_done}/{p.runs_total} runs, best score {p.best_score:.3f}")

    def should_stop() -> bool:
        run = context.instance.get_run_by_id(run_id)
        return run is not None and run.status in (dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.CANCELED)

    result = core.search_playlists(tracks, params, config.seed, progress=progress, should_stop=should_stop,
                                   workers=config.workers or os.cpu_count() or 1)
    try:
        client = llm.client()
    except LlmError as exc:  # misconfigured LLM: the playlists still get their automatic names
        context.log.warning(f"AI naming off: {exc}")
        client = None
    names = core.name_with_llm(result, tracks, client)
    ai_named = sum(name != p.name for name, p in zip(names, result.playlists, strict=True))
    stored = core.store_generation(db, run_id, result, names)
    current = core.current_playlists(db)
    names = [p["name"] for p in current if p["generation"] == run_id]  # as stored: renamed beside pinned ones
    return dg.MaterializeResult(metadata={
        "playlists": stored, "pinned_kept": sum(p["pinned"] and p["generation"] != run_id for p in current),
        "ai_named": ai_named, "naming_llm": client.provider if client else "none",
        "tracks": len(tracks.track_ids), "runs": result.runs_done,
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
