"""Text normalisation shared by duplicate detection, search and sync."""

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
