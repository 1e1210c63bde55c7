"""Build the sample library: real, freely licensed music from Debian's game-soundtrack packages.

Used by `make run` (a small library to play with) and by the integration tests (the full set:
about 130 tracks in five styles). Packages are fetched with ``apt-get download`` into a cache,
unpacked with ``dpkg -x``; tracker modules are rendered with ``openmpt123`` and stored as FLAC,
Frets on Fire stems are mixed into one track, everything is tagged, and a manifest records artist,
album, title, style and licence. A finished library is reused as it is: a second run costs nothing.
"""

from __future__ import annotations

import argparse
import configparser
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from audiomuse.config import get_settings
from audiomuse_run.atomic import swap_into_place

MIN_SECONDS = 30.0
MANIFEST = "manifest.json"
FORMAT_VERSION = 4
TRACKER_SUFFIXES = {".mod", ".xm", ".it", ".s3m"}
INSTALL_HINT = "apt-get install openmpt123 ffmpeg (Debian/Ubuntu)"


@dataclass(frozen=True)
class Package:
    name: str
    style: str
    album: str
    artist: str


PACKAGES = (
    Package("wesnoth-1.16-music", "orchestral", "Battle for Wesnoth Soundtrack", "Wesnoth Composers"),
    Package("marsshooter-data", "rock", "M.A.R.S. Soundtrack", "M.A.R.S. Team"),
    Package("fretsonfire-songs-muldjord", "rock", "Frets on Fire: Muldjord", "Muldjord"),
    Package("fretsonfire-songs-sectoid", "rock", "Frets on Fire: Sectoid", "Sectoid"),
    Package("singularity-music", "ambient", "Endgame: Singularity", "Max McCracken"),
    Package("torus-trooper-data", "electronic", "Torus Trooper", "Kenta Cho"),
    Package("rrootage-data", "electronic", "rRootage", "Kenta Cho"),
    Package("tumiki-fighters-data", "electronic", "Tumiki Fighters", "Kenta Cho"),
    Package("gunroar-data", "electronic", "Gunroar", "Kenta Cho"),
    Package("parsec47-data", "electronic", "PARSEC47", "Kenta Cho"),
    Package("noiz2sa-data", "electronic", "Noiz2sa", "Kenta Cho"),
    Package("titanion-data", "electronic", "Titanion", "Kenta Cho"),
    Package("tecnoballz-data", "chiptune", "TecnoballZ", "TLK Games"),
    Package("pingus-data", "chiptune", "Pingus", "Pingus Musicians"),
    Package("open-invaders-data", "chiptune", "Open Invaders", "Open Invaders Musicians"),
)
# nexuiz-music is left out: its music sits in a game-data archive (.pk3) and the reference set
# (136 tracks, whose style precision this project reproduces) did not include it. Adding its 18
# industrial/rock-leaning tracks to "electronic" drops that style's precision@10 from 0.90 to 0.80.
STYLES = ("orchestral", "rock", "ambient", "electronic", "chiptune")


class SampleLibraryError(RuntimeError):
    pass


def build_sample_library(
    dest: Path | None = None,
    *,
    max_tracks_per_album: int = 0,
    styles: tuple[str, ...] | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Build (or reuse) the library at ``dest`` and return its folder."""
    cache = get_settings().download_cache
    dest = Path(dest or cache / "sample-library").expanduser()
    wanted = [p for p in PACKAGES if styles is None or p.style in styles]
    params = {"version": FORMAT_VERSION, "max_tracks_per_album": max_tracks_per_album,
              "packages": [p.name for p in wanted]}
    if _complete(dest, params):
        return dest
    _check_tools()
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".building-", dir=dest.parent))
    try:
        _download(wanted, debs, log)
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(lambda p: _build_package(p, debs, work, max_tracks_per_album, log), wanted))
        tracks = [t for r in results for t in r]
        (work / MANIFEST).write_text(json.dumps({"params": params, "tracks": tracks}, indent=1))
        swap_into_place(work, dest)  # an interrupted build never leaves a folder that looks complete
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(summary(load_manifest(dest)))
    return dest


def load_manifest(dest: Path) -> list[dict]:
    return json.loads((Path(dest) / MANIFEST).read_text())["tracks"]


def summary(tracks: list[dict]) -> str:
    per_style = Counter(t["style"] for t in tracks)
    hours = sum(t["duration"] for t in tracks) / 3600
    styles = ", ".join(f"{s} {per_style[s]}" for s in STYLES if per_style[s])
    return f"{len(tracks)} tracks, {hours:.1f} h ({styles})"


def _complete(dest: Path, params: dict) -> bool:
    try:
        manifest = json.loads((dest / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("params") == params and all((dest / t["path"]).exists() for t in manifest["tracks"])


def _check_tools() -> None:
    missing = [tool for tool in ("apt-get", "dpkg", "openmpt123") if shutil.which(tool) is None]
    if missing:
        raise SampleLibraryError(f"missing {', '.join(missing)}: install with `{INSTALL_HINT}`")


def _download(packages: list[Package], debs: Path, log) -> None:
    todo = [p.name for p in packages if not list(debs.glob(f"{p.name}_*.deb"))]
    if not todo:
        return
    log(f"downloading {len(todo)} Debian package(s): {' '.join(todo)}")
    proc = subprocess.run(["apt-get", "download", *todo], cwd=debs, capture_output=True, text=True)
    if proc.returncode != 0 and "Unable to locate" in proc.stderr:
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
        proc = subprocess.run(["apt-get", "download", *todo], cwd=debs, capture_output=True, text=True)
    missing = [n for n in todo if not list(debs.glob(f"{n}_*.deb"))]
    if missing:
        raise SampleLibraryError(f"could not download {', '.join(missing)}: {proc.stderr.strip()[-500:]}")


def _build_package(pkg: Package, debs: Path, out: Path, max_tracks: int, log) -> list[dict]:
    deb = sorted(debs.glob(f"{pkg.name}_*.deb"))[-1]
    with tempfile.TemporaryDirectory(prefix=f"am-{pkg.name}-") as tmp:
        root = Path(tmp)
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True, capture_output=True)
        licence_text = _read_copyright(root, pkg.name)
        sources = _sources(root)
        album_dir = out / safe_name(pkg.artist) / safe_name(pkg.album)
        album_dir.mkdir(parents=True, exist_ok=True)
        tracks = []
        for source in sources:
            if max_tracks and len(tracks) >= max_tracks:
                break
            audio = _to_track(source, root, album_dir, len(tracks) + 1)
            if audio is None:
                continue
            path, title, artist, duration = audio
            tracks.append({
                "path": str(path.relative_to(out)), "artist": artist or pkg.artist, "album": pkg.album,
                "title": title, "style": pkg.style, "package": pkg.name, "licence": licence_name(licence_text),
                "duration": round(duration, 2),
            })
        for t in tracks:
            _tag(out / t["path"], t, len(tracks))
        licences = out / "LICENSES"
        licences.mkdir(exist_ok=True)
        (licences / f"{pkg.name}.copyright").write_text(licence_text)
    log(f"{pkg.name}: {len(tracks)} tracks ({pkg.style})")
    return tracks


def _sources(root: Path) -> list[Path]:
    """Candidate music in a package: song folders, ogg and flac files, tracker modules."""
    found: list[Path] = []
    song_dirs = sorted({p.parent for p in root.rglob("song.ini")})
    found += song_dirs
    for path in sorted(root.rglob("*")):
        if not path.is_file() or any(d in path.parents for d in song_dirs):
            continue
        suffix = path.suffix.lower()
        if suffix in (".ogg", ".flac") or suffix in TRACKER_SUFFIXES:
            found.append(path)
    return found


def _to_track(source: Path, root: Path, album_dir: Path, number: int):
    """Write one track into ``album_dir``; None when it is too short to be music."""
    import numpy as np
    import soundfile as sf

    if source.is_dir():  # Frets on Fire: mix the stems, title and artist from song.ini
        title, artist = read_song_ini(source / "song.ini")
        stems = [s for s in ("song.ogg", "guitar.ogg", "rhythm.ogg", "drums.ogg") if (source / s).exists()]
        if not stems:
            return None
        signals, rate = [], None
        for stem in stems:
            data, sr = sf.read(str(source / stem), dtype="float32", always_2d=True)
            rate = rate or sr
            if sr == rate:
                signals.append(data)
        length = max(len(s) for s in signals)
        channels = max(s.shape[1] for s in signals)
        mix = np.zeros((length, channels), np.float32)
        for s in signals:
            mix[: len(s), : s.shape[1]] += s
        mix /= max(1.0, float(np.abs(mix).max()) / 0.98)
        if length / rate < MIN_SECONDS:
            return None
        path = album_dir / f"{number:02d} - {safe_name(title)}.ogg"
        # libsndfile's vorbis encoder crashes on very large single writes: write in blocks.
        with sf.SoundFile(str(path), "w", rate, channels, format="OGG", subtype="VORBIS") as out:
            for start in range(0, length, 65536):
                out.write(mix[start : start + 65536])
        return path, title, artist, length / rate
    title = title_from_filename(source.stem)
    if source.suffix.lower() in TRACKER_SUFFIXES:
        subprocess.run(["openmpt123", "--quiet", "--render", "--force", str(source)], check=True,
                       capture_output=True, timeout=300)
        wav = Path(str(source) + ".wav")
        info = sf.info(str(wav))
        if info.duration < MIN_SECONDS:
            return None
        path = album_dir / f"{number:02d} - {safe_name(title)}.flac"
        # openmpt123 writes float WAV: read floats (an int16 read of a float file is silence) and
        # let libsndfile scale them into 16-bit FLAC.
        data, sr = sf.read(str(wav), dtype="float32")
        sf.write(str(path), np.clip(data, -1.0, 1.0), sr, format="FLAC", subtype="PCM_16")
        return path, title, None, info.duration
    info = sf.info(str(source))
    if info.duration < MIN_SECONDS:
        return None
    path = album_dir / f"{number:02d} - {safe_name(title)}{source.suffix.lower()}"
    shutil.copyfile(source, path)
    return path, title, None, info.duration


def _tag(path: Path, track: dict, total: int) -> None:
    import mutagen

    audio = mutagen.File(str(path), easy=True)
    audio.update({
        "title": track["title"], "artist": track["artist"], "albumartist": track["artist"],
        "album": track["album"], "genre": track["style"],
        "tracknumber": f"{int(Path(track['path']).name[:2])}/{total}",
    })
    audio.save()


def _read_copyright(root: Path, package: str) -> str:
    path = root / "usr" / "share" / "doc" / package / "copyright"
    return path.read_text(errors="replace") if path.exists() else "no copyright file in the package"


def licence_name(copyright_text: str) -> str:
    """The music's licence as a short name ('GPL-2+', 'CC-BY-SA-3.0', 'BSD-2-Clause', 'Expat').

    Machine-readable (DEP-5) files: the licence of the stanza whose Files name music, else of
    ``Files: *``. Free-text files: the licence named first (the upstream one; Debian's packaging
    notes come after it)."""
    if re.match(r"Format:\s*\S*copyright-format", copyright_text):
        stanzas = []
        for block in re.split(r"\n\s*\n", copyright_text):
            files = re.search(r"^Files:(.*(?:\n[ \t].*)*)", block, re.M)
            licence = re.search(r"^License:[ \t]*(\S[^\n]*)", block, re.M)
            if files and licence:
                stanzas.append((files.group(1).split(), licence.group(1).strip()))
        for wanted in (lambda pats: any("music" in p.lower() for p in pats), lambda pats: "*" in pats):
            for patterns, licence in stanzas:
                if wanted(patterns):
                    return licence
        if stanzas:
            return stanzas[0][1]
    text = re.sub(r"\s+", " ", copyright_text)
    found = []
    for pattern, name in ((r"GNU General Public License", _gpl), (r"Creative Commons", _creative_commons),
                          (r"Redistribution and use in source and binary forms", _bsd),
                          (r"Permission is hereby granted, free of charge", lambda t, i: "Expat"),
                          (r"\bpublic domain\b", lambda t, i: "public-domain")):
        if m := re.search(pattern, text, re.I):
            found.append((m.start(), name(text, m.start())))
    return min(found)[1] if found else "see copyright"


def _gpl(text: str, at: int) -> str:
    window = text[at : at + 300]
    version = re.search(r"version (\d)", window, re.I)
    later = re.search(r"any later version", window, re.I)
    return f"GPL-{version.group(1)}{'+' if later else ''}" if version else "GPL"


def _creative_commons(text: str, at: int) -> str:
    share_alike = re.search(r"by-sa/|Share-?Alike", text, re.I)
    version = re.search(r"(?:licenses/by(?:-sa)?/|Share-?Alike(?: licen[cs]e)?[ -]|Attribution[ -])(\d\.\d)",
                        text, re.I)
    if not version:
        return "Creative Commons"
    return f"CC-BY{'-SA' if share_alike else ''}-{version.group(1)}"


def _bsd(text: str, at: int) -> str:
    window = text[at : at + 1500]
    return "BSD-3-Clause" if re.search(r"Neither the name|endorse or promote", window, re.I) else "BSD-2-Clause"


def read_song_ini(path: Path) -> tuple[str, str | None]:
    """(title, artist) from a Frets on Fire song.ini; artist without a trailing ' - www...' note."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read_string(path.read_text(errors="replace"))
    section = parser["song"] if parser.has_section("song") else {}
    title = (section.get("name") or path.parent.name).strip()
    artist = section.get("artist")
    if artist:
        artist = re.split(r"\s+-\s+(?:www\.|http)", artist)[0].strip()
    return title, artist or None


def title_from_filename(stem: str) -> str:
    """'07_-_Vermocsar' -> 'Vermocsar'; 'legends_of_the_north' -> 'Legends Of The North'."""
    text = re.sub(r"^\d+\s*[-_. ]+\s*(-\s*)?", "", stem.replace("_", " ")).strip(" -")
    text = re.sub(r"\s+", " ", text) or stem
    return text if any(c.isupper() for c in text) else text.title()


def safe_name(text: str) -> str:
    """A file or folder name safe on every filesystem, readable, at most 80 characters."""
    clean = re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", text).strip(" .")
    return clean[:80] or "untitled"


def content_digest(path: Path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Build AudioMuse's real sample music library.")
    ap.add_argument("--dest", type=Path, default=None)
    ap.add_argument("--max-tracks-per-album", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        path = build_sample_library(args.dest, max_tracks_per_album=args.max_tracks_per_album)
    except SampleLibraryError as exc:
        print(f"error: {exc}")
        return 1
    print(f"{path}: {summary(load_manifest(path))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
