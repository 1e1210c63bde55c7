"""Lyrion Music Server (formerly Logitech Media Server), over its JSON-RPC interface.

``POST /jsonrpc.js`` with ``{"id": 1, "method": "slim.request", "params": ["", [command...]]}``
(the empty string: no player). Commands used, from the server's CLI documentation:

* ``albums <start> <n> sort:new tags:lay`` - newest albums. The server caps ``sort:new`` at its
  ``browseagelimit`` preference (100 by default), so listing *all* albums continues with the plain
  ``albums`` listing for the ones past the cap (newest first by album id, which grows as albums are
  scanned in). Albums carry no "added" field: it is the newest ``addedTime`` (tag ``D``) of their
  tracks, from ``titles``;
* ``titles <start> <n> album_id:<id> sort:tracknum tags:adelotu`` - an album's tracks (``u`` is the
  track's ``file://`` URL: its suffix is the file format, and it is what playlists store);
* ``/music/<track id>/download`` - the original file;
* ``playlists <start> <n>``, ``playlists new name:``, ``playlists tracks <start> <n> playlist_id:``,
  ``playlists edit cmd:delete|add playlist_id: index:|url:``, ``playlists delete playlist_id:``.
  A playlist is replaced in place: its entries are deleted, then the new tracks added, so its id
  stays the same.

Lyrion has no user accounts, so the ``owner`` of the playlist calls is ignored (every playlist is
everyone's); a server with password protection uses HTTP Basic auth (user and
password from the settings). Play counts live in the server's private database (and plugins such
as "Alternative Play Count"), not in any documented CLI query: :meth:`top_played` returns ``[]``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote, urlsplit

from audiomuse.media import Album, PlayedTrack, Playlist, Track
from audiomuse.providers.base import MediaProvider, ProviderAuthError, ProviderError
from audiomuse.providers.http import HttpClient
from audiomuse.providers.values import float_or_none, int_or_none
from audiomuse.text import safe_filename

log = logging.getLogger(__name__)

PAGE = 500
ADDED_PER_ALBUM_MAX = 25  # up to this many albums, added times are asked album by album
# Lyrion content types -> file suffix (used when a track has no file URL)
_TYPES = {"flc": "flac", "mp3": "mp3", "ogg": "ogg", "ops": "opus", "alc": "m4a", "mp4": "m4a", "aac": "aac",
          "wav": "wav", "aif": "aiff", "wma": "wma", "wmal": "wma", "wmap": "wma", "ape": "ape", "wvp": "wv",
          "mpc": "mpc", "dsf": "dsf", "dff": "dff"}


class LyrionProvider(MediaProvider):
    kind = "lyrion"

    def __init__(self, url: str, user: str = "", password: str = "", *, timeout: float = 30.0, retries: int = 3,
                 backoff: float = 0.5, page_size: int = PAGE):
        self.user = user
        self.http = HttpClient("Lyrion", url, timeout=timeout, retries=retries, backoff=backoff,
                               auth=(user, password) if user and password else None, secrets=[password])
        self.page_size = max(1, page_size)
        self._urls: dict[str, str] = {}  # track id -> file URL, filled by album_tracks

    def __repr__(self) -> str:
        return f"LyrionProvider({self.http.label!r})"

    def request(self, *command) -> dict:
        """One ``slim.request`` without a player; returns its ``result`` object."""
        payload = {"id": 1, "method": "slim.request", "params": ["", [str(c) for c in command]]}
        response = self.http.request("POST", "/jsonrpc.js", json=payload)
        what = " ".join(str(c) for c in command[:2])
        if response.status_code == 401:
            who = f"for user '{self.user}'" if self.user else "(the server is password protected: set the user and password)"
            raise ProviderAuthError(self.http.label, f"rejected the credentials {who}")
        if response.status_code >= 400:
            raise ProviderError(self.http.label, f"'{what}' answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise ProviderError(self.http.label, f"'{what}' did not answer JSON (is this a Lyrion server?)") from None
        if not isinstance(body, dict):
            raise ProviderError(self.http.label, f"'{what}' answered an unexpected shape")
        if body.get("error"):
            raise ProviderError(self.http.label, f"'{what}' failed: {self.http.redact(str(body['error']))}")
        return body.get("result") or {}

    def _loop(self, loop_name: str, *command, limit: int = 0, words: int = 1) -> list[dict]:
        """``<command> <start> <n> ...`` paged until a short page (``limit`` 0 = all); the command
        is its first ``words`` words (``playlists tracks <start> <n> ...``: 2)."""
        items: list[dict] = []
        head, tail = command[:words], command[words:]
        while True:
            size = self.page_size if not limit else min(self.page_size, limit - len(items))
            result = self.request(*head, len(items), size, *tail)
            page = result.get(loop_name) or []
            items += page
            total = result.get("count")
            if len(page) < size or (limit and len(items) >= limit) or (total is not None and len(items) >= int(total)):
                return items[:limit] if limit else items

    # Catalog ------------------------------------------------------------------------------------
    def newest_albums(self, limit: int = 0) -> list[Album]:
        newest = self._loop("albums_loop", "albums", "sort:new", "tags:lay", limit=limit)
        if not limit or len(newest) < limit:
            # sort:new stops at the server's browseagelimit: the rest, newest (highest id) first
            seen = {str(a["id"]) for a in newest}
            rest = [a for a in self._loop("albums_loop", "albums", "tags:lay") if str(a["id"]) not in seen]
            rest.sort(key=lambda a: int_or_none(a["id"]) or 0, reverse=True)
            newest += rest
        newest = newest[:limit] if limit else newest
        added = self._added_times([str(a["id"]) for a in newest])
        return [Album(str(a["id"]), a.get("album") or "", a.get("artist") or "", int_or_none(a.get("year")) or None,
                      added.get(str(a["id"]))) for a in newest]

    def _added_times(self, album_ids: list[str]) -> dict[str, datetime]:
        """When each album was added: the newest ``addedTime`` (tag ``D``) of its tracks. Albums
        carry no such field, so a few albums are asked one by one, many with one paged listing of
        all tracks (``tags:eD``: album id and added time)."""
        stamps: dict[str, float] = {}
        if len(album_ids) <= ADDED_PER_ALBUM_MAX:
            for album_id in album_ids:
                for t in self._loop("titles_loop", "titles", f"album_id:{album_id}", "tags:D"):
                    stamps[album_id] = max(stamps.get(album_id, 0.0), float_or_none(t.get("addedTime")) or 0.0)
        else:
            wanted = set(album_ids)
            for t in self._loop("titles_loop", "titles", "tags:eD"):
                album_id = str(t.get("album_id") or "")
                if album_id in wanted:
                    stamps[album_id] = max(stamps.get(album_id, 0.0), float_or_none(t.get("addedTime")) or 0.0)
        return {a: datetime.fromtimestamp(ts, timezone.utc) for a, ts in stamps.items() if ts > 0}

    def album_tracks(self, album_id: str) -> list[Track]:
        loop = self._loop("titles_loop", "titles", f"album_id:{album_id}", "sort:tracknum", "tags:adelotu")
        tracks = []
        for t in loop:
            url = t.get("url") or ""
            if url:
                self._urls[str(t["id"])] = url
            tracks.append(Track(
                id=str(t["id"]), album_id=str(t.get("album_id") or album_id), title=t.get("title") or "",
                artist=t.get("artist") or "", album=t.get("album") or "", duration=float_or_none(t.get("duration")),
                file_format=_format(url, t.get("type")), track_number=int_or_none(t.get("tracknum")),
            ))
        return tracks

    def download(self, track: Track, dest_dir: Path) -> Path:
        target = Path(dest_dir) / safe_filename(track.id, track.file_format)
        target.unlink(missing_ok=True)
        response = self.http.download(f"/music/{track.id}/download", target)
        if target.exists():
            return target
        if response.status_code == 401:
            raise ProviderAuthError(self.http.label, "rejected the credentials for the download")
        raise ProviderError(self.http.label, f"cannot download '{track.title}' (id {track.id}): "
                                             f"HTTP {response.status_code}")

    # Playlists ----------------------------------------------------------------------------------
    def list_playlists(self, owner: str | None = None) -> list[Playlist]:
        """Every playlist (Lyrion has no users: ``owner`` is ignored)."""
        return [Playlist(str(p["id"]), p.get("playlist") or "") for p in self._loop("playlists_loop", "playlists")]

    def _track_url(self, track_id: str) -> str:
        if track_id not in self._urls:
            loop = self.request("titles", 0, 1, f"track_id:{track_id}", "tags:u").get("titles_loop") or []
            if not loop or not loop[0].get("url"):
                raise ProviderError(self.http.label, f"no track with id {track_id}")
            self._urls[track_id] = loop[0]["url"]
        return self._urls[track_id]

    def playlist_tracks(self, playlist_id: str, owner: str | None = None) -> list[str]:
        """``playlists tracks <start> <n> playlist_id: tags:u``: the track ids in playlist order
        (Lyrion has no users: ``owner`` is ignored). An entry without a database id (a remote URL)
        is skipped. The server answers an unknown id like an empty playlist, so an empty answer is
        checked against the playlist listing."""
        loop = self._loop("playlisttracks_loop", "playlists", "tracks", f"playlist_id:{playlist_id}", "tags:u",
                          words=2)
        if not loop and all(p.id != str(playlist_id) for p in self.list_playlists()):
            raise ProviderError(self.http.label, f"no playlist with id {playlist_id}")
        ids = []
        for entry in loop:
            if entry.get("id") is None:
                continue
            track_id = str(entry["id"])
            if entry.get("url"):
                self._urls.setdefault(track_id, entry["url"])
            ids.append(track_id)
        return ids

    def create_or_replace_playlist(self, name: str, track_ids: Sequence[str], owner: str | None = None) -> Playlist:
        """Lyrion has no users: ``owner`` is ignored."""
        urls = [self._track_url(str(t)) for t in track_ids]  # fail before touching the playlist
        existing = next((p for p in self.list_playlists() if p.name == name), None)
        if existing is not None:
            playlist_id = existing.id
        else:
            created = self.request("playlists", "new", f"name:{name}")
            # overwritten_playlist_id: a playlist with this file name exists (the server cleans
            # names into file names, so it may be listed under a slightly different name)
            playlist_id = str(created.get("playlist_id") or created.get("overwritten_playlist_id") or "")
            if not playlist_id:
                raise ProviderError(self.http.label, f"'playlists new' for '{name}' answered no id")
        count = int(self.request("playlists", "tracks", 0, 1, f"playlist_id:{playlist_id}").get("count") or 0)
        for _ in range(count):  # entries shift down: always delete the first
            self.request("playlists", "edit", "cmd:delete", f"playlist_id:{playlist_id}", "index:0")
        for url in urls:
            self.request("playlists", "edit", "cmd:add", f"playlist_id:{playlist_id}", f"url:{url}")
        return Playlist(playlist_id, name)

    def delete_playlist(self, playlist_id: str, owner: str | None = None) -> None:
        self.request("playlists", "delete", f"playlist_id:{playlist_id}")

    def top_played(self, limit: int = 100, user: str | None = None) -> list[PlayedTrack]:
        """Lyrion's CLI has no play-count query (``titles`` sorts only by title/tracknum/albumtrack;
        counts live in the server's private tables and in plugins), and it has no users: no history
        to read, so the fingerprint tool says so instead of guessing."""
        return []

    def close(self) -> None:
        self.http.close()


def _format(url: str, lyrion_type: str | None) -> str | None:
    if url:
        suffix = Path(unquote(urlsplit(url).path)).suffix.lstrip(".").lower()
        if suffix:
            return suffix
    t = (lyrion_type or "").lower()
    return _TYPES.get(t, t or None)
