"""Listening history from an Audioscrobbler log (``.scrobbler.log``), for libraries without a server.

The format (Audioscrobbler 1.1, written by Rockbox, many portable players and scrobbler tools):
header lines starting with ``#`` (``#AUDIOSCROBBLER/1.1``, ``#TZ/UTC``, ``#CLIENT/...``), then one
tab-separated line per play: artist, album, title, track number, duration (s), rating (L = listened,
S = skipped), unix timestamp, optional MusicBrainz track id. Skipped plays are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from audiomuse.media import PlayedTrack
from audiomuse.text import song_key


@dataclass(frozen=True)
class Scrobble:
    artist: str
    album: str
    title: str
    played_at: datetime


def parse_scrobbler_log(text: str) -> list[Scrobble]:
    plays = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 7 or fields[5].strip().upper() == "S":
            continue
        try:
            ts = datetime.fromtimestamp(int(fields[6]), tz=timezone.utc)
        except (ValueError, OverflowError, OSError):
            continue  # a malformed line must not hide the rest of the history
        plays.append(Scrobble(fields[0], fields[1], fields[2], ts))
    return plays


def read_scrobbler_log(path: Path) -> list[Scrobble]:
    return parse_scrobbler_log(Path(path).read_text(encoding="utf-8", errors="replace"))


def plays_to_tracks(plays: Iterable[Scrobble], tracks: Iterable[tuple[str, str, str]], limit: int = 100) -> list[PlayedTrack]:
    """Match plays to ``(track id, artist, title)`` by song key; most played first."""
    by_key: dict[str, str] = {}
    for tid, artist, title in tracks:
        by_key.setdefault(song_key(artist, title), tid)
    counts: dict[str, int] = {}
    last: dict[str, datetime] = {}
    for play in plays:
        tid = by_key.get(song_key(play.artist, play.title))
        if tid is None:
            continue
        counts[tid] = counts.get(tid, 0) + 1
        last[tid] = max(last.get(tid, play.played_at), play.played_at)
    ranked = sorted(counts, key=lambda t: (-counts[t], -last[t].timestamp()))
    return [PlayedTrack(t, counts[t], last[t]) for t in ranked[:limit]]
