"""Decode any common audio file to 16 kHz mono float32, matching ``librosa.load(sr=16000)``.

The spec's contract is librosa's loader: libsndfile decode, channel average, soxr "HQ" resampling.
This module does the same three steps without librosa's overhead (2-3x less CPU): float32 read,
a cheap channel average, one soxr call. Formats libsndfile lacks (m4a/aac, wma, ...) go through an
ffmpeg subprocess that only decodes; resampling stays soxr so every format gives the same
embedding. Files are read and resampled in blocks, so memory stays bounded for any length.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

TARGET_SR = 16000
BLOCK_SECONDS = 30  # decode and resample this much of the source at a time
SOXR_QUALITY = "HQ"  # librosa's default res_type 'soxr_hq'


class DecodeError(Exception):
    """A file that cannot be decoded; the message names the file and says why."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{Path(path).name}: {reason}")
        self.path = Path(path)
        self.reason = reason


def load_audio(path: Path, sr: int = TARGET_SR) -> np.ndarray:
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DecodeError(path, f"cannot read file ({exc.strerror})") from None
    if size == 0:
        raise DecodeError(path, "empty file")
    try:
        y = _load_soundfile(path, sr)
    except sf.LibsndfileError as exc:
        y = _load_ffmpeg(path, sr, first_error=str(exc))
    if y.size == 0:
        raise DecodeError(path, "no audio samples decoded")
    if not np.isfinite(y).all():
        y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    return y


def _mono(block: np.ndarray) -> np.ndarray:
    """Average the channels (librosa.to_mono), without numpy's slow strided mean."""
    if block.shape[1] == 1:
        return block[:, 0]
    out = block[:, 0].copy()
    for c in range(1, block.shape[1]):
        out += block[:, c]
    out *= np.float32(1.0 / block.shape[1])
    return out


def _load_soundfile(path: Path, sr: int) -> np.ndarray:
    """Decode and resample block by block: soxr's stream gives the same samples as one call
    (checked bit for bit), and memory stays at one block of the source instead of the whole file."""
    with sf.SoundFile(str(path)) as f:
        native = f.samplerate
        blocks = f.blocks(blocksize=native * BLOCK_SECONDS, dtype="float32", always_2d=True)
        if native == sr:
            return np.concatenate([_mono(b) for b in blocks] or [np.zeros(0, np.float32)])
        stream = soxr.ResampleStream(native, sr, 1, dtype="float32", quality=SOXR_QUALITY)
        parts = [stream.resample_chunk(_mono(block)) for block in blocks]
        parts.append(stream.resample_chunk(np.zeros(0, np.float32), last=True))
        return _fix_length(np.concatenate(parts), int(np.ceil(f.frames * sr / native)))


def _resample(y: np.ndarray, native: int, sr: int) -> np.ndarray:
    if native == sr:
        return np.ascontiguousarray(y, dtype=np.float32)
    out = soxr.resample(y, native, sr, quality=SOXR_QUALITY).astype(np.float32, copy=False)
    return _fix_length(out, int(np.ceil(len(y) * sr / native)))


def _fix_length(y: np.ndarray, n: int) -> np.ndarray:
    """librosa.resample pads or trims to ceil(n * ratio) samples: do the same, so lengths agree."""
    if len(y) >= n:
        return y[:n]
    return np.pad(y, (0, n - len(y)))


def _load_ffmpeg(path: Path, sr: int, first_error: str) -> np.ndarray:
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        raise DecodeError(path, f"not decodable by libsndfile ({first_error}); install ffmpeg for more formats")
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=sample_rate,channels",
         "-of", "json", str(path)], capture_output=True, text=True, timeout=60,
    )
    try:
        stream = json.loads(probe.stdout)["streams"][0]
        native, channels = int(stream["sample_rate"]), int(stream["channels"])
    except (ValueError, KeyError, IndexError):
        raise DecodeError(path, "not an audio file") from None
    proc = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-vn", "-f", "f32le", "-acodec", "pcm_f32le", "-"],
        capture_output=True, timeout=3600,
    )
    raw = np.frombuffer(proc.stdout, dtype=np.float32)
    if proc.returncode != 0 and raw.size == 0:
        reason = proc.stderr.decode(errors="replace").strip().splitlines()
        raise DecodeError(path, f"ffmpeg could not decode it ({reason[-1] if reason else 'unknown error'})")
    raw = raw[: raw.size - raw.size % channels].reshape(-1, channels)
    return _resample(_mono(raw), native, sr)
