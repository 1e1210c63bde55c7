"""Lenient readers for the numbers servers send: a missing or malformed field is None, never an error,
so one odd track does not fail a whole catalog page."""

from __future__ import annotations


def int_or_none(value) -> int | None:
    """``value`` as an int (``"7"``, ``7``), or None when it is absent or not a number."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def float_or_none(value) -> float | None:
    """``value`` as a float (``"212.5"``), or None when it is absent or not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
