"""A plain music folder as the library: tags read with mutagen, playlists written as .m3u8.

The default provider: no media server needed. Album and track ids are short hashes of relative
paths, stable across runs and safe as Dagster partition keys. Listening history, if any, comes
from an Audioscrobbler log (``.scrobbler.log``) in the music folder.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from audiomuse.providers.base import Album, MediaProvider, PlayedTrack, Playlist, ProviderError, Track

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
        self.playlist_dir = Path(playlist_dir) if playlist_dir else self.root / "playlists"
        self._albums: dict[str, Album] | None = None
        self._tracks: dict[str, list[Track]] = {}
        self._paths: dict[str, Path] = {}

    # Scanning ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the folder (cheap: tags only, no audio decoding)."""
        albums: dict[str, dict] = {}
        self._tracks, self._paths = {}, {}
        for path in sorted(self._audio_files()):
            rel = path.relative_to(self.root)
            tags = _read_tags(path)
            artist = tags.get("albumartist") or tags.get("artist") or (rel.parts[0] if len(rel.parts) > 2 else "")
            album_name = tags.get("album") or (rel.parent.name if rel.parent != Path(".") else "Unknown album")
            album_id = short_id(f"{rel.parent}|{album_name}")
            entry = albums.setdefault(album_id, {"name": album_name, "artist": artist, "mtime": 0.0, "year": None})
            entry["mtime"] = max(entry["mtime"], path.stat().st_mtime)
            entry["year"] = entry["year"] or _year(tags.get("date"))
            track_id = short_id(str(rel))
            self._paths[track_id] = path
            self._tracks.setdefault(album_id, []).append(Track(
                id=track_id, album_id=album_id, title=tags.get("title") or path.stem,
                artist=tags.get("artist") or artist, album=album_name, duration=tags.get("length"),
                file_format=path.suffix.lower().lstrip("."), track_number=_number(tags.get("tracknumber")),
            ))
        self._albums = {
            aid: Album(aid, a["name"], a["artist"], a["year"], datetime.fromtimestamp(a["mtime"], timezone.utc))
            for aid, a in albums.items()
        }
        for tracks in self._tracks.values():
            tracks.sort(key=lambda t: (t.track_number or 10_000, t.title))

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

    def list_playlists(self) -> list[Playlist]:
        if not self.playlist_dir.is_dir():
            return []
        return [Playlist(p.name, p.stem) for p in sorted(self.playlist_dir.glob("*.m3u8"))]

    def create_or_replace_playlist(self, name: str, track_ids: Sequence[str]) -> Playlist:
        self.playlist_dir.mkdir(parents=True, exist_ok=True)
        file = self.playlist_dir / f"{_file_safe(name)}.m3u8"
        lines = ["#EXTM3U", f"#PLAYLIST:{name}"]
        by_id = {t.id: t for tracks in self._tracks_all() for t in tracks}
        for tid in track_ids:
            path = self.path_of(tid)
            t = by_id.get(tid)
            if t:
                lines.append(f"#EXTINF:{int(t.duration or -1)},{t.artist} - {t.title}")
            lines.append(os.path.relpath(path, self.playlist_dir))
        tmp = file.with_suffix(".m3u8.tmp")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp.replace(file)  # atomic: a reader sees the old or the new playlist, never half of one
        return Playlist(file.name, file.stem)

    def delete_playlist(self, playlist_id: str) -> None:
        (self.playlist_dir / playlist_id).unlink(missing_ok=True)

    def top_played(self, limit: int = 100, user: str | None = None) -> list[PlayedTrack]:
        """From ``.scrobbler.log`` in the music folder; no log, no history."""
        from audiomuse.history import plays_to_tracks, read_scrobbler_log

        log_file = self.root / SCROBBLE_LOG
        if not log_file.exists():
            return []
        tracks = [(t.id, t.artist, t.title) for tracks in self._tracks_all() for t in tracks]
        return plays_to_tracks(read_scrobbler_log(log_file), tracks, limit)

    def _tracks_all(self):
        self._scan()
        return self._tracks.values()


def _read_tags(path: Path) -> dict:
    """Tags and length; an unreadable file still becomes a track (named from its path), so that
    analysis records why it fails instead of the file silently missing from the library."""
    import mutagen

    try:
        audio = mutagen.File(str(path), easy=True)
    except Exception as exc:  # noqa: BLE001 - mutagen raises many types on broken files
        log.warning("%s: unreadable tags (%s)", path.name, exc)
        return {"length": None}
    if audio is None:
        log.warning("%s: not a recognised audio file", path.name)
        return {"length": None}
    tags = {k: (v[0] if isinstance(v, list) and v else v) for k, v in (audio.tags or {}).items()}
    info = getattr(audio, "info", None)
    tags["length"] = float(info.length) if info is not None and getattr(info, "length", None) else None
    return {k: (v.strip() if isinstance(v, str) else v) for k, v in tags.items()}


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
