"""The sample-library tracks a benchmark runs on: every k-th file of the manifest, k spreading
``n`` picks over all its styles (the same files in every benchmark and run)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

CACHE = Path(os.environ.get("AUDIOMUSE_CACHE", "~/.cache/audiomuse")).expanduser()


def pick_tracks(n: int) -> list[Path]:
    lib = CACHE / "sample-library"
    manifest = lib / "manifest.json"
    if not manifest.exists():
        sys.exit(f"no sample library at {lib}: run `make samples`")
    paths = [lib / t["path"] for t in json.loads(manifest.read_text())["tracks"]]
    paths = [p for p in paths if p.exists()]
    step = max(1, len(paths) // n)
    return paths[::step][:n]
