"""Per-album analysis: MusiCNN embeddings, tags and signal features, one partition per album."""

import dagster as dg
import psycopg

from audiomuse.analysis.album import AlbumReport, analyse_album
from audiomuse.analysis.features_refresh import FeaturesReport, refresh_album_features
from audiomuse.catalog import discover_new_albums
from audiomuse.providers.base import ProviderUnavailable
from audiomuse.store.catalog import album_ids, album_labels, albums_needing_analysis
from audiomuse_pipelines.defs.catalog import catalog
from audiomuse_pipelines.defs.partitions import albums_partitions
from audiomuse_pipelines.defs.resources import AnalysisResource, DatabaseResource, MediaServerResource

ANALYSIS_TAGS = {"audiomuse/kind": "analysis"}
# Partition keys are album ids (the store's, the sensor's run keys and every materialisation so
# far use them), so each run and materialisation also names its album for people: filter runs
# by these tags in the UI to find an album's analysis.
ARTIST_TAG, ALBUM_TAG = "audiomuse/artist", "audiomuse/album"

# A media server or database that is down is retried (after 30 s, 60 s, 120 s, +-jitter); anything
# else that escapes analyse_album (a bad track never does: it is recorded) fails without retries.
TRANSIENT_ERRORS = (ProviderUnavailable, ConnectionError, psycopg.OperationalError)
ANALYSIS_RETRY_POLICY = dg.RetryPolicy(
    max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


class AnalysisConfig(dg.Config):
    force: bool = False
    """Re-analyse tracks that already have results (with features_only: refresh every analysed
    track's features, whatever their version)."""
    features_only: bool = False
    """Only recompute tempo, key, energy and the other signal features (decode + features, no
    model) of the album's analysed tracks whose features version is older than the current one;
    embeddings and tags stay. Run it over all partitions after an upgrade that bumps the version."""


def album_tags(artist: str, name: str) -> dict[str, str]:
    """Run tags naming an album."""
    return {ARTIST_TAG: artist, ALBUM_TAG: name}


@dg.asset(
    partitions_def=albums_partitions,
    deps=[catalog],
    group_name="analysis",
    kinds={"onnx", "postgres"},
    op_tags=ANALYSIS_TAGS,
    pool="analysis",  # dagster.yaml: 2 at once, UI backfills (untagged runs) included
    retry_policy=ANALYSIS_RETRY_POLICY,
    description="MusiCNN embedding, 50 mood/genre tags, tempo, key, energy and derived features "
    "for every track of one album. A bad track is recorded, never fails the album.",
)
def track_analysis(
    context: dg.AssetExecutionContext,
    config: AnalysisConfig,
    database: DatabaseResource,
    media_server: MediaServerResource,
    analysis: AnalysisResource,
) -> dg.MaterializeResult:
    db = database.database()
    album = context.partition_key
    with db.connection() as conn:
        artist, name = album_labels(conn, [album]).get(album, ("", ""))
    context.log.info(f"album {album}: {artist} - {name}")
    try:
        with media_server.provider() as provider:
            if config.features_only:  # the model is never loaded on this path
                report = refresh_album_features(album, provider, db, force=config.force,
                                                threads=analysis.settings().analysis_threads,
                                                progress=context.log.info)
            else:
                report = analyse_album(album, provider, db, analysis.analyser(), force=config.force,
                                       progress=context.log.info)
    except TRANSIENT_ERRORS:
        raise  # retried by ANALYSIS_RETRY_POLICY; the tracks already saved are skipped next time
    except Exception as exc:  # wrong credentials, a bug: retrying cannot help
        raise dg.Failure(description=f"{type(exc).__name__}: {exc}", allow_retries=False) from exc
    if report.failed:
        context.log.warning(f"{len(report.failed)} track(s) failed: {report.failed}")
    return dg.MaterializeResult(metadata={"artist": artist, "album": name, **report_metadata(report)})


def report_metadata(report: AlbumReport | FeaturesReport) -> dict:
    """A materialisation's metadata: an analysis's counts and speed, or a features refresh's."""
    common = {
        "tracks_failed": len(report.failed),
        "failed_tracks": dg.MetadataValue.json(report.failed),
        "audio_seconds": round(report.audio_seconds, 1),
        "cpu_seconds": round(report.cpu_seconds, 2),
    }
    if isinstance(report, FeaturesReport):
        return {
            "features_only": True,
            "features_version": report.version,
            "features_updated": report.updated,
            "features_current": report.skipped,
            "tracks_unanalysed": report.unanalysed,
            **common,
        }
    return {
        "tracks_analysed": report.analysed,
        "tracks_skipped": report.skipped,
        "duplicates_marked": report.duplicates,
        **common,
        "audio_s_per_cpu_s": round(report.audio_s_per_cpu_s, 1),
        "audio_s_per_wall_s": round(report.audio_s_per_wall_s, 1),
    }


analyse_album_job = dg.define_asset_job(
    "analyse_album",
    selection=[track_analysis],
    tags=ANALYSIS_TAGS,
    description="Analyse one album (the sensor starts one per new album).",
)


@dg.sensor(
    job=analyse_album_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Finds albums added to the library and requests one analysis run per album "
    "(run key = album id, so an album is requested once; tags name the album).",
)
def new_albums_sensor(
    context: dg.SensorEvaluationContext,
    database: DatabaseResource,
    media_server: MediaServerResource,
    analysis: AnalysisResource,
) -> dg.SensorResult:
    db = database.database()
    limit = analysis.album_limit()
    with media_server.provider() as provider:
        discovered = discover_new_albums(provider, db, poll_limit=limit or 200)
    with db.connection() as conn:
        catalogued = album_ids(conn)
        todo = albums_needing_analysis(conn, limit)
        labels = album_labels(conn, todo)
    known = set(context.instance.get_dynamic_partitions(albums_partitions.name))
    missing = [a for a in catalogued if a not in known]
    if discovered:
        context.log.info(f"{len(discovered)} new album(s) in the library")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=album, partition_key=album,
                                    tags={**ANALYSIS_TAGS, **album_tags(*labels.get(album, ("", "")))})
                      for album in todo],
        dynamic_partitions_requests=[albums_partitions.build_add_request(missing)] if missing else [],
    )
