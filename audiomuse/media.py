"""What a music library holds, as every provider reports it and the store keeps it.

Plain frozen values with no behaviour, so the store, the providers and the features share them
without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Album:
    id: str
    name: str
    artist: str
    year: int | None = None
    added: datetime | None = None


@dataclass(frozen=True)
class Track:
    id: str
    album_id: str
    title: str
    artist: str
    album: str
    duration: float | None = None  # seconds
    file_format: str | None = None  # lower-case suffix without dot: "mp3", "flac", ...
    track_number: int | None = None


@dataclass(frozen=True)
class PlayedTrack:
    track_id: str
    play_count: int
    last_played: datetime | None = None


@dataclass(frozen=True)
class Playlist:
    id: str
    name: str
