"""Analyse one album: download each track, decode, MusiCNN + signal features, upsert.

One album is one Dagster partition. A track that fails (undecodable, truncated, not audio) is
recorded with its error and the album goes on; a media server that is down fails the album
after the tracks already done are saved, so a re-run finishes it without duplicates.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING


from audiomuse.providers.base import MediaProvider, ProviderAuthError, ProviderUnavailable
from audiomuse.store import Database
from audiomuse.store import analysis as analysis_store
from audiomuse.store import catalog as catalog_store

if TYPE_CHECKING:  # the model stack loads only in processes that analyse
    from audiomuse.analysis.track import TrackAnalyser

log = logging.getLogger(__name__)


@dataclass
class AlbumReport:
    album_id: str
    analysed: int = 0
    skipped: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # track title -> error
    duplicates: int = 0
    audio_seconds: float = 0.0
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0

    @property
    def audio_s_per_cpu_s(self) -> float:
        return self.audio_seconds / self.cpu_seconds if self.cpu_seconds else 0.0

    @property
    def audio_s_per_wall_s(self) -> float:
        return self.audio_seconds / self.wall_seconds if self.wall_seconds else 0.0


def record_failed_track(db: Database, failed: dict[str, str], track, exc: BaseException,
                        progress: Callable[[str], None], position: str) -> None:
    """A track that could not be analysed: its error kept (report and store), the album goes on."""
    message = f"{type(exc).__name__}: {exc}"
    failed[track.title] = message
    with db.connection() as conn:
        analysis_store.record_track_error(conn, track.id, message)
    progress(f"{position} {track.title}: FAILED ({message})")


def analyse_album(
    album_id: str,
    provider: MediaProvider,
    db: Database,
    analyser: TrackAnalyser,
    *,
    force: bool = False,
    progress: Callable[[str], None] = log.info,
) -> AlbumReport:
    report = AlbumReport(album_id)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    with db.connection() as conn:
        tracks = catalog_store.album_tracks(conn, album_id)
        done = set() if force else analysis_store.analysed_track_ids(conn, [t.id for t in tracks])
    todo = [t for t in tracks if t.id not in done]
    report.skipped = len(tracks) - len(todo)
    try:
        for i, track in enumerate(todo, 1):
            try:
                with provider.downloaded(track) as path:
                    result = analyser.analyse(path)
            except (ProviderUnavailable, ProviderAuthError):
                raise  # the server is down or refuses us: not the track's fault; fail the album, keep what is saved
            except Exception as exc:  # noqa: BLE001 - one bad track never fails its album
                record_failed_track(db, report.failed, track, exc, progress, f"[{i}/{len(todo)}]")
                continue
            with db.connection() as conn:
                analysis_store.save_track_analysis(conn, track.id, **result.as_row())
            report.analysed += 1
            report.audio_seconds += result.audio_seconds
            progress(f"[{i}/{len(todo)}] {track.title}: {result.audio_seconds:.0f} s of audio")
    finally:
        report.wall_seconds = time.perf_counter() - wall0
        report.cpu_seconds = time.process_time() - cpu0
    if report.analysed:
        with db.connection() as conn:
            report.duplicates = analysis_store.mark_duplicates(conn, [t.id for t in tracks])
    return report
