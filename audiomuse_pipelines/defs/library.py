"""Library-wide assets rebuilt whenever analysis partitions change: index and map."""

import dagster as dg

from audiomuse.library import build_music_map, build_similarity_index
from audiomuse_pipelines.defs.analysis import track_analysis
from audiomuse_pipelines.defs.resources import DatabaseResource

# Like eager(), but a library with some albums not (yet) analysed still gets an index: missing
# partitions must not block it. Waiting while analysis runs are in progress debounces a backfill.
ON_ANALYSIS_CHANGE = dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())
LIBRARY_TAGS = {"audiomuse/kind": "library"}


@dg.asset(
    deps=[track_analysis],
    group_name="library",
    kinds={"voyager", "postgres"},
    op_tags=LIBRARY_TAGS,
    automation_condition=ON_ANALYSIS_CHANGE,
    description="Voyager (HNSW, cosine) index over every embedding, stored in PostgreSQL.",
)
def similarity_index(context: dg.AssetExecutionContext, database: DatabaseResource) -> dg.MaterializeResult:
    report = build_similarity_index(database.database())
    context.log.info(f"index over {report.tracks} tracks built in {report.seconds:.1f} s")
    return dg.MaterializeResult(
        metadata={"tracks": report.tracks, "build_seconds": round(report.seconds, 2), "sha256": report.sha256,
                  **report.detail}
    )


@dg.asset(
    deps=[track_analysis],
    group_name="library",
    kinds={"umap", "postgres"},
    op_tags=LIBRARY_TAGS,
    automation_condition=ON_ANALYSIS_CHANGE,
    description="2-D projection of every embedding (UMAP; PCA for tiny libraries) for the map and alchemy.",
)
def music_map(context: dg.AssetExecutionContext, database: DatabaseResource) -> dg.MaterializeResult:
    report = build_music_map(database.database())
    context.log.info(f"map of {report.tracks} tracks by {report.detail['method']} in {report.seconds:.1f} s")
    return dg.MaterializeResult(
        metadata={"tracks": report.tracks, "build_seconds": round(report.seconds, 2), "sha256": report.sha256,
                  **report.detail}
    )


library_automation = dg.AutomationConditionSensorDefinition(
    "library_automation",
    target=dg.AssetSelection.groups("library"),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    run_tags=LIBRARY_TAGS,
    description="Rebuilds the index and map after analysis runs finish.",
)
