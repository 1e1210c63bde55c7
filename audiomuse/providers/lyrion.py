"""Lyrion Music Server (formerly Logitech Media Server), over its JSON-RPC interface.

``POST /jsonrpc.js`` with ``{"id": 1, "method": "slim.request", "params": ["", [command...]]}``.
Lyrion has no per-user accounts and no documented play-count query, so it offers no listening
history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from audiomuse.providers.base import Album, MediaProvider, PlayedTrack, Playlist, ProviderAuthError, ProviderError, Track
from audiomuse.providers.http import HttpClient

PAGE = 500


class LyrionProvider(MediaProvider):
    kind = "lyrion"

    def __init__(self, url: str, *, timeout: float = 30.0, retries: int = 3, backoff: float = 0.5):
        self.http = HttpClient("Lyrion", url, timeout=timeout, retries=retries, backoff=backoff)

    def __repr__(self) -> str:
        return f"LyrionProvider({self.http.label!r})"

    def request(self, *command: str) -> dict:
        payload = {"id": 1, "method": "slim.request", "params": ["", [str(c) for c in command]]}
        response = self.http.request("POST", "/jsonrpc.js", json=payload)
        if response.status_code in (401, 403):
            raise ProviderAuthError(self.http.label, "refused the request (server password protection?)")
        if response.status_code >= 400:
            raise ProviderError(self.http.label, f"{command[0]} answered HTTP {response.status_code}")
        try:
            return response.json().get("result") or {}
        except ValueError:
            raise ProviderError(self.http.label, f"{command[0]} did not answer JSON") from None

    def newest_albums(self, limit: int = 0) -> list[Album]:
        albums: list[Album] = []
        while True:
            size = PAGE if not limit else min(PAGE, limit - len(albums))
            loop = self.request("albums", len(albums), size, "sort:new", "tags:laytX").get("albums_loop", [])
            albums += [Album(str(a["id"]), a.get("album", ""), a.get("artist", ""), _int(a.get("year")),
                             _epoch(a.get("added_time"))) for a in loop]
            if len(loop) < size or (limit and len(albums) >= limit):
                return albums[:limit] if limit else albums

    def album_tracks(self, album_id: str) -> list[Track]:
        loop = self.request("titles", 0, 1000, f"album_id:{album_id}", "sort:tracknum", "tags:aldtoe").get("titles_loop", [])
        return [
            Track(id=str(t["id"]), album_id=str(t.get("album_id", album_id)), title=t.get("title", ""),
                  artist=t.get("artist", ""), album=t.get("album", ""), duration=_float(t.get("duration")),
                  file_format=(t.get("type") or "").lower() or None, track_number=_int(t.get("tracknum")))
            for t in loop
        ]

    def download(self, track: Track, dest_dir: Path) -> Path:
        target = Path(dest_dir) / f"{track.id}.{track.file_format or 'audio'}"
        with open(target, "wb") as out:
            self.http.stream_to(f"/music/{track.id}/download", out)
        return target

    def list_playlists(self) -> list[Playlist]:
        loop = self.request("playlists", 0, 10000).get("playlists_loop", [])
        return [Playlist(str(p["id"]), p["playlist"]) for p in loop]

    def create_or_replace_playlist(self, name: str, track_ids: Sequence[str]) -> Playlist:
        existing = next((p for p in self.list_playlists() if p.name == name), None)
        if existing is not None:
            self.delete_playlist(existing.id)  # Lyrion has no "replace": recreate under the same name
        created = self.request("playlists", "new", f"name:{name}")
        playlist_id = str(created.get("playlist_id") or created.get("overwritten_playlist_id"))
        for tid in track_ids:
            self.request("playlists", "edit", "cmd:add", f"playlist_id:{playlist_id}", f"url:db:track.id={tid}")
        return Playlist(playlist_id, name)

    def delete_playlist(self, playlist_id: str) -> None:
        self.request("playlists", "delete", f"playlist_id:{playlist_id}")

    def top_played(self, limit: int = 100, user: str | None = None) -> list[PlayedTrack]:
        """Lyrion's JSON-RPC has no documented play-count query (statistics live in plugins), so
        there is no history to read: the fingerprint tool says so instead of guessing."""
        return []

    def close(self) -> None:
        self.http.close()


def _int(v):
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _float(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _epoch(v) -> datetime | None:
    f = _float(v)
    return datetime.fromtimestamp(f, timezone.utc) if f else None
