"""Creating a tool's playlist on the media server, named with the tool's suffix."""

from __future__ import annotations

from collections.abc import Sequence

from audiomuse.media import Playlist
from audiomuse.providers.base import MediaProvider

SUFFIXES = {
    "similar": "_similar",
    "path": "_path",
    "alchemy": "_alchemy",
    "fingerprint": "_fingerprint",
    "instant": "_instant",
    "map": "_map",
    "clustering": "_automatic",
}


def playlist_name(name: str, tool: str) -> str:
    """``name`` with the tool's suffix exactly once: 'Evening' -> 'Evening_path'."""
    suffix = SUFFIXES[tool]
    clean = " ".join((name or "").split()).strip()
    if not clean:
        raise ValueError("give the playlist a name")
    return clean if clean.endswith(suffix) else clean + suffix


def publish(provider: MediaProvider, name: str, tool: str, track_ids: Sequence[str]) -> Playlist:
    if not track_ids:
        raise ValueError("the playlist is empty")
    return provider.create_or_replace_playlist(playlist_name(name, tool), list(track_ids))
