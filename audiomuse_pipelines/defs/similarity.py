"""The similarity index and the music map: rebuilt whenever analysis partitions change (or a
collection sync pulled analyses in)."""

import dagster as dg

from audiomuse.artifact_builds import build_music_map, build_similarity_index
from audiomuse_pipelines.defs.analysis import track_analysis
from audiomuse_pipelines.defs.resources import DatabaseResource, IndexResource
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
    description="Voyager (HNSW, cosine) index over every embedding, through the similarity transform "
    "fitted on them, stored in PostgreSQL.",
)
def similarity_index(context: dg.AssetExecutionContext, database: DatabaseResource,
                     index: IndexResource) -> dg.MaterializeResult:
    return _reported(context, "index", build_similarity_index(database.database(), transform=index.transform))


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
