"""Text helpers: normalisation shared by duplicate detection, search and sync, and safe file names."""

from __future__ import annotations

import re
import unicodedata

_BRACKETS = re.compile(r"[\(\[\{][^\)\]\}]*(remaster|live|version|edit|mono|stereo|demo|mix)[^\)\]\}]*[\)\]\}]", re.I)
_FEAT = re.compile(r"\s+(feat\.?|ft\.?|featuring)\s+.*$", re.I)
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def normalise(text: str) -> str:
    """Lower-case ASCII letters and digits only: 'Beyoncé – Halo!' -> 'beyonce halo'."""
    ascii_text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    return _NON_ALNUM.sub(" ", ascii_text.lower()).strip()


def song_key(artist: str, title: str) -> str:
    """A key equal for the same song on different albums (remaster/live tags and 'feat.' dropped)."""
    clean_title = _FEAT.sub("", _BRACKETS.sub("", title or ""))
    clean_artist = _FEAT.sub("", artist or "")
    clean_artist = re.sub(r"^the\s+", "", normalise(clean_artist))
    return f"{clean_artist}|{normalise(clean_title)}"


def safe_filename(track_id: str, suffix: str | None) -> str:
    """A file name made of the id's safe characters plus a clean suffix, for a download that must land
    inside its folder: ``"al-3/../x", "FLAC"`` -> ``"al-3____x.flac"`` (no path separators, no
    leading dot, bounded length)."""
    stem = re.sub(r"[^A-Za-z0-9_-]", "_", str(track_id))[:80].strip("_") or "track"
    ext = re.sub(r"[^a-z0-9]", "", (suffix or "").lower())[:8] or "audio"
    return f"{stem}.{ext}"
