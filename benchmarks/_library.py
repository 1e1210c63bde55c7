"""The sample library's mean MusiCNN embeddings with their style and album, from the tests' cache.

The per-file ``TrackResult``s cached by ``tests/analysed.py`` (keyed by the model, the analysis code
and each file's content) hold exactly the vector the pipeline stores as a track's embedding, so no
database and no model run are needed when the cache is warm; a cold cache is computed (about 5
CPU-minutes for the library) and then serves the tests too.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audiomuse.analysis.track import TrackResult
from tests.analysed import _cache_file, _digest, cached_results
from tests.conftest import SAMPLE_LIBRARY


@dataclass
class Library:
    paths: list[str]
    x: np.ndarray  # n x 200 float32, the stored embedding of each track
    styles: np.ndarray
    albums: np.ndarray
    cache: str  # "warm" or "cold (computed)"
    failed: int  # files whose analysis failed (left out)


def load_library(root: Path = SAMPLE_LIBRARY, hop: int = 187) -> Library:
    manifest = json.loads((root / "manifest.json").read_text())["tracks"]
    files = [root / t["path"] for t in manifest]
    target = _cache_file(hop)
    cached = pickle.loads(target.read_bytes()) if target.exists() else {}
    warm = all(_digest(f) in cached for f in files)
    results = cached if warm else cached_results(files, hop)
    rows = [(t, results[_digest(f)]) for t, f in zip(manifest, files)]
    ok = [(t, r) for t, r in rows if isinstance(r, TrackResult)]
    return Library(
        paths=[t["path"] for t, _ in ok],
        x=np.stack([np.asarray(r.embedding, np.float32) for _, r in ok]),
        styles=np.array([t["style"] for t, _ in ok]),
        albums=np.array([t["album"] for t, _ in ok]),
        cache="warm" if warm else "cold (computed)",
        failed=len(rows) - len(ok),
    )
