"""What Jellyfin and Emby share: both grew from MediaBrowser 3 and still answer the same item,
playlist and user-data shapes. :class:`MediaBrowserProvider` holds that common part; each server's
module adds only what differs (the auth headers, the URL prefix, how a playlist is created, how a
user without a name is found).

Shared endpoints: ``POST /Users/AuthenticateByName`` (``{"Username", "Pw"}`` -> ``AccessToken`` and
``User.Id``), ``/Users`` (names -> ids), ``/Users/{userId}/Items`` (albums, tracks, playlists, play
counts via ``SortBy=PlayCount`` with ``UserData``, paged with ``StartIndex``/``Limit``),
``/Items/{id}/Download`` (the original file), ``GET|POST|DELETE /Playlists/{id}/Items`` (entries carry
a ``PlaylistItemId``, which removal takes, not the item id) and ``DELETE /Items/{id}``.

Per-user playlists: with ``owner`` (a user name, looked up through ``/Users``, or a user id) a
playlist is created with the owner's ``UserId``, listed from ``/Users/{ownerId}/Items`` and read and
changed with ``UserId=<ownerId>``: one user's recipe never sees or replaces another user's playlist
of the same name. A 401 answer is :class:`ProviderAuthError`; tokens and passwords never appear in a
message, log record or repr.
"""

from __future__ import annotations

import abc
import hashlib
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath, PureWindowsPath

from audiomuse.media import Album, PlayedTrack, Playlist, Track
from audiomuse.providers.base import MediaProvider, ProviderAuthError, ProviderError
from audiomuse.providers.http import HttpClient
from audiomuse.text import safe_filename

TICKS_PER_SECOND = 10_000_000
PAGE = 500
ID_CHUNK = 100  # ids per playlist add/remove request (they travel in the query string)
_GUID = re.compile(r"^[0-9a-fA-F]{32}$|^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
CLIENT_VERSION = "0.1.0"


class MediaBrowserProvider(MediaProvider, abc.ABC):
    """The Jellyfin/Emby item and playlist API; subclasses name the server and set its auth."""

    #: how messages name the server ("Jellyfin", "Emby")
    server_name = "MediaBrowser"
    #: answers of these content types are error documents, never a downloaded file
    download_error_types = ("application/json", "text/html")

    def __init__(self, url: str, user: str, token: str = "", *, password: str = "", timeout: float = 30.0,
                 retries: int = 3, backoff: float = 0.5, page_size: int = PAGE):
        device = hashlib.sha1(f"{url}|{user}".encode()).hexdigest()[:16]
        self._client_fields = (f'Client="AudioMuse", Device="audiomuse", DeviceId="{device}", '
                               f'Version="{CLIENT_VERSION}"')
        self.http = HttpClient(self.server_name, self._api_url(url), timeout=timeout, retries=retries,
                               backoff=backoff, secrets=[token, password])
        self.user = user
        self._token = token
        self._password = password
        self._user_id: str | None = None
        self.page_size = max(1, page_size)
        if token:
            self._set_token(token)
        elif not password:
            raise ProviderAuthError(self.http.label, "needs an API token (MEDIA_SERVER_TOKEN) or a user name "
                                                     "and password")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.http.label!r}, user={self.user!r})"

    # What differs between the servers -----------------------------------------------------------
    @staticmethod
    def _api_url(url: str) -> str:
        """The base URL requests are made under (Emby adds its ``/emby`` prefix)."""
        return url

    def _download_routes(self, item_id: str) -> list[tuple[str, dict]]:
        """Where the original file is fetched, tried in order while the server answers 403."""
        return [(f"/Items/{item_id}/Download", {})]

    def _users(self) -> list[dict]:
        """Every user (``Id``, ``Name``), to find one by name."""
        users = self._get("/Users")
        return users if isinstance(users, list) else []

    @abc.abstractmethod
    def _apply_auth(self, token: str) -> None:
        """Set the client's auth headers: the client fields, plus ``token`` when it is not empty."""

    @abc.abstractmethod
    def _create_playlist(self, name: str, ids: list[str], user_id: str) -> str:
        """Create playlist ``name`` for ``user_id`` holding ``ids`` in order; answer its id."""

    @abc.abstractmethod
    def _unnamed_user(self) -> str:
        """The user id when no user is configured (and no login named one)."""

    # Protocol ---------------------------------------------------------------------------------
    def _set_token(self, token: str) -> None:
        self._token = token
        self.http.add_secret(token)
        self._apply_auth(token)

    def _login(self) -> None:
        """Exchange user name + password for an access token (and learn the user id)."""
        self._apply_auth("")
        response = self.http.request("POST", "/Users/AuthenticateByName",
                                     json={"Username": self.user, "Pw": self._password})
        if response.status_code in (401, 403):
            raise self._auth_error()
        if response.status_code >= 400:
            raise ProviderError(self.http.label, f"login answered HTTP {response.status_code}")
        data = self._decode(response, "login")
        if not isinstance(data, dict) or not data.get("AccessToken"):
            raise ProviderError(self.http.label, "login answered without an access token")
        self._set_token(data["AccessToken"])
        self._user_id = (data.get("User") or {}).get("Id") or self._user_id

    def _auth_error(self) -> ProviderAuthError:
        who = f"for user '{self.user}'" if self.user else "(API token)"
        return ProviderAuthError(self.http.label, f"rejected the credentials {who}")

    def _json(self, method: str, path: str, **kwargs):
        if not self._token:
            self._login()
        response = self.http.request(method, path, **kwargs)
        if response.status_code == 401:
            raise self._auth_error()
        if response.status_code == 403:
            raise ProviderError(self.http.label, f"{method} {path}: user '{self.user}' is not allowed to do this")
        if response.status_code == 404:
            raise ProviderError(self.http.label, f"{method} {path}: not found")
        if response.status_code >= 400:
            raise ProviderError(self.http.label, f"{method} {path} answered HTTP {response.status_code}")
        return self._decode(response, f"{method} {path}") if response.content else {}

    def _decode(self, response, what: str):
        try:
            return response.json()
        except ValueError:
            raise ProviderError(self.http.label, f"{what} did not answer JSON: is this the {self.server_name} "
                                                 "server's URL?") from None

    def _get(self, path: str, **params):
        return self._json("GET", path, params=params)

    def _items(self, user_id: str, limit: int = 0, **params) -> list[dict]:
        """``/Users/{id}/Items`` paged with StartIndex/Limit (``limit`` 0 = all)."""
        items: list[dict] = []
        while True:
            size = self.page_size if not limit else min(self.page_size, limit - len(items))
            page = self._get(f"/Users/{user_id}/Items", StartIndex=len(items), Limit=size, **params)
            page = page.get("Items") or [] if isinstance(page, dict) else []
            items += page
            if len(page) < size or (limit and len(items) >= limit):
                return items[:limit] if limit else items

    @property
    def user_id(self) -> str:
        if self._user_id is None:
            if not self._token:
                self._login()
            if self._user_id is None:
                self._user_id = self._resolve(self.user)
        return self._user_id

    def _resolve(self, user: str) -> str:
        if user and _GUID.match(user):
            return user.replace("-", "").lower()
        if not user:
            return self._unnamed_user()
        match = next((u for u in self._users() if (u.get("Name") or "").casefold() == user.casefold()), None)
        if match is None:
            raise ProviderError(self.http.label, f"no user named '{user}'")
        return match["Id"]

    # Catalog ------------------------------------------------------------------------------------
    def newest_albums(self, limit: int = 0) -> list[Album]:
        items = self._items(self.user_id, limit, IncludeItemTypes="MusicAlbum", Recursive="true",
                            SortBy="DateCreated,SortName", SortOrder="Descending",
                            Fields="DateCreated,ProductionYear")
        return [Album(a["Id"], a.get("Name") or "", a.get("AlbumArtist") or _first(a.get("AlbumArtists")) or "",
                      a.get("ProductionYear"), _date(a.get("DateCreated"))) for a in items]

    def album_tracks(self, album_id: str) -> list[Track]:
        items = self._items(self.user_id, 0, ParentId=album_id, IncludeItemTypes="Audio", Recursive="true",
                            SortBy="ParentIndexNumber,IndexNumber,SortName", Fields="Path,MediaSources")
        return [self._track(i, album_id) for i in items]

    @staticmethod
    def _track(i: dict, album_id: str) -> Track:
        ticks = i.get("RunTimeTicks")
        return Track(
            id=i["Id"], album_id=i.get("AlbumId") or album_id, title=i.get("Name") or "",
            artist=_first(i.get("Artists")) or i.get("AlbumArtist") or "", album=i.get("Album") or "",
            duration=ticks / TICKS_PER_SECOND if ticks else None, file_format=_format(i),
            track_number=i.get("IndexNumber"),
        )

    def download(self, track: Track, dest_dir: Path) -> Path:
        if not self._token:
            self._login()
        target = Path(dest_dir) / safe_filename(track.id, track.file_format)
        target.unlink(missing_ok=True)
        for path, params in self._download_routes(track.id):
            response = self.http.download(path, target, params=params, error_types=self.download_error_types)
            if target.exists():
                return target
            if response.status_code != 403:
                break
        if response.status_code == 401:
            raise self._auth_error()
        if response.status_code == 403:
            raise ProviderError(self.http.label, f"user '{self.user}' may not download '{track.title}' "
                                                 f"(enable downloads for this user in {self.server_name})")
        if response.is_success:
            raise ProviderError(self.http.label, f"cannot download '{track.title}' (id {track.id}): answered "
                                                 f"{response.headers.get('content-type', '?')}, not audio")
        raise ProviderError(self.http.label, f"cannot download '{track.title}' (id {track.id}): "
                                             f"HTTP {response.status_code}")

    # Playlists ----------------------------------------------------------------------------------
    def _owner_id(self, owner: str | None) -> str:
        return self.user_id if not owner or owner == self.user else self._resolve(owner)

    def list_playlists(self, owner: str | None = None) -> list[Playlist]:
        """The playlists of the configured user, or of ``owner``."""
        items = self._items(self._owner_id(owner), 0, IncludeItemTypes="Playlist", Recursive="true",
                            SortBy="SortName")
        return [Playlist(p["Id"], p.get("Name") or "") for p in items]

    def _entries(self, playlist_id: str, user_id: str) -> list[dict]:
        """``GET /Playlists/{id}/Items``, paged with StartIndex/Limit, in playlist order."""
        entries: list[dict] = []
        while True:
            try:
                page = self._get(f"/Playlists/{playlist_id}/Items", UserId=user_id, StartIndex=len(entries),
                                 Limit=self.page_size).get("Items") or []
            except ProviderError as exc:
                if str(exc).endswith(": not found"):
                    raise ProviderError(self.http.label, f"no playlist with id {playlist_id}") from None
                raise
            entries += page
            if len(page) < self.page_size:
                return entries

    def playlist_tracks(self, playlist_id: str, owner: str | None = None) -> list[str]:
        """The item ids of the playlist's entries, in order (read with ``owner``'s UserId)."""
        return [e["Id"] for e in self._entries(playlist_id, self._owner_id(owner)) if e.get("Id")]

    def create_or_replace_playlist(self, name: str, track_ids: Sequence[str], owner: str | None = None) -> Playlist:
        """Among the configured user's (or ``owner``'s) playlists; a new one gets that ``UserId``.
        An existing one is replaced in place: same id, every entry removed, the new songs added."""
        ids = [str(t) for t in track_ids]
        user_id = self._owner_id(owner)
        existing = next((p for p in self.list_playlists(owner) if p.name == name), None)
        if existing is None:
            return Playlist(self._create_playlist(name, ids, user_id), name)
        entry_ids = [e["PlaylistItemId"] for e in self._entries(existing.id, user_id) if e.get("PlaylistItemId")]
        for chunk in _chunks(entry_ids, ID_CHUNK):
            self._json("DELETE", f"/Playlists/{existing.id}/Items", params={"EntryIds": ",".join(chunk)})
        self._add_to_playlist(existing.id, ids, user_id)
        return existing

    def _add_to_playlist(self, playlist_id: str, ids: list[str], user_id: str) -> None:
        for chunk in _chunks(ids, ID_CHUNK):
            self._json("POST", f"/Playlists/{playlist_id}/Items", params={"Ids": ",".join(chunk), "UserId": user_id})

    def delete_playlist(self, playlist_id: str, owner: str | None = None) -> None:
        self._json("DELETE", f"/Items/{playlist_id}")

    # History ------------------------------------------------------------------------------------
    def top_played(self, limit: int = 100, user: str | None = None) -> list[PlayedTrack]:
        """Most played songs of ``user`` (default: the configured one) from the server's UserData."""
        user_id = self.user_id if not user or user == self.user else self._resolve(user)
        items = self._items(user_id, limit, IncludeItemTypes="Audio", Recursive="true", SortBy="PlayCount,DatePlayed",
                            SortOrder="Descending", Filters="IsPlayed", EnableUserData="true", Fields="UserData")
        out = []
        for i in items:
            data = i.get("UserData") or {}
            if data.get("PlayCount"):
                out.append(PlayedTrack(i["Id"], int(data["PlayCount"]), _date(data.get("LastPlayedDate"))))
        epoch = datetime.min.replace(tzinfo=timezone.utc)
        out.sort(key=lambda p: (-p.play_count, -(p.last_played or epoch).timestamp()))
        return out

    def close(self) -> None:
        self.http.close()


def _first(values) -> str | None:
    return values[0] if isinstance(values, list) and values else None


def _chunks(items: list, n: int):
    for i in range(0, len(items), n):
        yield items[i : i + n]


_CONTAINER = {"flac": "flac", "mp3": "mp3", "ogg": "ogg", "opus": "opus", "oga": "ogg", "wav": "wav", "aiff": "aiff",
              "aif": "aiff", "m4a": "m4a", "mp4": "m4a", "mov": "m4a", "aac": "aac", "wma": "wma", "ape": "ape",
              "wv": "wv", "webma": "webm", "webm": "webm"}


def _format(item: dict) -> str | None:
    """The file's real suffix: from its path if the server gave one, else the container name
    (Jellyfin and Emby report m4a as ``"mov,mp4,m4a,3gp,3g2,mj2"``)."""
    path = item.get("Path") or next((s.get("Path") for s in item.get("MediaSources") or [] if s.get("Path")), None)
    if path:
        pure = PureWindowsPath(path) if "\\" in path else PurePosixPath(path)
        if pure.suffix:
            return pure.suffix.lstrip(".").lower()
    container = item.get("Container") or next((s.get("Container") for s in item.get("MediaSources") or []), None)
    if not container:
        return None
    names = [c.strip().lower() for c in container.split(",")]
    if "m4a" in names:
        return "m4a"
    return _CONTAINER.get(names[0], names[0] or None)


def _date(text) -> datetime | None:
    if not text:
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", str(text)).replace("Z", "+00:00")  # .NET's 7-digit fractions
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
