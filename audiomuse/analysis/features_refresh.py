"""Recompute one album's signal features after the estimators changed (``FEATURES_VERSION``).

For each track whose stored features are of an older version (or of none: rows from before
versions, or pulled by collection sync), download and decode it and run ``signal_features`` only:
tempo, key, scale, energy, the descriptors and the derived moods (from the stored MusiCNN tags) are
replaced and the version set; the embedding, its model and the tags stay. The model is never
loaded (no ``TrackAnalyser``, no onnxruntime session), so this costs a decode and ~0.05 CPU-s per
audio minute per track.

Like ``analyse_album``: a bad track is recorded (and keeps its old features and version, so the
next refresh tries it again) and never fails the album; a media server that is down fails the
album after the tracks already done are saved.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from audiomuse.analysis.album import record_failed_track
from audiomuse.analysis import features as feat
from audiomuse.analysis.track import SAMPLE_RATE, blas_threads, feature_window, score_columns
from audiomuse.providers.base import MediaProvider, ProviderAuthError, ProviderUnavailable
from audiomuse.store import Database
from audiomuse.store import analysis as analysis_store
from audiomuse.store import catalog as catalog_store

log = logging.getLogger(__name__)


@dataclass
class FeaturesReport:
    album_id: str
    version: int = feat.FEATURES_VERSION
    updated: int = 0
    skipped: int = 0  # analysed tracks whose features are already of ``version``
    unanalysed: int = 0  # never analysed (or only failed): a normal analysis run is their business
    failed: dict[str, str] = field(default_factory=dict)  # track title -> error
    audio_seconds: float = 0.0
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0


def refresh_album_features(
    album_id: str,
    provider: MediaProvider,
    db: Database,
    *,
    force: bool = False,
    threads: int = 1,
    progress: Callable[[str], None] = log.info,
) -> FeaturesReport:
    """Recompute the signal features of ``album_id``'s analysed tracks older than
    ``FEATURES_VERSION`` (all its analysed tracks if ``force``)."""
    report = FeaturesReport(album_id)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    with db.connection() as conn:
        tracks = catalog_store.album_tracks(conn, album_id)
        analysed = analysis_store.analysed_track_ids(conn, [t.id for t in tracks])
        stale = analysis_store.stale_features(conn, [t.id for t in tracks], report.version, force=force)
    todo = [t for t in tracks if t.id in stale]
    report.unanalysed = len(tracks) - len(analysed)
    report.skipped = len(analysed) - len(todo)
    try:
        for i, track in enumerate(todo, 1):
            try:
                with provider.downloaded(track) as path, blas_threads(threads):
                    y, seconds = feature_window(path)  # the part a full analysis reads
                    columns = score_columns(feat.signal_features(y, SAMPLE_RATE), stale[track.id])
            except (ProviderUnavailable, ProviderAuthError):
                raise  # not the track's fault: fail the album, keep what is saved
            except Exception as exc:  # noqa: BLE001 - one bad track never fails its album
                record_failed_track(db, report.failed, track, exc, progress, f"[{i}/{len(todo)}]")
                continue
            with db.connection() as conn:
                analysis_store.save_track_features(conn, track.id, **columns, features_version=report.version)
            report.updated += 1
            report.audio_seconds += seconds
            progress(f"[{i}/{len(todo)}] {track.title}: {columns['tempo']:.1f} BPM, "
                     f"{columns['key']} {columns['scale']}")
    finally:
        report.wall_seconds = time.perf_counter() - wall0
        report.cpu_seconds = time.process_time() - cpu0
    return report
