"""File names for downloads: whatever a server's track id holds, the file lands inside its folder."""

from __future__ import annotations

import pytest

from audiomuse.text import safe_filename


@pytest.mark.parametrize("track_id,suffix,expected", [
    ("al-3/../x", "FLAC", "al-3____x.flac"),
    ("../../etc/passwd", None, "etc_passwd.audio"),
    ("", "mp3", "track.mp3"),
    ("0f3a", "og g/", "0f3a.ogg"),
])
def test_safe_filename(track_id, suffix, expected):
    name = safe_filename(track_id, suffix)
    assert name == expected and "/" not in name and not name.startswith(".")
