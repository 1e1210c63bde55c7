"""What a music library holds, as every provider reports it and the store keeps it.

Plain frozen values with no behaviour, so the store, the providers and the features share them
without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

#: a JSON scalar, as a media server reports a song field
ServerValue = str | int | float | bool
#: a media server's own song fields as sorted (name, value) pairs: hashable, like the Track holding them
ServerSong = tuple[tuple[str, ServerValue], ...]


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
    #: the server's own song object (a Subsonic ``Child``: its ids, cover, content type, size...),
    #: JSON scalars only; None when the provider has none (every provider but Subsonic)
    server_song: ServerSong | None = None


def server_song(fields: Mapping | None) -> ServerSong | None:
    """``fields`` as a Track's ``server_song``: the JSON scalars (no None, no lists or objects),
    sorted by name, so the same fields read back from the store make an equal Track; None when
    nothing is left."""
    pairs = tuple(sorted((str(k), v) for k, v in (fields or {}).items()
                         if isinstance(v, (str, int, float, bool))))
    return pairs or None


@dataclass(frozen=True)
class PlayedTrack:
    track_id: str
    play_count: int
    last_played: datetime | None = None


@dataclass(frozen=True)
class Playlist:
    id: str
    name: str
