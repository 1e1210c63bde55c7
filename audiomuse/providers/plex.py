"""Plex Media Server through ``plexapi`` (the maintained Plex client): catalog, downloads, playlists
and play history of one music library section.

Authentication: the server owner's token (``MEDIA_SERVER_TOKEN``), sent by plexapi as the
``X-Plex-Token`` header on every request, never in a URL: a 401 answer is
:class:`ProviderAuthError`, and the token never appears in a message, log record or repr.

Library: the section titled ``PLEX_LIBRARY`` (case-insensitive), by default the first section of
type ``artist`` (Plex's music libraries). A title that does not exist is a :class:`ProviderError`
listing the sections the server has.

Endpoints, all through plexapi (its ``PlexServer``, ``MusicSection.searchAlbums``, ``fetchItems``,
``Playlist.create``/``addItems``/``delete`` and ``history``): ``GET /`` (identity, on connecting),
``/library/sections``, ``/library/sections/{id}/all?type=9&sort=album.addedAt:desc`` (newest
albums, paged by ``X-Plex-Container-Start``/``-Size``), ``/library/metadata/{id}/children``
(tracks), ``/library/parts/...?download=1`` (the original file), ``/playlists``,
``/playlists/{id}/items``, ``/status/sessions/history/all`` (plays) and ``/accounts``.

Playlists are replaced in place: the first publish is ``Playlist.create``; later ones clear the same
playlist (``DELETE /playlists/{id}/items``, Plex's "clear playlist") and ``addItems`` the new tracks,
so its ratingKey stays. (plexapi's own ``removeItems`` sends one DELETE per track and looks each
entry up through ``Playlist.items()``, which may call plex.tv for remote items.) Plex cannot store an
empty playlist, so creating one with no tracks is a :class:`ProviderError`; emptying an existing one
works.

Per-user ownership: a Plex playlist belongs to the account whose token made it; the server offers
no way to act for another account with the owner's token (a managed user's token comes from
plex.tv, ``MyPlexAccount.user(...).get_token(machineIdentifier)``, which AudioMuse does not reach).
So ``owner`` may be the configured user (``MEDIA_SERVER_USER``, or ``None``); another owner needs
that account's own token in ``PLEX_USER_TOKENS`` (``ann:tok1,bob:tok2``), else the call fails
with a ProviderError saying so, and never falls back to the owner's account. Play history is read
with the owner's token for any account (``accountID`` from ``/accounts``; the owner is account 1,
as plexapi's ``MyPlexAccount.history`` assumes).

Isolation: plexapi reads ``~/.config/plexapi/config.ini`` and ``PLEXAPI_*`` variables at import;
this module points ``PLEXAPI_CONFIG_PATH`` at ``/dev/null`` unless the operator set it, so a personal
config file cannot change timeouts, log to a file or put the token into URLs
(``log.show_secrets``, which is also forced off per server), and turns plexapi's auto-reload off
(``PLEXAPI_PLEXAPI_AUTORELOAD``: it refetches an item for each attribute the listing lacked).
Nothing here calls plex.tv.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.parse import urlsplit
from xml.etree.ElementTree import ParseError

os.environ.setdefault("PLEXAPI_CONFIG_PATH", os.devnull)
os.environ.setdefault("PLEXAPI_HEADER_PRODUCT", "AudioMuse")
# plexapi reloads a listed object from /library/metadata/{id} whenever an attribute it lacks is read
# (one request per track for a missing originalTitle): listings are used as the server sent them
os.environ.setdefault("PLEXAPI_PLEXAPI_AUTORELOAD", "false")

import requests  # noqa: E402  (plexapi's HTTP library; imported after the environment is set)
from plexapi.audio import Track as PlexTrack  # noqa: E402
from plexapi.exceptions import BadRequest, NotFound, PlexApiException, Unauthorized  # noqa: E402
from plexapi.playlist import Playlist as PlexPlaylist  # noqa: E402
from plexapi.server import PlexServer  # noqa: E402

from audiomuse.media import Album, PlayedTrack, Playlist, Track  # noqa: E402
from audiomuse.providers.base import MediaProvider, ProviderAuthError, ProviderError, ProviderUnavailable  # noqa: E402
from audiomuse.providers.http import RETRY_STATUS, server_label, write_whole  # noqa: E402
from audiomuse.text import safe_filename  # noqa: E402

log = logging.getLogger(__name__)

PAGE = 200  # items per request (X-Plex-Container-Size)
KEY_CHUNK = 100  # ratingKeys per /library/metadata or playlist-items request (they travel in the URL)
OWNER_ACCOUNT_ID = 1
_TOKEN_IN_URL = re.compile(r"(X-Plex-Token=)[^&\s\"']+", re.IGNORECASE)
_DIGITS = re.compile(r"^\d+$")


class _MaskTokens(logging.Filter):
    """Mask ``X-Plex-Token=`` values in plexapi's and urllib3's records (plexapi keeps the token in
    a header, but a URL built with ``includeToken`` carries it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(_TOKEN_IN_URL.sub(r"\1***", a) if isinstance(a, str) else a for a in args)
        if isinstance(record.msg, str):
            record.msg = _TOKEN_IN_URL.sub(r"\1***", record.msg)
        return True


for _name in ("plexapi", "urllib3.connectionpool"):
    logging.getLogger(_name).addFilter(_MaskTokens())


class _Server(PlexServer):
    """plexapi's server with ``log.show_secrets`` off whatever a config says: URLs never carry the token."""

    @property
    def _showSecrets(self) -> bool:
        return False

    @_showSecrets.setter
    def _showSecrets(self, value) -> None:
        pass


class _Session(requests.Session):
    """The requests session plexapi sends everything through: a default timeout, retries of
    connection errors, timeouts and 5xx answers with exponential backoff, then one
    :class:`ProviderUnavailable` naming the server (never a URL); a 2xx HTML page (a reverse
    proxy's login page) is a :class:`ProviderError`, not XML for plexapi to misread."""

    def __init__(self, label: str, *, timeout: float, retries: int, backoff: float):
        super().__init__()
        self.label, self.timeout = label, timeout
        self.retries, self.backoff = max(1, int(retries)), max(0.0, float(backoff))

    def request(self, method, url, *args, **kwargs):
        kwargs["timeout"] = kwargs.get("timeout") or self.timeout
        last = ""
        for attempt in range(1, self.retries + 1):
            try:
                response = super().request(method, url, *args, **kwargs)
            except requests.Timeout:
                last = "timed out"
            except requests.ConnectionError as exc:
                last = _transport_reason(exc)
            else:
                if response.status_code not in RETRY_STATUS:
                    _refuse_html(self.label, response)
                    return response
                response.close()
                last = f"HTTP {response.status_code}"
            if attempt < self.retries:
                delay = self.backoff * 2 ** (attempt - 1)
                log.warning("%s: %s %s %s (attempt %d/%d), retrying in %.2fs", self.label, method,
                            urlsplit(str(url)).path, last, attempt, self.retries, delay)
                time.sleep(delay)
        raise ProviderUnavailable(self.label, f"unreachable after {self.retries} attempts: {last}")


def _refuse_html(label: str, response: requests.Response) -> None:
    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if response.ok and ctype in ("text/html", "application/xhtml+xml"):
        response.close()
        raise ProviderError(label, "answered an HTML page instead of Plex XML (a login page of a proxy in front of "
                                   "the server? MEDIA_SERVER_URL must reach Plex itself, e.g. http://host:32400)")


def _transport_reason(exc: Exception) -> str:
    text = str(exc).lower()
    for needle, reason in (("refused", "connection refused"), ("name or service", "unknown host"),
                           ("nodename", "unknown host"), ("resolve", "unknown host"), ("reset", "connection reset"),
                           ("ssl", "TLS error"), ("certificate", "TLS error")):
        if needle in text:
            return reason
    return type(exc).__name__


def parse_user_tokens(value) -> dict[str, str]:
    """``PLEX_USER_TOKENS`` (``ann:tok1,bob:tok2``) as account name -> token; a malformed entry
    raises a ValueError naming its position, never its text."""
    from audiomuse.config import parse_user_passwords

    try:
        return parse_user_passwords(value)
    except ValueError as exc:
        raise ValueError(str(exc).replace("MEDIA_SERVER_USER_PASSWORDS", "PLEX_USER_TOKENS")
                         .replace("'user:password'", "'user:token'")) from None


class PlexProvider(MediaProvider):
    kind = "plex"

    def __init__(self, url: str, user: str = "", token: str = "", *, library: str | None = None,
                 user_tokens: Mapping[str, str] | None = None, timeout: float = 30.0, retries: int = 3,
                 backoff: float = 0.5, page_size: int = PAGE):
        """``user``: the token's account name (``MEDIA_SERVER_USER``, for messages and ``owner``;
        default: the server's ``myPlexUsername``);
        ``library``: the music section's title (default: the first music section);
        ``user_tokens``: other accounts' own tokens, for playlists owned by them."""
        if not url or "://" not in url:
            raise ProviderError("Plex", "server URL must start with http:// or https://")
        self.base_url = url.rstrip("/")
        self.label = f"Plex server at {server_label(self.base_url)}"
        if not token:
            raise ProviderAuthError(self.label, "needs the server owner's X-Plex-Token (MEDIA_SERVER_TOKEN)")
        self.user, self.library = user or "", library or None
        self._token = token
        self._user_tokens = dict(user_tokens or {})
        self.page_size = max(1, int(page_size))
        self._session = _Session(self.label, timeout=timeout, retries=retries, backoff=backoff)
        self._servers: dict[str | None, PlexServer] = {}
        self._section = None

    def __repr__(self) -> str:
        return f"PlexProvider({self.label!r}, user={self.user!r}, library={self.library!r})"

    # Connection and errors ------------------------------------------------------------------------
    @contextlib.contextmanager
    def _errors(self, what: str, owner: str | None = None) -> Iterator[None]:
        """plexapi's exceptions as one ProviderError naming the server: their text (the server's
        answer and the request URL) is never passed on."""
        try:
            yield
        except ProviderError:
            raise
        except Unauthorized:
            who = owner or self.user
            raise ProviderAuthError(self.label, "rejected the credentials (X-Plex-Token"
                                                + (f" of user '{who}')" if who else ")")) from None
        except NotFound:
            raise ProviderError(self.label, f"{what}: not found") from None
        except BadRequest as exc:
            status = re.match(r"\((\d+)\)", str(exc))
            detail = f": HTTP {status.group(1)}" if status else ""
            raise ProviderError(self.label, f"{what} failed{detail}") from None
        except ParseError:
            raise ProviderError(self.label, f"{what}: the answer is not Plex XML (is this a Plex server?)") from None
        except (PlexApiException, requests.RequestException) as exc:
            raise ProviderError(self.label, f"{what} failed ({type(exc).__name__})") from None

    def _server(self, owner: str | None = None) -> PlexServer:
        """The connection acting as ``owner``: the configured token for ``None`` or the configured
        user, else that account's own token from ``PLEX_USER_TOKENS``. With no user configured,
        the token's account name is the server's ``myPlexUsername``."""
        if owner is not None and not self.user:
            self._server()
        who = None if owner is None or owner == self.user else owner
        if who not in self._servers:
            token = self._token if who is None else self._user_tokens.get(who)
            if not token:
                raise ProviderError(self.label, f"acting as user '{who}' needs that account's own token: Plex "
                                                f"playlists belong to the token's account; add '{who}:<token>' "
                                                "to PLEX_USER_TOKENS")
            with self._errors("connecting", owner=who):
                server = _Server(self.base_url, token, session=self._session, timeout=self._session.timeout)
            if not server.machineIdentifier:
                raise ProviderError(self.label, "did not answer as a Plex server (no machineIdentifier at /)")
            if who is None and not self.user:
                self.user = server.myPlexUsername or ""
            self._servers[who] = server
        return self._servers[who]

    def section(self):
        """The music library section (``PLEX_LIBRARY``, else the first of type ``artist``)."""
        if self._section is None:
            server = self._server()
            with self._errors("listing the library sections"):
                sections = server.library.sections()
            music = [s for s in sections if s.type == "artist"]
            if self.library:
                found = [s for s in sections if (s.title or "").strip().casefold() == self.library.strip().casefold()]
            else:
                found = music
            if not found:
                have = ", ".join(f"'{s.title}' ({s.type})" for s in sections) or "none"
                wanted = f"no library section named '{self.library}'" if self.library else "no music library"
                raise ProviderError(self.label, f"{wanted}; the server's sections: {have}")
            if found[0].type != "artist":
                raise ProviderError(self.label, f"library section '{found[0].title}' holds {found[0].type}, not music")
            self._section = found[0]
        return self._section

    # Catalog ------------------------------------------------------------------------------------
    def newest_albums(self, limit: int = 0) -> list[Album]:
        section = self.section()
        with self._errors("listing albums"):
            albums = section.searchAlbums(sort="addedAt:desc", maxresults=limit or None,
                                          container_size=self.page_size)
            return [Album(str(a.ratingKey), a.title or "", a.parentTitle or "", a.year,
                          _epoch(a._data.attrib.get("addedAt"))) for a in albums]

    def album_tracks(self, album_id: str) -> list[Track]:
        server = self._server()
        if not _DIGITS.match(str(album_id)):
            raise ProviderError(self.label, f"no album with id {album_id} (Plex ids are numbers)")
        with self._errors(f"listing the tracks of album {album_id}"):
            tracks = server.fetchItems(f"/library/metadata/{album_id}/children", cls=PlexTrack,
                                       container_size=self.page_size)
            return [_track(t, str(album_id)) for t in tracks]

    def download(self, track: Track, dest_dir: Path) -> Path:
        server = self._server()
        target = Path(dest_dir) / safe_filename(track.id, track.file_format)
        with self._errors(f"downloading '{track.title}' (id {track.id})"):
            items = server.fetchItems(self._keys_path([track.id]), cls=PlexTrack)
            key = next((p.key for t in items for p in t.iterParts() if p.key), None)
            if key is None:
                raise ProviderError(self.label, f"cannot download '{track.title}': no track with id {track.id}")
            response = self._session.get(server.url(f"{key}?download=1"), headers=server._headers(), stream=True)
            with response:
                if response.status_code == 401:
                    raise Unauthorized("(401)")
                if response.status_code != 200:
                    raise ProviderError(self.label, f"cannot download '{track.title}' (id {track.id}): "
                                                    f"HTTP {response.status_code}")
                write_whole(target, response.iter_content(1 << 16))
        return target

    def _keys_path(self, ids: Sequence[str]) -> str:
        bad = next((i for i in ids if not _DIGITS.match(str(i))), None)
        if bad is not None:
            raise ProviderError(self.label, f"no track with id {bad} (Plex ids are numbers)")
        return f"/library/metadata/{','.join(str(i) for i in ids)}"

    # Playlists ----------------------------------------------------------------------------------
    def _playlists(self, server: PlexServer, owner: str | None) -> list[PlexPlaylist]:
        with self._errors("listing playlists", owner):
            return list(server.playlists(playlistType="audio"))

    def list_playlists(self, owner: str | None = None) -> list[Playlist]:
        """The audio playlists of the token's account (or ``owner``'s, with that account's token)."""
        return [Playlist(str(p.ratingKey), p.title or "") for p in self._playlists(self._server(owner), owner)]

    def playlist_tracks(self, playlist_id: str, owner: str | None = None) -> list[str]:
        """Track ratingKeys in playlist order (``/playlists/{id}/items``, read without
        ``Playlist.items()``, which may reach plex.tv for items of other servers)."""
        server = self._server(owner)
        with self._playlist_errors(playlist_id, "reading", owner):
            items = server.fetchItems(f"/playlists/{playlist_id}/items", container_size=self.page_size)
        return [str(i.ratingKey) for i in items if i.ratingKey is not None]

    @contextlib.contextmanager
    def _playlist_errors(self, playlist_id: str, what: str, owner: str | None) -> Iterator[None]:
        """Like :meth:`_errors`; a playlist the account cannot see is "no playlist with id ..."."""
        if not _DIGITS.match(str(playlist_id)):
            raise ProviderError(self.label, f"no playlist with id {playlist_id}")
        try:
            with self._errors(f"{what} playlist {playlist_id}", owner):
                yield
        except ProviderError as exc:
            if str(exc).endswith(": not found"):
                raise ProviderError(self.label, f"no playlist with id {playlist_id}") from None
            raise

    def _tracks(self, server: PlexServer, ids: Sequence[str]) -> list[PlexTrack]:
        """The Plex track objects of ``ids`` in that order (duplicates kept): ``addItems`` needs them."""
        found: dict[str, PlexTrack] = {}
        unique = list(dict.fromkeys(str(i) for i in ids))
        for start in range(0, len(unique), KEY_CHUNK):
            chunk = unique[start : start + KEY_CHUNK]
            with self._errors("looking up tracks"):
                found.update((str(t.ratingKey), t) for t in server.fetchItems(self._keys_path(chunk), cls=PlexTrack))
        missing = next((i for i in unique if i not in found), None)
        if missing is not None:
            raise ProviderError(self.label, f"no track with id {missing}")
        return [found[str(i)] for i in ids]

    def create_or_replace_playlist(self, name: str, track_ids: Sequence[str], owner: str | None = None) -> Playlist:
        """Create ``name`` (``Playlist.create``) or replace the songs of the existing one in place."""
        server = self._server(owner)
        tracks = self._tracks(server, track_ids)  # every id checked before anything changes
        existing = next((p for p in self._playlists(server, owner) if p.title == name and not p.smart), None)
        chunks = [tracks[i : i + KEY_CHUNK] for i in range(0, len(tracks), KEY_CHUNK)]
        with self._errors(f"publishing playlist '{name}'", owner):
            if existing is None:
                if not tracks:
                    raise ProviderError(self.label, f"cannot create playlist '{name}' without tracks "
                                                    "(Plex stores no empty playlists)")
                existing = PlexPlaylist.create(server, name, items=chunks.pop(0))
            else:
                server.query(f"{existing.key}/items", method=server._session.delete)
            for chunk in chunks:
                existing.addItems(chunk)
        return Playlist(str(existing.ratingKey), name)

    def delete_playlist(self, playlist_id: str, owner: str | None = None) -> None:
        server = self._server(owner)
        with self._playlist_errors(playlist_id, "deleting", owner):
            server.fetchItem(f"/playlists/{playlist_id}", cls=PlexPlaylist).delete()

    # History ------------------------------------------------------------------------------------
    def _account_id(self, user: str | None) -> int:
        if not user or user == self.user:
            return OWNER_ACCOUNT_ID
        with self._errors("listing accounts"):
            accounts = self._server().systemAccounts()
        match = next((a.id for a in accounts if (a.name or "").casefold() == user.casefold()), None)
        if match is None:
            names = ", ".join(repr(a.name) for a in accounts if a.name) or "none"
            raise ProviderError(self.label, f"no Plex account named '{user}' (accounts: {names})")
        return match

    def top_played(self, limit: int = 100, user: str | None = None) -> list[PlayedTrack]:
        """``user``'s plays in the music section (``/status/sessions/history/all``), counted per
        track, most played first, then most recently played."""
        section, account = self.section(), self._account_id(user)
        with self._errors("reading the play history"):
            plays = self._server().history(accountID=account, librarySectionID=section.key)
        counts: Counter[str] = Counter()
        last: dict[str, datetime] = {}
        for play in plays:
            if play.ratingKey is None or getattr(play, "type", "track") != "track":
                continue
            key = str(play.ratingKey)
            counts[key] += 1
            at = _epoch(play._data.attrib.get("viewedAt"))
            if at and (key not in last or at > last[key]):
                last[key] = at
        epoch = datetime.min.replace(tzinfo=timezone.utc)
        ranked = sorted(counts, key=lambda k: (-counts[k], -(last.get(k) or epoch).timestamp()))
        return [PlayedTrack(k, counts[k], last.get(k)) for k in ranked[: limit or None]]

    def close(self) -> None:
        self._servers.clear()
        self._session.close()


def _track(t: PlexTrack, album_id: str) -> Track:
    return Track(
        id=str(t.ratingKey), album_id=str(t.parentRatingKey or album_id), title=t.title or "",
        artist=t.originalTitle or t.grandparentTitle or "", album=t.parentTitle or "",
        duration=t.duration / 1000 if t.duration else None, file_format=_format(t), track_number=t.index,
    )


def _format(t: PlexTrack) -> str | None:
    """The file's suffix from its path if the server gave one, else the part's or media's container."""
    for media in t.media:
        for part in media.parts:
            if part.file:
                pure = PureWindowsPath(part.file) if "\\" in part.file else PurePosixPath(part.file)
                if pure.suffix:
                    return pure.suffix.lstrip(".").lower()
            if part.container or media.container:
                return (part.container or media.container).lower()
    return None


def _epoch(value) -> datetime | None:
    """Plex's epoch seconds as an aware UTC datetime (plexapi's own are naive local times)."""
    try:
        return datetime.fromtimestamp(int(value), timezone.utc) if value else None
    except (TypeError, ValueError, OverflowError):
        return None
