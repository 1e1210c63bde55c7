"""The real sample library, analysed once and cached across runs.

Analysis is the real pipeline (local provider -> analyse_album -> PostgreSQL). Only the per-file
results of ``TrackAnalyser`` are cached on disk, keyed by the model file and the analysis code
(decode, front end, features: any change to them invalidates the cache), the patch hop and each
file's content, so a second `make test` skips the ~4 CPU-minutes of inference but still runs
every other step. A file lock lets parallel pytest workers share one computation.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from audiomuse.analysis.musicnn import DEFAULT_PRECISION, MODEL_PATHS
from audiomuse.analysis.track import TrackAnalyser, TrackResult

CACHE = Path(os.environ.get("AUDIOMUSE_CACHE", "~/.cache/audiomuse")).expanduser() / "test-analysis"


def _digest(path: Path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


ANALYSIS_CODE = ("decode.py", "decode_inprocess.py", "features.py", "musicnn.py", "track.py")


def _cache_file(hop: int) -> Path:
    model_path = MODEL_PATHS[DEFAULT_PRECISION]  # the file TrackAnalyser() runs
    digest = hashlib.sha1(model_path.read_bytes())
    for name in ANALYSIS_CODE:
        digest.update((model_path.parents[1] / name).read_bytes())
    return CACHE / f"{digest.hexdigest()[:12]}-hop{hop}.pkl"


def _analyse_one(path: str) -> tuple[str, TrackResult | str]:
    try:
        return _digest(Path(path)), _worker().analyse(Path(path))
    except Exception as exc:  # noqa: BLE001
        return _digest(Path(path)), f"{type(exc).__name__}: {exc}"


_WORKER: TrackAnalyser | None = None


def _worker() -> TrackAnalyser:
    global _WORKER
    if _WORKER is None:
        _WORKER = TrackAnalyser()
    return _WORKER


def cached_results(files: list[Path], hop: int = 187, workers: int = 2) -> dict[str, TrackResult | str]:
    """content digest -> result (or error text) for every file, computing what the cache lacks."""
    CACHE.mkdir(parents=True, exist_ok=True)
    target = _cache_file(hop)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = pickle.loads(target.read_bytes()) if target.exists() else {}
        digests = {str(f): _digest(f) for f in files}
        todo = [f for f, d in digests.items() if d not in results]
        if todo:
            with ProcessPoolExecutor(workers) as pool:
                for digest, result in pool.map(_analyse_one, todo, chunksize=2):
                    results[digest] = result
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(pickle.dumps(results))
            tmp.replace(target)
    return results


class CachedAnalyser(TrackAnalyser):
    """A TrackAnalyser that answers from the cache (by file content) and computes misses."""

    def __init__(self, results: dict):
        super().__init__()
        self.results = results

    def analyse(self, path: Path) -> TrackResult:
        hit = self.results.get(_digest(path))
        if isinstance(hit, TrackResult):
            return hit
        return super().analyse(path)
