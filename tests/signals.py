"""Small generated signals for fast unit tests (real music lives in the sample library)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def tone(freqs=(440.0,), seconds: float = 5.0, sr: int = 22050, amp: float = 0.3) -> np.ndarray:
    """A sum of sines (a chord when several frequencies are given), float32 mono."""
    t = np.arange(int(seconds * sr)) / sr
    y = sum(np.sin(2 * np.pi * f * t) for f in freqs) / max(1, len(freqs))
    return (amp * y).astype(np.float32)


def click_track(bpm: float = 120.0, seconds: float = 10.0, sr: int = 22050) -> np.ndarray:
    """Short decaying 1 kHz clicks on every beat: a signal with an unambiguous tempo."""
    y = np.zeros(int(seconds * sr), dtype=np.float32)
    click_len = int(0.03 * sr)
    t = np.arange(click_len) / sr
    click = (np.sin(2 * np.pi * 1000 * t) * np.exp(-t * 150)).astype(np.float32)
    step = 60.0 / bpm
    for start in np.arange(0, seconds - 0.05, step):
        i = int(start * sr)
        y[i : i + click_len] += click[: len(y) - i]
    return 0.8 * y


def noise(seconds: float = 5.0, sr: int = 22050, amp: float = 0.1, seed: int = 0) -> np.ndarray:
    return (amp * np.random.default_rng(seed).standard_normal(int(seconds * sr))).astype(np.float32)


def write_wav(path: Path, y: np.ndarray, sr: int = 22050) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), y, sr)
    return path
