"""MPD (Music Player Daemon), over its own text protocol with the ``python-mpd2`` client.

``MEDIA_SERVER_URL`` is ``mpd://host:6600`` (``host:port``, a bare host, or a unix socket path
also work); ``MEDIA_SERVER_PASSWORD`` is sent with MPD's ``password`` command when set. MPD serves
no audio files over its protocol, so downloads copy the file from ``MPD_MUSIC_DIR``: the local path
of MPD's ``music_directory`` (MPD's file URIs are relative to it).

What is read, and why:

* **Albums**: MPD has no album objects or ids. An album is the songs sharing (album artist,
  album) - MPD itself falls back to the artist when a song has no album artist, in ``list`` and
  ``find`` alike - and its id is a hash of that pair. Songs without an album tag are grouped by
  their folder (named after it). ``newest_albums`` pages through
  ``find "(modified-since '0')" sort -Last-Modified window a:b`` (newest files first), so an
  album is as new as its newest file: **the files' Last-Modified**, since MPD 0.23 has no
  ``added`` song attribute (it came with 0.24). Paging keeps each answer under MPD's output
  buffer limit (``listallinfo`` of a large library overflows it).
* **Tracks**: ``find albumartist <a> album <b>`` (or ``lsinfo <folder>``); a track's id is its MPD
  file URI.
* **Playlists** are MPD stored playlists, identified by name: ``listplaylists``,
  ``listplaylist``, and a replace is ``playlistclear`` + ``playlistadd`` on the same name, so the
  playlist keeps its name (its id) and place. ``/`` and line breaks cannot be in a stored
  playlist's name and become ``_``.
* **Listening history**: MPD keeps none. Clients that count plays store them as song stickers;
  this reads the ``playCount`` sticker (``sticker find song "" playCount``) and ``lastPlayed``
  (Unix seconds or ISO 8601), the names myMPD writes. Without a sticker database or any such
  sticker, :meth:`MPDProvider.top_played` is ``[]`` (no history).
* **Users**: MPD has none: one password guards the whole server and every client sees every
  stored playlist. The ``owner`` / ``user`` arguments are accepted and ignored (as for a local
  folder or Lyrion), so MPD suits one listener; names are not prefixed with an owner.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import socket
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import mpd

from audiomuse.media import Album, PlayedTrack, Playlist, Track
from audiomuse.providers.base import MediaProvider, ProviderAuthError, ProviderError, ProviderUnavailable
from audiomuse.providers.values import float_or_none, int_or_none
from audiomuse.text import safe_filename

log = logging.getLogger(__name__)

DEFAULT_PORT = 6600
PAGE = 1000  # songs per ``find ... window``: well under MPD's default 8 MiB output buffer
GREETING_TIMEOUT = 5.0  # MPD greets at once; silence means something else listens there
ACK_PASSWORD, ACK_PERMISSION, ACK_NO_EXIST = 3, 4, 50
PLAY_COUNT, LAST_PLAYED = "playCount", "lastPlayed"
_ALL_SONGS = "(modified-since '0')"


def parse_address(url: str) -> tuple[str, int | None, str]:
    """``(host or socket path, port or None, label)`` from ``mpd://host:port``, ``host:port``,
    ``host`` or ``/path/to/socket``."""
    text = (url or "").strip()
    if text.startswith("/"):
        return text, None, f"MPD server at {text}"
    parts = urlsplit(text if "://" in text else f"mpd://{text}")
    if parts.scheme != "mpd":
        raise ProviderError("MPD", f"MEDIA_SERVER_URL must look like mpd://host:{DEFAULT_PORT} (MPD speaks its own "
                                   f"protocol, not {parts.scheme}://)")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise ProviderError("MPD", "MEDIA_SERVER_URL has a bad port") from None
    host = parts.hostname or "localhost"
    return host, port, f"MPD server at mpd://{host}:{port}"


class MPDProvider(MediaProvider):
    kind = "mpd"

    def __init__(self, url: str, password: str = "", music_dir: Path | None = None, *, timeout: float = 30.0,
                 retries: int = 3, backoff: float = 0.5, page_size: int = PAGE):
        self.host, self.port, self.label = parse_address(url)
        self._password = password
        self.music_dir = Path(music_dir).expanduser().resolve() if music_dir else None
        if self.music_dir is not None and not self.music_dir.is_dir():
            raise ProviderError(self.label, f"MPD_MUSIC_DIR {self.music_dir} does not exist")
        self.timeout, self.retries, self.backoff = timeout, max(1, retries), backoff
        self.page_size = max(1, page_size)
        self._client: mpd.MPDClient | None = None
        self._albums: dict[str, tuple[str, str, str]] = {}  # album id -> (artist, album, folder)

    def __repr__(self) -> str:
        return f"MPDProvider({self.label!r})"

    # Connection -----------------------------------------------------------------------------------
    def _connect(self) -> mpd.MPDClient:
        """A connected (and authenticated) client; retried with backoff while the server is down."""
        for attempt in range(self.retries):
            client = mpd.MPDClient()
            client.timeout = min(self.timeout, GREETING_TIMEOUT)
            try:
                client.connect(self.host, self.port)
                break
            except (TimeoutError, socket.timeout):
                _close(client)
                raise self._silent_listener(client.timeout) from None
            except mpd.ProtocolError:
                _close(client)
                raise ProviderError(self.label, "answered something that is not an MPD greeting: "
                                    + self._not_mpd(self._probe_http())) from None
            except (OSError, mpd.ConnectionError) as exc:
                reason = _reason(exc)
                _close(client)
            if attempt + 1 < self.retries:
                log.warning("%s: %s, retrying (%d/%d)", self.label, reason, attempt + 1, self.retries - 1)
                time.sleep(self.backoff * 2 ** attempt)
        else:
            raise ProviderUnavailable(self.label, f"unreachable after {self.retries} attempts: {reason}")
        client.timeout = self.timeout
        if self._password:
            try:
                client.password(self._password)
            except mpd.CommandError as exc:
                _close(client)
                if _ack(exc) == ACK_PASSWORD:
                    raise ProviderAuthError(self.label, "rejected the password (MEDIA_SERVER_PASSWORD)") from None
                raise ProviderError(self.label, f"password command failed: {_ack_text(exc)}") from None
        return client

    def _silent_listener(self, waited: float) -> ProviderError:
        """No greeting in time: nothing reachable there (unavailable), or a listener that waits to
        be asked, like an HTTP server (a web app, a reverse proxy's login page)."""
        answers = self._probe_http()
        if answers is None:
            return ProviderUnavailable(self.label, f"no answer within {waited:g} s")
        return ProviderError(self.label, f"sent no MPD greeting within {waited:g} s: " + self._not_mpd(answers))

    @staticmethod
    def _not_mpd(http: bool | None) -> str:
        kind = "an HTTP server (a web page or a proxy's login page?)" if http else "something that is not MPD"
        return f"{kind} listens there; MEDIA_SERVER_URL must point at MPD's own port ({DEFAULT_PORT} by default)"

    def _probe_http(self) -> bool | None:
        """Does the listener answer an HTTP request with an HTTP status line? None: cannot connect."""
        if self.port is None:
            return False
        try:
            with socket.create_connection((self.host, self.port), timeout=GREETING_TIMEOUT) as s:
                s.sendall(f"HEAD / HTTP/1.0\r\nHost: {self.host}\r\n\r\n".encode())
                return s.recv(5) == b"HTTP/"
        except OSError:
            return None

    def _run(self, action: Callable[[mpd.MPDClient], object], *, command_list: bool = False):
        """``action(client)``; a connection MPD dropped (it closes idle ones after its
        ``connection_timeout``) is reopened once and the action repeated, so actions are idempotent."""
        for attempt in range(2):
            if self._client is None:
                self._client = self._connect()
            try:
                return action(self._client)
            except mpd.CommandError as exc:
                if command_list:
                    self.close()  # an error inside a command list leaves the client out of step
                raise self._command_error(exc) from None
            except (mpd.ConnectionError, OSError) as exc:
                _close(self._client)
                self._client = None
                if attempt:
                    raise ProviderUnavailable(self.label, f"connection lost: {_reason(exc)}") from None
                log.info("%s: connection lost (%s), reconnecting", self.label, _reason(exc))
        raise AssertionError("unreachable")

    def _command_error(self, exc: mpd.CommandError) -> ProviderError:
        code = _ack(exc)
        if code == ACK_PERMISSION:
            need = "a different password" if self._password else "a password (set MEDIA_SERVER_PASSWORD)"
            return ProviderAuthError(self.label, f"refused the command: it needs {need}")
        if code == ACK_PASSWORD:
            return ProviderAuthError(self.label, "rejected the password (MEDIA_SERVER_PASSWORD)")
        return ProviderError(self.label, _ack_text(exc))

    def call(self, command: str, *args):
        """One MPD command by its python-mpd2 name (``find``, ``listplaylist``...)."""
        return self._run(lambda c: getattr(c, command)(*args))

    def batch(self, commands: Sequence[tuple]) -> list:
        """Several commands in one ``command_list_ok_begin`` round trip; their answers in order."""
        if not commands:
            return []

        def send(c):
            c.command_list_ok_begin()
            for name, *args in commands:
                getattr(c, name)(*args)
            return c.command_list_end()

        return self._run(send, command_list=True)

    # Catalog ----------------------------------------------------------------------------------------
    def _songs_newest_first(self):
        """Every song, newest file first, one page of ``window`` at a time."""
        start = 0
        while True:
            page = self.call("find", _ALL_SONGS, "sort", "-Last-Modified", "window", f"{start}:{start + self.page_size}")
            yield from page
            if len(page) < self.page_size:
                return
            start += self.page_size

    def newest_albums(self, limit: int = 0) -> list[Album]:
        albums: dict[str, Album] = {}
        for song in self._songs_newest_first():
            key = _album_key(song)
            album_id = _album_id(*key)
            if album_id not in albums:  # newest first: the first file seen is the album's newest
                self._albums[album_id] = key
                artist, name, folder = key
                albums[album_id] = Album(album_id, name or _folder_name(folder), artist, _year(_tag(song, "date")),
                                         _modified(song))
                if limit and len(albums) >= limit:
                    break
        return list(albums.values())

    def _album_of(self, album_id: str) -> tuple[str, str, str]:
        """The (artist, album, folder) an album id stands for. A fresh instance (one analysis run)
        rebuilds the map from the album list and the album-less songs, not from every song."""
        if album_id not in self._albums:
            for row in self.call("list", "album", "group", "albumartist"):
                key = (_tag(row, "albumartist"), _tag(row, "album"), "")
                if key[1]:
                    self._albums.setdefault(_album_id(*key), key)
            if album_id not in self._albums:
                for song in self.call("find", "(album == '')"):
                    key = _album_key(song)
                    self._albums.setdefault(_album_id(*key), key)
        try:
            return self._albums[album_id]
        except KeyError:
            raise ProviderError(self.label, f"no album with id {album_id}") from None

    def album_tracks(self, album_id: str) -> list[Track]:
        artist, name, folder = self._album_of(album_id)
        if name:
            songs = self.call("find", "albumartist", artist, "album", name)
        else:
            songs = [s for s in self.call("lsinfo", folder) if "file" in s and not _tag(s, "album")]
        tracks = [_track(s, album_id, name or _folder_name(folder)) for s in songs if _album_key(s) == (artist, name, folder)]
        return sorted(tracks, key=lambda t: (t.track_number or 10_000, t.id))

    def path_of(self, track_id: str) -> Path:
        """The local file of an MPD file URI, inside ``MPD_MUSIC_DIR``."""
        if self.music_dir is None:
            raise ProviderError(self.label, "MPD serves no audio files: set MPD_MUSIC_DIR to the local path of MPD's "
                                            "music_directory to download tracks")
        path = (self.music_dir / track_id).resolve()
        if not path.is_relative_to(self.music_dir):
            raise ProviderError(self.label, f"track {track_id!r} is outside MPD_MUSIC_DIR")
        return path

    def download(self, track: Track, dest_dir: Path) -> Path:
        source = self.path_of(track.id)
        target = Path(dest_dir) / safe_filename(Path(track.id).stem, source.suffix.lstrip("."))
        try:
            shutil.copyfile(source, target)
        except FileNotFoundError:
            raise ProviderError(self.label, f"'{track.id}' is not in MPD_MUSIC_DIR {self.music_dir} (is it the "
                                            "same folder as MPD's music_directory?)") from None
        except OSError as exc:
            raise ProviderError(self.label, f"cannot read '{track.id}': {exc.strerror}") from None
        return target

    # Playlists -------------------------------------------------------------------------------------
    def list_playlists(self, owner: str | None = None) -> list[Playlist]:
        """Every stored playlist; its id is its name (MPD has no users: ``owner`` is ignored)."""
        return [Playlist(p["playlist"], p["playlist"]) for p in self.call("listplaylists") if "playlist" in p]

    def playlist_tracks(self, playlist_id: str, owner: str | None = None) -> list[str]:
        """``listplaylist``: the file URIs in order (``owner`` is ignored)."""
        try:
            return list(self.call("listplaylist", playlist_id))
        except ProviderError as exc:
            if "no such playlist" in str(exc).lower():
                raise ProviderError(self.label, f"no playlist with id {playlist_id}") from None
            raise

    def create_or_replace_playlist(self, name: str, track_ids: Sequence[str], owner: str | None = None) -> Playlist:
        """``playlistclear`` + ``playlistadd`` on the same stored playlist (created by its first
        ``playlistadd``). Unknown URIs fail before the playlist is touched. MPD has no users:
        ``owner`` is ignored."""
        name = _playlist_name(name)
        uris = [str(t) for t in track_ids]
        found = self.batch([("find", "file", uri) for uri in uris])
        missing = [uri for uri, hits in zip(uris, found) if not hits]
        if missing:
            raise ProviderError(self.label, f"no track with id {missing[0]!r}" +
                                (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
        if name not in {p.name for p in self.list_playlists()}:
            seed = uris[0] if uris else self._any_song()
            self.call("playlistadd", name, seed)  # creates it; the clear below makes this idempotent
        self.batch([("playlistclear", name), *(("playlistadd", name, uri) for uri in uris)])
        return Playlist(name, name)

    def _any_song(self) -> str:
        """A song to create an empty playlist with (MPD 0.23 creates stored playlists by adding)."""
        songs = self.call("find", _ALL_SONGS, "window", "0:1")
        if not songs:
            raise ProviderError(self.label, "cannot create an empty playlist on an empty library")
        return songs[0]["file"]

    def delete_playlist(self, playlist_id: str, owner: str | None = None) -> None:
        """``rm``; a playlist already gone is fine (``owner`` is ignored)."""
        try:
            self.call("rm", playlist_id)
        except ProviderError as exc:
            if "no such playlist" not in str(exc).lower():
                raise

    # History ---------------------------------------------------------------------------------------
    def top_played(self, limit: int = 100, user: str | None = None) -> list[PlayedTrack]:
        """Songs by their ``playCount`` sticker, most played first, with ``lastPlayed``; ``[]``
        when the server has no sticker database or no song has a count (MPD has no users:
        ``user`` is ignored)."""
        try:
            found = self.call("sticker_find", "song", "", PLAY_COUNT)
        except ProviderAuthError:
            raise
        except ProviderError as exc:
            log.info("%s keeps no play counts (%s): no listening history", self.label, exc)
            return []
        counts = {}
        for row in found:
            count = int_or_none(str(row.get("sticker", "")).partition("=")[2])
            if row.get("file") and count and count > 0:
                counts[row["file"]] = count
        top = sorted(counts, key=lambda f: (-counts[f], f))[:limit or None]
        stickers = self.batch([("sticker_list", "song", f) for f in top])
        return [PlayedTrack(f, counts[f], _when(s.get(LAST_PLAYED) if isinstance(s, dict) else None))
                for f, s in zip(top, stickers)]

    def close(self) -> None:
        if self._client is not None:
            _close(self._client)
            self._client = None


def _close(client: mpd.MPDClient) -> None:
    try:
        client.disconnect()
    except Exception:  # noqa: BLE001 - closing a broken connection must not raise
        pass


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    if isinstance(exc, FileNotFoundError):
        return "no such socket"
    return getattr(exc, "strerror", None) or type(exc).__name__


def _ack(exc: mpd.CommandError) -> int | None:
    """The ACK error code of ``[code@index] {command} message``."""
    text = str(exc)
    try:
        return int(text[1:text.index("@")])
    except ValueError:
        return None


def _ack_text(exc: mpd.CommandError) -> str:
    """``{command} message`` of an ACK line (MPD never echoes a password in it)."""
    text = str(exc)
    return text.split("] ", 1)[1] if "] " in text else text


def _tag(song: dict, name: str) -> str:
    """One tag value (python-mpd2 gives a list for a repeated tag: the first)."""
    value = song.get(name)
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value or "").strip()


def _album_key(song: dict) -> tuple[str, str, str]:
    """(album artist falling back to artist, album, folder - kept only when there is no album)."""
    artist = _tag(song, "albumartist") or _tag(song, "artist")
    album = _tag(song, "album")
    return artist, album, "" if album else os.path.dirname(song.get("file", ""))


def _album_id(artist: str, album: str, folder: str) -> str:
    text = f"{artist}\x00{album}" if album else f"folder\x00{folder}"
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _folder_name(folder: str) -> str:
    return os.path.basename(folder) or "Unknown album"


def _track(song: dict, album_id: str, album: str) -> Track:
    file = song["file"]
    return Track(
        id=file, album_id=album_id, title=_tag(song, "title") or Path(file).stem,
        artist=_tag(song, "artist") or _tag(song, "albumartist"), album=album,
        duration=float_or_none(song.get("duration") or song.get("time")),
        file_format=Path(file).suffix.lstrip(".").lower() or None, track_number=int_or_none(_tag(song, "track").split("/")[0]),
    )


def _playlist_name(name: str) -> str:
    """MPD refuses ``/`` in a stored playlist's name and a line break ends a protocol line."""
    clean = "".join("_" if c == "/" or ord(c) < 32 else c for c in str(name)).strip()
    if not clean:
        raise ProviderError("MPD", "a playlist needs a name")
    return clean


def _modified(song: dict) -> datetime | None:
    return _when(song.get("last-modified"))


def _when(value) -> datetime | None:
    """A sticker or attribute time: Unix seconds or ISO 8601 (``2026-12-03T14:07:53Z``)."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    try:
        return datetime.fromtimestamp(float(text), timezone.utc)
    except ValueError:
        pass
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


def _year(value: str) -> int | None:
    return int_or_none(value[:4]) if value else None
