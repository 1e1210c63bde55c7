"""Import UMAP with numba's compiled code cached on disk, so a fresh process skips most of the JIT.

UMAP compiles ~130 numba functions on first use (tens of seconds per cold process: every Dagster
run worker). umap-learn marks only one of them ``cache=True``, so pointing ``NUMBA_CACHE_DIR`` at
a persistent folder is not enough: while umap and pynndescent are imported, numba's decorators
default to ``cache=True``. Functions numba cannot cache are compiled as before; a cache entry is
keyed by the source file's timestamp and the CPU, so an upgrade or another machine recompiles.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

CACHE_SUBDIR = "numba-cache"


def cache_dir() -> Path | None:
    """``NUMBA_CACHE_DIR`` if set, else ``<data dir>/numba-cache``; ``None`` when unusable."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    try:
        from audiomuse.config import get_settings

        path = Path(get_settings().data_dir) / CACHE_SUBDIR
        path.mkdir(parents=True, exist_ok=True)
        return path
    except Exception as exc:  # noqa: BLE001 - caching is an optimisation, never a failure
        log.debug("numba cache disabled: %s", exc)
        return None


def import_umap():
    """The ``umap`` module, imported with numba's on-disk cache on (see the module docstring)."""
    if "umap" in sys.modules:
        return sys.modules["umap"]
    path = cache_dir()
    if path is None:
        import umap

        return umap
    import numba

    # the few functions numba cannot cache (dynamic globals) are compiled as before: not worth a warning
    warnings.filterwarnings("ignore", message="Cannot cache compiled function", category=numba.NumbaWarning)
    # A function's cache location is fixed when it is decorated, so the directory is set only while
    # umap is imported: not in os.environ, where every child process (Dagster step workers running
    # librosa's cached functions side by side) would inherit one shared directory and race in it.
    previous = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = str(path)
    try:
        with _cache_by_default(numba):
            import umap
    finally:
        numba.config.CACHE_DIR = previous
    return umap


@contextlib.contextmanager
def _cache_by_default(numba) -> Iterator[None]:
    originals = numba.njit, numba.jit

    def cached(decorator):
        def wrapper(*args, **kwargs):
            kwargs.setdefault("cache", True)
            return decorator(*args, **kwargs)

        return wrapper

    numba.njit, numba.jit = cached(originals[0]), cached(originals[1])
    try:
        yield
    finally:
        numba.njit, numba.jit = originals
