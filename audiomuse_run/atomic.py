"""Built folders swapped into place: a reader never sees a half-built library or set."""

from __future__ import annotations

import shutil
from pathlib import Path


def swap_into_place(work: Path, dest: Path) -> None:
    """Replace ``dest`` with the finished ``work`` folder (a rename each way; the old one removed)."""
    old = None
    if dest.exists():
        old = dest.with_name(dest.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        dest.rename(old)
    work.rename(dest)
    if old:
        shutil.rmtree(old, ignore_errors=True)
