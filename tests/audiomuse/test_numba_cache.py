"""The map build leaves numba's compiled UMAP code in the data dir, so the next process reuses it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = """
import numpy as np
from audiomuse.music_map import project
coords, method = project(np.random.default_rng(0).standard_normal((300, 200)).astype(np.float32))
import os
print(method, os.environ.get("NUMBA_CACHE_DIR"))  # nothing leaks to child processes
"""


def _build_map(env) -> str:
    proc = subprocess.run([sys.executable, "-c", BUILD], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip()


@pytest.mark.slow
def test_umap_jit_is_cached_under_the_data_dir(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(AUDIOMUSE_DATA_DIR=str(tmp_path / "data"), AUDIOMUSE_CONFIG=str(tmp_path / "absent.toml"))
    cache = tmp_path / "data" / "numba-cache"
    assert _build_map(env) == "umap None"
    umap_entries = {p.name for p in cache.rglob("*.nbi") if "umap" in str(p)}
    assert len(umap_entries) >= 10, umap_entries  # umap itself marks only one function cache=True
    first = {p: p.stat().st_mtime_ns for p in cache.rglob("*.nbc")}
    _build_map(env)
    again = {p: p.stat().st_mtime_ns for p in cache.rglob("*.nbc")}
    assert first.items() <= again.items()  # the second process loaded, did not recompile, what it found
