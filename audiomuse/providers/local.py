"""A plain music folder as the library: tags read with mutagen, playlists written as .m3u8.

The default provider: no media server needed.

* Files: every file with an audio suffix (mp3, flac, ogg, opus, m4a, wav, aiff, ...) under the folder,
  except hidden ones and the playlists folder. A file that is not audio at all (a zero-byte file,
  a text file named ``.mp3``: no audio container signature) is skipped with a warning, never a
  crash. A damaged audio file (the signature is there but mutagen cannot parse it, e.g. a
  truncated download) is listed from its path with a warning, so that the analysis records why
  it fails rather than the song silently missing.
* Tags: ``mutagen.File(path, easy=True)`` (ID3 frames of WAV/AIFF files mapped to the same names);
  missing tags fall back to the folders ``Artist/Album/`` and the file name (``"03 - Title.flac"``
  gives track 3, "Title").
* Albums group tracks by folder and album name; ids are short hashes (16 hex chars) of the album's
  relative folder + name and of each track's relative path: stable across runs and instances, and
  safe as Dagster partition keys. ``added`` is the newest mtime of the album's files.
* The scan is cached per instance; :meth:`LocalFolderProvider.refresh` re-reads only files whose
  size or mtime changed.
* Playlists are ``<name>.m3u8`` files (``#EXTM3U``/``#EXTINF``, paths relative to the playlist) in
  ``<music>/playlists`` (or ``playlist_dir``), replaced atomically; a playlist's id is its file name.
  :meth:`LocalFolderProvider.playlist_tracks` reads one back: each path line (relative to the
  playlist, absolute, or a ``file://`` URL) names a file of the music folder, whose id is the hash
  of its relative path, as the scan names tracks. A folder has no users: ``owner`` is ignored.
* Listening history: a plain folder has none, unless an Audioscrobbler log (``.scrobbler.log``,
  written by Rockbox and many players) lies in the music folder; otherwise :meth:`top_played` is ``[]``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote, urlsplit

from audiomuse.media import Album, PlayedTrack, Playlist, Track
from audiomuse.providers.base import MediaProvider, ProviderError
from audiomuse.providers.scrobbler_log import plays_to_tracks, read_scrobbler_log

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = {".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".mp4", ".aac", ".wav", ".aif", ".aiff",
                  ".wma", ".ape", ".wv"}
SCROBBLE_LOG = ".scrobbler.log"


def short_id(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]


class LocalFolderProvider(MediaProvider):
    kind = "local"

    def __init__(self, music_dir: Path, playlist_dir: Path | None = None):
        self.root = Path(music_dir).expanduser().resolve()
        if not self.root.is_dir():
            raise ProviderError("local folder", f"music folder {self.root} does not exist")
        self.playlist_dir = Path(playlist_dir).expanduser().resolve() if playlist_dir else self.root / "playlists"
        self._albums: dict[str, Album] | None = None
        self._tracks: dict[str, list[Track]] = {}
        self._paths: dict[str, Path] = {}
        self._tag_cache: dict[Path, tuple[tuple[int, int], dict | None]] = {}  # path -> ((mtime_ns, size), tags)

    # Scanning ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the folder: tags only (no audio decoding), and only for new or changed files."""
        albums: dict[str, dict] = {}
        tracks: dict[str, list[Track]] = {}
        paths: dict[str, Path] = {}
        cache: dict[Path, tuple[tuple[int, int], dict | None]] = {}
        for path in sorted(self._audio_files()):
            try:
                stat = path.stat()
            except OSError:
                continue  # vanished while scanning
            key = (stat.st_mtime_ns, stat.st_size)
            cached = self._tag_cache.get(path)
            tags = cached[1] if cached and cached[0] == key else _read_tags(path, stat.st_size)
            cache[path] = (key, tags)
            if tags is None:
                continue  # not audio: warned about once, when read
            rel = path.relative_to(self.root)
            number, stem_title = _from_filename(path.stem)
            folder_artist = rel.parts[-3] if len(rel.parts) >= 3 else ""
            artist = tags.get("albumartist") or tags.get("artist") or folder_artist
            album_name = tags.get("album") or (rel.parent.name if rel.parent != Path(".") else "Unknown album")
            album_id = short_id(f"{rel.parent.as_posix()}|{album_name}")
            entry = albums.setdefault(album_id, {"name": album_name, "artist": artist, "mtime": 0.0, "year": None})
            entry["mtime"] = max(entry["mtime"], stat.st_mtime)
            entry["year"] = entry["year"] or _year(tags.get("date") or tags.get("year"))
            track_id = short_id(rel.as_posix())
            paths[track_id] = path
            tracks.setdefault(album_id, []).append(Track(
                id=track_id, album_id=album_id, title=tags.get("title") or stem_title,
                artist=tags.get("artist") or artist, album=album_name, duration=tags.get("length"),
                file_format=path.suffix.lower().lstrip("."),
                track_number=_number(tags.get("tracknumber")) or number,
            ))
        for album_tracks in tracks.values():
            album_tracks.sort(key=lambda t: (t.track_number or 10_000, t.title, t.id))
        self._tag_cache, self._tracks, self._paths = cache, tracks, paths
        self._albums = {
            aid: Album(aid, a["name"], a["artist"], a["year"], datetime.fromtimestamp(a["mtime"], timezone.utc))
            for aid, a in albums.items()
        }

    def _audio_files(self):
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".") and Path(dirpath, d) != self.playlist_dir]
            for name in filenames:
                if Path(name).suffix.lower() in AUDIO_SUFFIXES and not name.startswith("."):
                    yield Path(dirpath, name)

    def _scan(self) -> dict[str, Album]:
        if self._albums is None:
            self.refresh()
        return self._albums

    # MediaProvider ------------------------------------------------------------------------------
    def newest_albums(self, limit: int = 0) -> list[Album]:
        albums = sorted(self._scan().values(), key=lambda a: (a.added, a.id), reverse=True)
        return albums[:limit] if limit else albums

    def album_tracks(self, album_id: str) -> list[Track]:
        self._scan()
        if album_id not in self._albums:
            raise ProviderError("local folder", f"no album with id {album_id}")
        return list(self._tracks.get(album_id, []))

    def path_of(self, track_id: str) -> Path:
        self._scan()
        try:
            return self._paths[track_id]
        except KeyError:
            raise ProviderError("local folder", f"no track with id {track_id}") from None

    def download(self, track: Track, dest_dir: Path) -> Path:
        source = self.path_of(track.id)
        target = Path(dest_dir) / f"{track.id}{source.suffix.lower()}"
        try:
            shutil.copyfile(source, target)
        except OSError as exc:
            raise ProviderError("local folder", f"cannot read {source.name}: {exc.strerror}") from None
        return target

    def list_playlists(self, owner: str | None = None) -> list[Playlist]:
        """Every ``.m3u8`` of the playlist folder (a folder has no users: ``owner`` is ignored)."""
        if not self.playlist_dir.is_dir():
            return []
        return [Playlist(p.name, _playlist_name(p)) for p in sorted(self.playlist_dir.glob("*.m3u8"))]

    def create_or_replace_playlist(self, name: str, track_ids: Sequence[str], owner: str | None = None) -> Playlist:
        """Write ``<name>.m3u8``: ``#EXTM3U``, ``#PLAYLIST:<name>``, then per track ``#EXTINF:<seconds>,
        <artist> - <title>`` and its path relative to the playlist (``/`` separators). A folder has
        no users: ``owner`` is ignored."""
        paths = [self.path_of(tid) for tid in track_ids]  # unknown ids fail before anything is written
        by_id = {t.id: t for tracks in self._tracks_all() for t in tracks}
        self.playlist_dir.mkdir(parents=True, exist_ok=True)
        file = self.playlist_dir / f"{_file_safe(name)}.m3u8"
        lines = ["#EXTM3U", f"#PLAYLIST:{_one_line(name)}"]
        for tid, path in zip(track_ids, paths):
            t = by_id.get(tid)
            if t:
                seconds = round(t.duration) if t.duration else -1
                lines.append(f"#EXTINF:{seconds},{_one_line(t.artist)} - {_one_line(t.title)}")
            lines.append(Path(os.path.relpath(path, self.playlist_dir)).as_posix())
        tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
            os.replace(tmp, file)  # atomic: a reader sees the old or the new playlist, never half of one
        finally:
            tmp.unlink(missing_ok=True)
        return Playlist(file.name, name)

    def _playlist_file(self, playlist_id: str) -> Path:
        if Path(playlist_id).name != playlist_id or not playlist_id.endswith(".m3u8"):
            raise ProviderError("local folder", f"not a playlist id: {playlist_id!r}")
        return self.playlist_dir / playlist_id

    def delete_playlist(self, playlist_id: str, owner: str | None = None) -> None:
        self._playlist_file(playlist_id).unlink(missing_ok=True)

    def playlist_tracks(self, playlist_id: str, owner: str | None = None) -> list[str]:
        """The track ids of ``<playlist_id>`` (a ``.m3u8`` file name), in its order. A line naming
        no file of the music folder (moved, deleted, outside it) is skipped with a warning. A folder
        has no users: ``owner`` is ignored."""
        file = self._playlist_file(playlist_id)
        try:
            text = file.read_text(encoding="utf-8-sig", errors="replace")
        except FileNotFoundError:
            raise ProviderError("local folder", f"no playlist {playlist_id!r} in {self.playlist_dir}") from None
        except OSError as exc:
            raise ProviderError("local folder", f"cannot read playlist {playlist_id!r}: {exc.strerror}") from None
        self._scan()
        ids = []
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            track_id = self._track_id_of(line)
            if track_id is None:
                log.warning("%s: %r is not a track of %s, skipped", file.name, line, self.root)
            else:
                ids.append(track_id)
        return ids

    def _track_id_of(self, entry: str) -> str | None:
        """The id of the music file a playlist line names, as :meth:`refresh` names it."""
        if entry.lower().startswith("file://"):
            entry = unquote(urlsplit(entry).path)
        path = Path(entry.replace("\\", "/"))
        path = path if path.is_absolute() else self.playlist_dir / path
        try:
            rel = Path(os.path.normpath(path)).relative_to(self.root)
        except ValueError:
            try:
                rel = path.resolve().relative_to(self.root)
            except (OSError, ValueError):
                return None
        track_id = short_id(rel.as_posix())
        return track_id if track_id in self._paths else None

    def top_played(self, limit: int = 100, user: str | None = None) -> list[PlayedTrack]:
        """From ``.scrobbler.log`` in the music folder; no log, no history."""
        log_file = self.root / SCROBBLE_LOG
        if not log_file.exists():
            return []
        tracks = [(t.id, t.artist, t.title) for tracks in self._tracks_all() for t in tracks]
        return plays_to_tracks(read_scrobbler_log(log_file), tracks, limit)

    def _tracks_all(self):
        self._scan()
        return self._tracks.values()


# ID3 frames (WAV and AIFF files carry ID3 tags that mutagen's easy mode does not map)
_ID3_NAMES = {"TIT2": "title", "TPE1": "artist", "TPE2": "albumartist", "TALB": "album", "TRCK": "tracknumber",
              "TDRC": "date", "TYER": "date", "TCON": "genre"}


def _read_tags(path: Path, size: int | None = None) -> dict | None:
    """Tags and length, or ``None`` (with a warning) for a file that is not readable audio."""
    import mutagen

    if size == 0:
        log.warning("%s: empty file, skipped", path)
        return None
    try:
        audio = mutagen.File(str(path), easy=True)
    except Exception as exc:  # noqa: BLE001 - mutagen raises many types on broken files
        audio, error = None, type(exc).__name__
    else:
        error = "unknown format"
    if audio is None:
        if _looks_like_audio(path):
            # A damaged audio file (a truncated download, a bad rip): listed from its path, so the
            # analysis records why it fails instead of the song silently missing from the library.
            log.warning("%s: damaged audio file (%s), listed without tags", path, error)
            return {"length": None}
        log.warning("%s: not an audio file (%s), skipped", path, error)
        return None
    tags: dict = {}
    for key, value in (audio.tags or {}).items():
        name = _ID3_NAMES.get(key[:4], key) if key[:4] in _ID3_NAMES else key
        text = getattr(value, "text", value)  # an ID3 frame or an easy-tag list
        if isinstance(text, list):
            text = text[0] if text else None
        if text is not None and name not in tags:
            tags[name] = str(text).strip()
    info = getattr(audio, "info", None)
    length = getattr(info, "length", None)
    tags["length"] = float(length) if length else None
    return tags


def _looks_like_audio(path: Path) -> bool:
    """Does the file start with an audio container's signature (Ogg, FLAC, ID3/MPEG, RIFF WAVE,
    AIFF, MP4, APE, WavPack, ASF, Musepack)? Tells a damaged audio file from a text file named .mp3."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    if len(head) < 4:
        return False
    return (
        head[:4] in (b"OggS", b"fLaC", b"MAC ", b"wvpk", b"MPCK", b"0&\xb2u")
        or head[:3] in (b"ID3", b"MP+")
        or (head[0] == 0xFF and head[1] & 0xE0 == 0xE0)  # MPEG audio frame sync
        or (head[:4] == b"RIFF" and head[8:12] == b"WAVE")
        or (head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"))
        or head[4:8] == b"ftyp"
    )


_FILENAME_NUMBER = re.compile(r"^\s*(?:\d+-)?(\d{1,3})(?:\s*[-._]\s*|\s+)(.+)$")


def _from_filename(stem: str) -> tuple[int | None, str]:
    """``"03 - Night Drive"`` -> (3, "Night Drive"); ``"1-02 Intro"`` -> (2, "Intro"); else (None, stem)."""
    match = _FILENAME_NUMBER.match(stem)
    if match and match.group(2).strip():
        return int(match.group(1)), match.group(2).strip()
    return None, stem


def _number(value) -> int | None:
    try:
        return int(str(value).split("/")[0])
    except (TypeError, ValueError):
        return None


def _year(value) -> int | None:
    try:
        return int(str(value)[:4])
    except (TypeError, ValueError):
        return None


def _file_safe(name: str) -> str:
    return "".join("_" if c in '\\/:*?"<>|' or ord(c) < 32 else c for c in name).strip(" .") or "playlist"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _playlist_name(file: Path) -> str:
    """The ``#PLAYLIST:`` name written by :meth:`create_or_replace_playlist`, else the file stem."""
    try:
        with open(file, encoding="utf-8", errors="replace") as f:
            for _, line in zip(range(3), f):
                if line.startswith("#PLAYLIST:"):
                    return line[len("#PLAYLIST:"):].strip() or file.stem
    except OSError:
        pass
    return file.stem
