"""The catalog asset: albums and tracks from the media server into PostgreSQL, one partition each."""

import dagster as dg

from audiomuse.catalog import refresh_catalog
from audiomuse.store.catalog import catalog_summary
from audiomuse_pipelines.defs.partitions import albums_partitions
from audiomuse_pipelines.defs.resources import AnalysisResource, DatabaseResource, MediaServerResource


@dg.asset(
    group_name="catalog",
    kinds={"postgres"},
    description="Albums and tracks of the media server (NUM_RECENT_ALBUMS newest, 0 = all); "
    "registers one `albums` partition per album.",
)
def catalog(
    context: dg.AssetExecutionContext,
    database: DatabaseResource,
    media_server: MediaServerResource,
    analysis: AnalysisResource,
) -> dg.MaterializeResult:
    db = database.database()
    limit = analysis.album_limit()
    with media_server.provider() as provider:
        result = refresh_catalog(
            provider, db, limit,
            progress=lambda i, n: context.log.info(f"catalog: album {i}/{n}") if i % 50 == 0 or i == n else None,
        )
    known = set(context.instance.get_dynamic_partitions(albums_partitions.name))
    to_add = [a for a in result.album_ids if a not in known and a not in result.failed_albums]
    if to_add:
        context.instance.add_dynamic_partitions(albums_partitions.name, to_add)
    with db.connection() as conn:
        summary = catalog_summary(conn)
    context.log.info(f"catalog: {summary['albums']} albums, {summary['tracks']} tracks; {len(to_add)} new partitions")
    return dg.MaterializeResult(
        metadata={
            "albums": summary["albums"],
            "tracks": summary["tracks"],
            "hours_of_audio": summary["hours"],
            "new_albums": len(result.new_album_ids),
            "partitions_added": len(to_add),
            "failed_albums": len(result.failed_albums),
            "provider": provider.kind,
        }
    )
