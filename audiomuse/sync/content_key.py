"""The content key: what identifies a track on the remote, instead of any id of this machine.

It is the normalised artist, title and album plus the duration rounded to whole seconds; keys whose
seconds differ by at most 1 match, so durations less than 1 s apart always match (e.g. 261.4 and
261.6 s) and durations 2 s or more apart never do. Track ids, album ids, file names, paths and
provider ids never leave the machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audiomuse.text import normalise

MAX_SECONDS_APART = 1  # content keys match when their whole seconds differ by at most this


@dataclass(frozen=True, order=True)
class ContentKey:
    """What identifies a track remotely: ``track`` = 'artist|title|album' normalised, ``seconds``."""

    track: str
    seconds: int

    def __str__(self) -> str:
        return f"{self.track}|{self.seconds}"

    def matches(self, other: ContentKey) -> bool:
        return self.track == other.track and abs(self.seconds - other.seconds) <= MAX_SECONDS_APART


def content_key(artist: str, title: str, album: str, duration: float | None) -> ContentKey | None:
    """The content key, or None when the track cannot be keyed (no title or no duration)."""
    title_n = normalise(title)
    if not title_n or duration is None or not np.isfinite(duration) or duration <= 0:
        return None
    return ContentKey(f"{normalise(artist)}|{title_n}|{normalise(album)}", int(round(float(duration))))
