"""Subsonic API (Navidrome, supysonic, Airsonic, Gonic...): catalog, downloads, playlists, history.

Every call is ``GET /rest/<method>?u=&t=&s=&v=1.16.1&c=audiomuse&f=json``.

Authentication: token auth first (``t = md5(password + salt)``, a fresh salt per request). The first
call of an instance is a ``ping`` that settles the scheme: a server without token auth answers
error 41 ("token authentication not supported"), or, like supysonic, error 10 ("required parameter
missing": it only knows ``p``); then the hex-encoded password (``p=enc:<hex>``) is used for the rest
of the instance's life. Error 40 (or 41 once on passwords) means wrong credentials:
:class:`ProviderAuthError`. Passwords, tokens, salts and the ``enc:`` hex only ever travel in query
parameters, never in messages, log records or reprs.

Per-user playlists: the Subsonic API creates, changes and deletes playlists for the authenticated
user only, so acting as another user (``owner``) needs that user's own password
(``MEDIA_SERVER_USER_PASSWORDS``, ``ann:pw1,bob:pw2``): an owner-scoped call opens a second
connection signed in as the owner, and without the owner's password it fails with a
:class:`ProviderError` saying what to configure; it never falls back to the configured account.
Owner-scoped listings keep only the playlists whose ``owner`` field is that user (``getPlaylists``
also lists other users' public playlists).
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

from audiomuse.media import Album, PlayedTrack, Playlist, Track, server_song
from audiomuse.providers.base import MediaProvider, ProviderAuthError, ProviderError
from audiomuse.providers.http import HttpClient
from audiomuse.providers.values import float_or_none, int_or_none
from audiomuse.subsonic_protocol import (
    API_VERSION, MISSING_PARAMETER, NOT_AUTHORIZED, NOT_FOUND, TOKEN_AUTH_UNSUPPORTED, WRONG_CREDENTIALS, error_of,
    parse_response,
)
from audiomuse.text import safe_filename

log = logging.getLogger(__name__)

CLIENT = "audiomuse"
PAGE = 500  # getAlbumList2's maximum page size
HISTORY_ALBUMS = 200  # frequent + recent albums read for top_played
# the answers to a token that mean "send the password": supysonic says "missing parameter" (no p)
TOKEN_UNSUPPORTED = {TOKEN_AUTH_UNSUPPORTED, MISSING_PARAMETER}
#: the song (``Child``) fields the catalog keeps: what a client needs to play, show and browse a song,
#: the server's own ids first. Not kept: what differs per user or player (starred, userRating,
#: averageRating, playCount, played, bookmarkPosition, transcodedSuffix/ContentType) and lists.
SONG_FIELDS = ("id", "parent", "albumId", "artistId", "coverArt", "contentType", "suffix", "size", "bitRate",
               "duration", "path", "track", "discNumber", "year", "genre", "title", "album", "artist", "isDir",
               "isVideo", "type", "created")


class SubsonicProvider(MediaProvider):
    kind = "subsonic"

    def __init__(self, url: str, user: str, password: str, *, timeout: float = 30.0, retries: int = 3,
                 backoff: float = 0.5, page_size: int = PAGE, user_passwords: Mapping[str, str] | None = None):
        """``user_passwords``: other users' passwords (user name -> password), for owner-scoped
        playlist calls made as that user."""
        self._user_passwords = dict(user_passwords or {})
        self.http = HttpClient("Subsonic", url, timeout=timeout, retries=retries, backoff=backoff,
                               secrets=[password, *self._user_passwords.values()])
        self._connection = dict(url=url, timeout=timeout, retries=retries, backoff=backoff, page_size=page_size)
        self._as_users: dict[str, SubsonicProvider] = {}
        self.user = user
        self._password = password
        self.page_size = max(1, min(PAGE, page_size))
        #: True while token auth is used; False once the server showed it needs the password
        self.token_auth = True
        self._auth_checked = False
        self._owners: dict[str, str] = {}  # playlist id -> owner, from the last listing

    def __repr__(self) -> str:
        return f"SubsonicProvider({self.http.label!r}, user={self.user!r})"

    @property
    def auth_mode(self) -> str:
        return "token" if self.token_auth else "password"

    # Protocol ---------------------------------------------------------------------------------
    def _auth(self) -> dict:
        if self.token_auth:
            salt = secrets.token_hex(8)
            token = hashlib.md5((self._password + salt).encode()).hexdigest()
            return {"u": self.user, "t": token, "s": salt}
        return {"u": self.user, "p": "enc:" + self._password.encode().hex()}

    def _params(self, params: dict | list | None) -> list:
        items = list(params.items()) if isinstance(params, dict) else list(params or [])
        return [*self._auth().items(), ("v", API_VERSION), ("c", CLIENT), ("f", "json"), *items]

    def _ensure_auth(self) -> None:
        """Settle token vs password auth once, with a ``ping``."""
        if self._auth_checked:
            return
        self._raw_call("ping")
        self._auth_checked = True

    def call(self, method: str, params: dict | list | None = None) -> dict:
        """One API call; returns the ``subsonic-response`` object or raises a ProviderError."""
        self._ensure_auth()
        return self._raw_call(method, params)

    def _raw_call(self, method: str, params: dict | list | None = None) -> dict:
        for _ in range(2):  # at most: the token try, then the password
            used_token = self.token_auth
            response = self.http.request("GET", f"/rest/{method}", params=self._params(params))
            if response.status_code == 401:
                raise self._auth_error()
            if response.status_code >= 400 and "json" not in response.headers.get("content-type", ""):
                raise ProviderError(self.http.label, f"{method} answered HTTP {response.status_code}")
            body = self._body(method, response.content)
            if body.get("status") == "ok":
                return body
            code, message = error_of(body)
            if used_token and code in TOKEN_UNSUPPORTED and not self._auth_checked:
                log.info("%s does not support token auth (error %d): using password auth", self.http.label, code)
                self.token_auth = False  # remembered for every later call of this instance
                continue
            raise self._api_error(method, code, message)
        raise self._auth_error()

    def _body(self, method: str, content: bytes) -> dict:
        try:
            return parse_response(content)
        except ValueError:
            raise ProviderError(self.http.label, f"{method} did not answer in Subsonic JSON "
                                                 "(is this a Subsonic API server?)") from None

    def _auth_error(self) -> ProviderAuthError:
        return ProviderAuthError(self.http.label, f"rejected the credentials for user '{self.user}'")

    def _api_error(self, method: str, code: int, message: str) -> ProviderError:
        if code in (WRONG_CREDENTIALS, TOKEN_AUTH_UNSUPPORTED):
            return self._auth_error()
        if code == NOT_AUTHORIZED:
            return ProviderError(self.http.label, f"{method}: user '{self.user}' is not authorized "
                                                  f"({self.http.redact(message)})")
        if code == NOT_FOUND:
            return ProviderError(self.http.label, f"{method}: not found ({self.http.redact(message)})")
        return ProviderError(self.http.label, f"{method} failed: error {code}: {self.http.redact(message)}")

    # Catalog ------------------------------------------------------------------------------------
    def _album_list(self, list_type: str, limit: int = 0) -> list[dict]:
        """``getAlbumList2`` paged until a short page (or ``limit`` albums; 0 = all)."""
        albums: list[dict] = []
        while True:
            size = self.page_size if not limit else min(self.page_size, limit - len(albums))
            body = self.call("getAlbumList2", {"type": list_type, "size": size, "offset": len(albums)})
            page = (body.get("albumList2") or {}).get("album") or []
            albums += page
            if len(page) < size or (limit and len(albums) >= limit):
                return albums[:limit] if limit else albums

    def newest_albums(self, limit: int = 0) -> list[Album]:
        return [
            Album(str(a["id"]), a.get("name") or a.get("title") or "", a.get("artist") or "",
                  int_or_none(a.get("year")), _date(a.get("created")))
            for a in self._album_list("newest", limit)
        ]

    def album_tracks(self, album_id: str) -> list[Track]:
        album = self.call("getAlbum", {"id": album_id}).get("album") or {}
        return [self._track(s, album_id, album.get("name", "")) for s in album.get("song") or []]

    @staticmethod
    def _track(s: dict, album_id: str, album_name: str = "") -> Track:
        suffix = (s.get("suffix") or Path(s.get("path") or "").suffix.lstrip(".")).lower() or None
        return Track(
            id=str(s["id"]), album_id=str(s.get("albumId") or album_id), title=s.get("title") or "",
            artist=s.get("artist") or "", album=s.get("album") or album_name,
            duration=float_or_none(s.get("duration")), file_format=suffix, track_number=int_or_none(s.get("track")),
            server_song=server_song({k: s[k] for k in SONG_FIELDS if k in s}),
        )

    def download(self, track: Track, dest_dir: Path) -> Path:
        """The original file via ``download``; a server that refuses downloads for this user
        (Navidrome's per-user switch answers error 50) is asked for ``stream?format=raw``."""
        self._ensure_auth()
        target = Path(dest_dir) / safe_filename(track.id, track.file_format)
        target.unlink(missing_ok=True)
        errors = []
        for method, extra in (("download", {}), ("stream", {"format": "raw"})):
            response = self.http.download(f"/rest/{method}", target, params=self._params({"id": track.id, **extra}))
            if target.exists():
                if not track.file_format:  # name it by what the server says it sent
                    better = target.with_suffix(_suffix_for(response.headers.get("content-type", "")))
                    target = target.rename(better) if better != target else target
                return target
            if response.status_code == 401:
                raise self._auth_error()
            try:
                code, message = error_of(self._body(method, response.content))
            except ProviderError:
                code, message = response.status_code, f"HTTP {response.status_code}"
            if code == WRONG_CREDENTIALS:
                raise self._auth_error()
            errors.append(f"{method}: error {code} ({self.http.redact(message)})")
            if code == NOT_FOUND:
                break  # no such song: streaming will not find it either
        raise ProviderError(self.http.label, f"cannot download '{track.title}' (id {track.id}): " + "; ".join(errors))

    # Playlists ----------------------------------------------------------------------------------
    def as_user(self, owner: str | None) -> SubsonicProvider:
        """The connection signed in as ``owner``: this one for ``None`` or the configured user, else
        one opened with the owner's password from ``MEDIA_SERVER_USER_PASSWORDS``."""
        if owner is None or owner == self.user:
            return self
        if owner not in self._as_users:
            password = self._user_passwords.get(owner)
            if not password:
                raise ProviderError(self.http.label, f"acting as user '{owner}' needs that user's password: the "
                                                     "Subsonic API changes playlists of the signed-in user only; add "
                                                     f"'{owner}:<password>' to MEDIA_SERVER_USER_PASSWORDS")
            self._as_users[owner] = SubsonicProvider(password=password, user=owner, **self._connection)
        return self._as_users[owner]

    def _listing(self) -> list[Playlist]:
        body = self.call("getPlaylists")
        items = (body.get("playlists") or {}).get("playlist") or []
        self._owners = {str(p["id"]): p.get("owner") or "" for p in items}
        return [Playlist(str(p["id"]), p.get("name") or "") for p in items]

    def list_playlists(self, owner: str | None = None) -> list[Playlist]:
        """Playlists the configured user sees (its own and other users' public ones); with
        ``owner``, read as that user and only those whose ``owner`` field is that user."""
        if owner is None:
            return self._listing()
        conn = self.as_user(owner)
        return [p for p in conn._listing() if conn._owners.get(p.id) == owner]

    def _own_playlists(self) -> list[Playlist]:
        """Playlists this user may change (``getPlaylists`` also lists other users' public ones)."""
        playlists = self._listing()
        return [p for p in playlists if self._owners.get(p.id) in ("", self.user)]

    def playlist_tracks(self, playlist_id: str, owner: str | None = None) -> list[str]:
        """``getPlaylist``: the song ids of its entries, in order (read as ``owner``)."""
        conn = self.as_user(owner)
        try:
            body = conn.call("getPlaylist", {"id": playlist_id})
        except ProviderAuthError:
            raise
        except ProviderError as exc:
            # error 70; supysonic answers a malformed id with error 0 "badly formed ... UUID string"
            if any(w in str(exc).lower() for w in ("not found", "uuid", "invalid id")):
                raise ProviderError(self.http.label, f"no playlist with id {playlist_id} "
                                                     f"(for user '{conn.user}')") from None
            raise
        return [str(e["id"]) for e in (body.get("playlist") or {}).get("entry") or [] if e.get("id") is not None]

    def create_or_replace_playlist(self, name: str, track_ids: Sequence[str], owner: str | None = None) -> Playlist:
        """Create or replace ``name`` among the user's own playlists; with ``owner``, as that user."""
        conn = self.as_user(owner)
        if conn is not self:
            return conn.create_or_replace_playlist(name, track_ids)
        existing = next((p for p in self._own_playlists() if p.name == name), None)
        songs = [("songId", str(tid)) for tid in track_ids]
        if existing:
            # createPlaylist with playlistId replaces the songs in place (API 1.14+; supysonic too)
            self.call("createPlaylist", [("playlistId", existing.id), *songs])
            return existing
        body = self.call("createPlaylist", [("name", name), *songs])
        created = body.get("playlist")
        if created and created.get("id"):
            return Playlist(str(created["id"]), created.get("name") or name)
        # API < 1.14 answers an empty body: find the new playlist by name (the newest if several)
        matches = [p for p in self._own_playlists() if p.name == name]
        if not matches:
            raise ProviderError(self.http.label, f"createPlaylist '{name}' succeeded but the playlist is not listed")
        return matches[-1]

    def delete_playlist(self, playlist_id: str, owner: str | None = None) -> None:
        self.as_user(owner).call("deletePlaylist", {"id": playlist_id})

    def delete_playlists_by_suffix(self, suffix: str, keep: Sequence[str] = (),
                                   owner: str | None = None) -> list[str]:
        """Only this user's playlists: other users' public ones are listed but not ours to delete.
        With ``owner``: only the playlists whose ``owner`` field is that user, deleted as that user."""
        conn = self.as_user(owner)
        mine = conn._own_playlists() if owner is None else self.list_playlists(owner)
        deleted = []
        for playlist in mine:
            if playlist.name.endswith(suffix) and playlist.name not in keep:
                conn.delete_playlist(playlist.id)
                deleted.append(playlist.name)
        return deleted

    # History ------------------------------------------------------------------------------------
    def top_played(self, limit: int = 100, user: str | None = None) -> list[PlayedTrack]:
        """The configured user's most played songs with their last-played time.

        Subsonic has no "top songs of a user" call: the songs of the most frequently and most
        recently played albums (``getAlbumList2 type=frequent|recent``) are read and ranked by
        their ``playCount`` (and ``played`` time). A server that does not report per-song play
        counts (supysonic: API 1.12) has no readable history: returns ``[]`` and logs why."""
        if user and user != self.user:
            raise ProviderError(self.http.label, f"history of user '{user}' needs that user's own credentials "
                                                 f"(connected as '{self.user}')")
        album_ids: dict[str, None] = {}
        for list_type in ("frequent", "recent"):
            for a in self._album_list(list_type, HISTORY_ALBUMS):
                album_ids.setdefault(str(a["id"]))
        played: dict[str, PlayedTrack] = {}
        reported = False
        for album_id in album_ids:
            try:
                songs = (self.call("getAlbum", {"id": album_id}).get("album") or {}).get("song") or []
            except ProviderError as exc:
                if "not found" in str(exc):
                    continue  # removed since the list was read
                raise
            for s in songs:
                if "playCount" not in s:
                    continue
                reported = True
                count = int_or_none(s.get("playCount")) or 0
                if count > 0:
                    played[str(s["id"])] = PlayedTrack(str(s["id"]), count, _date(s.get("played")))
        if album_ids and not reported:
            log.info("%s does not report play counts (Subsonic API < 1.14?): no listening history", self.http.label)
        epoch = datetime.min.replace(tzinfo=timezone.utc)
        ranked = sorted(played.values(), key=lambda p: (-p.play_count, -(p.last_played or epoch).timestamp(), p.track_id))
        return ranked[:limit]

    def close(self) -> None:
        for conn in self._as_users.values():
            conn.close()
        self._as_users.clear()
        self.http.close()


def _date(text) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)




def _suffix_for(content_type: str) -> str:
    ctype = content_type.split(";")[0].strip().lower()
    known = {"audio/flac": ".flac", "audio/x-flac": ".flac", "audio/ogg": ".ogg", "audio/mpeg": ".mp3",
             "audio/opus": ".opus", "audio/mp4": ".m4a", "audio/x-m4a": ".m4a", "audio/wav": ".wav",
             "audio/x-wav": ".wav", "audio/aiff": ".aiff", "audio/x-aiff": ".aiff"}
    return known.get(ctype) or mimetypes.guess_extension(ctype) or ".audio"
