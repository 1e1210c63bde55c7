"""Jellyfin (and Emby, which shares this API shape): catalog, downloads, playlists, play counts.

Auth is the ``Authorization: MediaBrowser Token="..."`` header; the user is given by name (resolved
through ``/Users``) or id.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from audiomuse.providers.base import (
    Album, MediaProvider, PlayedTrack, Playlist, ProviderAuthError, ProviderError, Track,
)
from audiomuse.providers.http import HttpClient

TICKS_PER_SECOND = 10_000_000
PAGE = 500


class JellyfinProvider(MediaProvider):
    kind = "jellyfin"

    def __init__(self, url: str, user: str, token: str, *, timeout: float = 30.0, retries: int = 3,
                 backoff: float = 0.5):
        auth = f'MediaBrowser Client="AudioMuse", Device="audiomuse", DeviceId="audiomuse", Version="0.1", Token="{token}"'
        self.http = HttpClient("Jellyfin", url, timeout=timeout, retries=retries, backoff=backoff,
                               headers={"Authorization": auth})
        self.user = user
        self._user_id: str | None = None

    def __repr__(self) -> str:
        return f"JellyfinProvider({self.http.label!r}, user={self.user!r})"

    def _get(self, path: str, **params) -> dict | list:
        return self._json("GET", path, params=params)

    def _json(self, method: str, path: str, **kwargs):
        response = self.http.request(method, path, **kwargs)
        if response.status_code in (401, 403):
            raise ProviderAuthError(self.http.label, "rejected the API token")
        if response.status_code == 404:
            raise ProviderError(self.http.label, f"{path}: not found")
        if response.status_code >= 400:
            raise ProviderError(self.http.label, f"{method} {path} answered HTTP {response.status_code}")
        return response.json() if response.content else {}

    @property
    def user_id(self) -> str:
        if self._user_id is None:
            users = self._get("/Users")
            match = next((u for u in users if self.user in (u.get("Name"), u.get("Id"))), None)
            if match is None:
                raise ProviderError(self.http.label, f"no user '{self.user}'")
            self._user_id = match["Id"]
        return self._user_id

    def newest_albums(self, limit: int = 0) -> list[Album]:
        albums: list[Album] = []
        start = 0
        while True:
            size = PAGE if not limit else min(PAGE, limit - len(albums))
            page = self._get(f"/Users/{self.user_id}/Items", IncludeItemTypes="MusicAlbum", Recursive="true",
                             SortBy="DateCreated", SortOrder="Descending", StartIndex=start, Limit=size,
                             Fields="DateCreated,ProductionYear")["Items"]
            albums += [Album(a["Id"], a.get("Name", ""), a.get("AlbumArtist", ""), a.get("ProductionYear"),
                             _date(a.get("DateCreated"))) for a in page]
            start += len(page)
            if len(page) < size or (limit and len(albums) >= limit):
                return albums[:limit] if limit else albums

    def album_tracks(self, album_id: str) -> list[Track]:
        items = self._get(f"/Users/{self.user_id}/Items", ParentId=album_id, IncludeItemTypes="Audio",
                          Recursive="true", SortBy="IndexNumber", Fields="Path,MediaSources")["Items"]
        return [self._track(i, album_id) for i in items]

    @staticmethod
    def _track(i: dict, album_id: str) -> Track:
        ticks = i.get("RunTimeTicks")
        container = (i.get("Container") or "").split(",")[0].lower() or None
        return Track(
            id=i["Id"], album_id=i.get("AlbumId", album_id), title=i.get("Name", ""),
            artist=(i.get("Artists") or [i.get("AlbumArtist", "")])[0], album=i.get("Album", ""),
            duration=ticks / TICKS_PER_SECOND if ticks else None, file_format=container,
            track_number=i.get("IndexNumber"),
        )

    def download(self, track: Track, dest_dir: Path) -> Path:
        target = Path(dest_dir) / f"{re.sub(r'[^A-Za-z0-9_-]', '_', track.id)}.{track.file_format or 'audio'}"
        with open(target, "wb") as out:
            self.http.stream_to(f"/Items/{track.id}/Download", out)
        return target

    def list_playlists(self) -> list[Playlist]:
        items = self._get(f"/Users/{self.user_id}/Items", IncludeItemTypes="Playlist", Recursive="true")["Items"]
        return [Playlist(p["Id"], p["Name"]) for p in items]

    def create_or_replace_playlist(self, name: str, track_ids: Sequence[str]) -> Playlist:
        existing = next((p for p in self.list_playlists() if p.name == name), None)
        if existing is None:
            created = self._json("POST", "/Playlists", json={"Name": name, "Ids": list(track_ids),
                                                             "UserId": self.user_id, "MediaType": "Audio"})
            return Playlist(created["Id"], name)
        entries = self._get(f"/Playlists/{existing.id}/Items", UserId=self.user_id)["Items"]
        if entries:
            self._json("DELETE", f"/Playlists/{existing.id}/Items",
                       params={"EntryIds": ",".join(e["PlaylistItemId"] for e in entries)})
        if track_ids:
            self._json("POST", f"/Playlists/{existing.id}/Items",
                       params={"Ids": ",".join(track_ids), "UserId": self.user_id})
        return existing

    def delete_playlist(self, playlist_id: str) -> None:
        self._json("DELETE", f"/Items/{playlist_id}")

    def top_played(self, limit: int = 100, user: str | None = None) -> list[PlayedTrack]:
        user_id = self.user_id if not user or user == self.user else self._resolve(user)
        items = self._get(f"/Users/{user_id}/Items", IncludeItemTypes="Audio", Recursive="true",
                          SortBy="PlayCount", SortOrder="Descending", Filters="IsPlayed", Limit=limit,
                          Fields="UserData")["Items"]
        out = []
        for i in items:
            data = i.get("UserData") or {}
            if data.get("PlayCount"):
                out.append(PlayedTrack(i["Id"], int(data["PlayCount"]), _date(data.get("LastPlayedDate"))))
        return out

    def _resolve(self, user: str) -> str:
        match = next((u for u in self._get("/Users") if user in (u.get("Name"), u.get("Id"))), None)
        if match is None:
            raise ProviderError(self.http.label, f"no user '{user}'")
        return match["Id"]

    def close(self) -> None:
        self.http.close()


def _date(text) -> datetime | None:
    if not text:
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", str(text)).replace("Z", "+00:00")  # .NET's 7-digit fractions
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
