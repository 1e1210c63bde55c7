"""Subsonic API (Navidrome, supysonic, Airsonic, Gonic...): catalog, downloads, playlists, history.

Token auth (t = md5(password + salt)) first; when the server answers that it does not support it
(error 41, or supysonic's 10 "missing parameter"), fall back to the hex-encoded password and keep
using that. Passwords, tokens and salts only ever travel in query parameters, never in messages.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from audiomuse.providers.base import (
    Album, MediaProvider, PlayedTrack, Playlist, ProviderAuthError, ProviderError, Track,
)
from audiomuse.providers.http import HttpClient

API_VERSION = "1.16.1"
CLIENT = "audiomuse"
PAGE = 500


class SubsonicProvider(MediaProvider):
    kind = "subsonic"

    def __init__(self, url: str, user: str, password: str, *, timeout: float = 30.0, retries: int = 3,
                 backoff: float = 0.5):
        self.http = HttpClient("Subsonic", url, timeout=timeout, retries=retries, backoff=backoff)
        self.user = user
        self._password = password
        self.token_auth = True

    def __repr__(self) -> str:
        return f"SubsonicProvider({self.http.label!r}, user={self.user!r})"

    # Protocol ---------------------------------------------------------------------------------
    def _auth(self) -> dict:
        if self.token_auth:
            salt = secrets.token_hex(6)
            token = hashlib.md5((self._password + salt).encode()).hexdigest()
            return {"u": self.user, "t": token, "s": salt}
        return {"u": self.user, "p": "enc:" + self._password.encode().hex()}

    def _params(self, params: dict | list) -> list:
        base = {**self._auth(), "v": API_VERSION, "c": CLIENT, "f": "json"}
        items = list(params.items()) if isinstance(params, dict) else list(params)
        return list(base.items()) + items

    def call(self, method: str, params: dict | list | None = None) -> dict:
        for _ in range(2):
            response = self.http.request("GET", f"/rest/{method}", params=self._params(params or {}))
            if response.status_code == 401:
                raise ProviderAuthError(self.http.label, f"rejected the credentials for user '{self.user}'")
            if response.status_code >= 400:
                raise ProviderError(self.http.label, f"{method} answered HTTP {response.status_code}")
            try:
                body = response.json()["subsonic-response"]
            except (ValueError, KeyError):
                raise ProviderError(self.http.label, f"{method} did not answer in Subsonic JSON") from None
            if body.get("status") == "ok":
                return body
            code = int(body.get("error", {}).get("code", 0))
            message = body.get("error", {}).get("message", "unknown error")
            if self.token_auth and code in (41, 10):
                self.token_auth = False  # server lacks token auth: use the (hex) password from now on
                continue
            if code in (40, 41):
                raise ProviderAuthError(self.http.label, f"rejected the credentials for user '{self.user}'")
            if code == 70:
                raise ProviderError(self.http.label, f"{method}: not found ({message})")
            raise ProviderError(self.http.label, f"{method} failed: error {code}: {_scrub(message)}")
        raise ProviderError(self.http.label, f"{method}: authentication fallback failed")

    # MediaProvider ------------------------------------------------------------------------------
    def newest_albums(self, limit: int = 0) -> list[Album]:
        albums: list[Album] = []
        offset = 0
        while True:
            size = PAGE if not limit else min(PAGE, limit - len(albums))
            body = self.call("getAlbumList2", {"type": "newest", "size": size, "offset": offset})
            page = body.get("albumList2", {}).get("album", [])
            albums += [Album(str(a["id"]), a.get("name") or a.get("title") or "", a.get("artist", ""),
                             a.get("year"), _date(a.get("created"))) for a in page]
            offset += len(page)
            if len(page) < size or (limit and len(albums) >= limit):
                return albums[:limit] if limit else albums

    def album_tracks(self, album_id: str) -> list[Track]:
        album = self.call("getAlbum", {"id": album_id}).get("album", {})
        return [self._track(s, album_id, album.get("name", "")) for s in album.get("song", [])]

    @staticmethod
    def _track(s: dict, album_id: str, album_name: str = "") -> Track:
        return Track(
            id=str(s["id"]), album_id=str(s.get("albumId", album_id)), title=s.get("title", ""),
            artist=s.get("artist", ""), album=s.get("album", album_name), duration=s.get("duration"),
            file_format=(s.get("suffix") or "").lower() or None, track_number=s.get("track"),
        )

    def download(self, track: Track, dest_dir: Path) -> Path:
        target = Path(dest_dir) / f"{_safe(track.id)}.{track.file_format or 'audio'}"
        with open(target, "wb") as out:
            self.http.stream_to("/rest/download", out, params=self._params({"id": track.id}))
        if target.stat().st_size < 1024 and target.read_bytes()[:1] == b"{":
            raise ProviderError(self.http.label, f"download of '{track.title}' returned an error, not audio")
        return target

    def list_playlists(self) -> list[Playlist]:
        body = self.call("getPlaylists")
        return [Playlist(str(p["id"]), p["name"]) for p in body.get("playlists", {}).get("playlist", [])]

    def create_or_replace_playlist(self, name: str, track_ids: Sequence[str]) -> Playlist:
        existing = next((p for p in self.list_playlists() if p.name == name), None)
        songs = [("songId", tid) for tid in track_ids]
        if existing:
            self.call("createPlaylist", [("playlistId", existing.id), *songs])  # replaces the songs in place
            return existing
        body = self.call("createPlaylist", [("name", name), *songs])
        created = body.get("playlist")
        if created:
            return Playlist(str(created["id"]), created.get("name", name))
        return next(p for p in self.list_playlists() if p.name == name)  # API < 1.14 answers empty

    def delete_playlist(self, playlist_id: str) -> None:
        self.call("deletePlaylist", {"id": playlist_id})

    def top_played(self, limit: int = 100, user: str | None = None) -> list[PlayedTrack]:
        """Songs of the most frequently played albums with their play counts and last-played times."""
        if user and user != self.user:
            raise ProviderError(self.http.label, "per-user history needs that user's own credentials")
        played: dict[str, PlayedTrack] = {}
        albums = self.call("getAlbumList2", {"type": "frequent", "size": 50}).get("albumList2", {}).get("album", [])
        for a in albums:
            for s in self.call("getAlbum", {"id": a["id"]}).get("album", {}).get("song", []):
                count = int(s.get("playCount", 0) or 0)
                if count:
                    played[str(s["id"])] = PlayedTrack(str(s["id"]), count, _date(s.get("played")))
        return sorted(played.values(), key=lambda p: (-p.play_count, p.track_id))[:limit]

    def close(self) -> None:
        self.http.close()


def _date(text) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:64]


def _scrub(message: str) -> str:
    return re.sub(r"(enc:)?[0-9a-f]{16,}", "***", message)
