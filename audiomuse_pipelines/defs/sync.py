"""Collection sync as an asset: share analysis rows with the remote database (opt-in only)."""

import dagster as dg

from audiomuse.sync import SyncError, remote_url, sync_collection
from audiomuse_pipelines.defs.catalog import catalog
from audiomuse_pipelines.defs.resources import AnalysisResource, DatabaseResource, SyncRemoteResource


class CollectionSyncConfig(dg.Config):
    albums: int = 0
    """Newest N albums, 0 = all."""
    direction: str = "both"
    """push (share what is analysed here), pull (fetch what is missing here) or both."""


@dg.asset(
    deps=[catalog],
    group_name="sync",
    kinds={"postgres"},
    description="Opt-in collection sync with SYNC_DATABASE_URL: pushes analysis rows (content key, scores, "
    "embedding; never paths or ids) and pulls rows for tracks not analysed here. Refuses until the "
    "sync policy is accepted (SYNC_ACCEPT_POLICY or the app's Collection sync page).",
)
def collection_sync(
    context: dg.AssetExecutionContext,
    config: CollectionSyncConfig,
    database: DatabaseResource,
    sync_remote: SyncRemoteResource,
    analysis: AnalysisResource,
) -> dg.MaterializeResult:
    analysed = analysis.settings()  # the model identity shared: patch hop and precision
    settings = sync_remote.settings(patch_hop=analysed.patch_hop, precision=analysed.analysis_precision)
    try:
        report = sync_collection(database.database(), remote_url(settings), settings, albums=config.albums,
                                 direction=config.direction, progress=context.log.info)
    except (SyncError, ValueError) as exc:
        raise dg.Failure(description=str(exc)) from None  # messages carry no secret
    return dg.MaterializeResult(metadata={
        **report.summary(),
        "direction": report.direction,
        "remote": report.remote,  # password masked
        "model_id": report.model_id,
        "per_album": dg.MetadataValue.json(
            [{k: a[k] for k in ("name", "artist", "pushed", "pulled", "skipped", "incompatible")}
             for a in report.rows()]),
    })
