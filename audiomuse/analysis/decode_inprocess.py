"""In-process decoders that ``decode`` tries first for the formats where they measured cheaper
than libsndfile or the ffmpeg child (``benchmarks/decode.py``, BENCHMARKS.md "Decoding by format").

Each opens a file and returns ``(native rate, blocks)``: an iterator of (frames, channels) float32
blocks at the file's own rate and channels, which ``decode`` averages and resamples exactly as it
does libsndfile's blocks. A file the decoder cannot open, or that fails part-way, raises
``InProcessError`` (part-way: once the blocks are being read) and the caller falls back.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

BLOCK_FRAMES = 1 << 16

log = logging.getLogger("audiomuse.analysis.decode")


class InProcessError(Exception):
    """The in-process decoder cannot read this file (or not to its end)."""


def miniaudio_available() -> bool:
    try:
        import miniaudio  # noqa: F401
    except ImportError:
        return False
    return True


def miniaudio_blocks(path: Path) -> tuple[int, Iterator[np.ndarray]]:
    """FLAC through miniaudio's dr_flac at the file's own rate and channels, read straight into
    one reused float32 buffer. (Its other decoders are not used: stb_vorbis decodes some real
    Vorbis files wrongly, and its 8-bit WAV scaling is not libsndfile's.)"""
    from miniaudio import ffi, lib

    flac = lib.ma_dr_flac_open_file(os.fsencode(path), ffi.NULL)
    if flac == ffi.NULL:
        raise InProcessError("dr_flac cannot open it")
    if not flac.channels or not flac.sampleRate:
        lib.ma_dr_flac_close(flac)
        raise InProcessError("dr_flac: no channels or rate")
    return flac.sampleRate, _dr_flac_read(ffi, lib, flac, Path(path))


def _dr_flac_read(ffi, lib, flac, path: Path) -> Iterator[np.ndarray]:
    """The blocks; a file that ends before its stated length is warned about as libsndfile's
    route does (the audio that is there is used)."""
    buf = np.empty((BLOCK_FRAMES, flac.channels), np.float32)
    ptr = ffi.cast("float *", ffi.from_buffer(buf))
    total, stated, rate = 0, flac.totalPCMFrameCount, flac.sampleRate
    try:
        while n := lib.ma_dr_flac_read_pcm_frames_f32(flac, BLOCK_FRAMES, ptr):
            total += n
            yield buf[:n]
    finally:
        lib.ma_dr_flac_close(flac)
    if total < stated:
        log.warning("%s: truncated or corrupt (%d of its %d frames); using the first %.1f s", path.name, total,
                    stated, total / rate)


def pyav_available() -> bool:
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def pyav_blocks(path: Path) -> tuple[int, Iterator[np.ndarray]]:
    """PyAV (ffmpeg's libraries in process, no child) on the first audio stream, its frames
    gathered into blocks of about ``BLOCK_FRAMES``."""
    import av

    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise InProcessError(f"PyAV cannot open it ({exc})") from None
    if not container.streams.audio:
        container.close()
        raise InProcessError("no audio stream")
    stream = container.streams.audio[0]
    if not stream.rate:
        container.close()
        raise InProcessError("no sample rate")
    return stream.rate, _pyav_read(av, container, stream)


def _as_float_frames(frame) -> np.ndarray:
    """A decoded frame as (channels, frames) float32 (planar layout)."""
    a = frame.to_ndarray()
    fmt = frame.format
    if not fmt.is_planar:
        a = a.reshape(-1, len(frame.layout.channels)).T
    if fmt.name.startswith("flt"):
        return a
    if fmt.name.startswith("s16"):
        return a.astype(np.float32) * np.float32(1 / (1 << 15))
    if fmt.name.startswith("s32"):
        return a.astype(np.float32) * np.float32(1 / (1 << 31))
    if fmt.name.startswith("u8"):
        return (a.astype(np.float32) - 128) * np.float32(1 / 128)
    return a.astype(np.float32)  # dbl


def _pyav_read(av, container, stream) -> Iterator[np.ndarray]:
    pending: list[np.ndarray] = []
    count = 0
    try:
        for frame in container.decode(stream):
            a = _as_float_frames(frame)
            if pending and a.shape[0] != pending[0].shape[0]:
                raise InProcessError("channel count changes mid-stream")
            pending.append(a)
            count += a.shape[1]
            if count >= BLOCK_FRAMES:
                yield np.concatenate(pending, axis=1).T
                pending, count = [], 0
        if pending:
            yield np.concatenate(pending, axis=1).T
    except av.FFmpegError as exc:
        raise InProcessError(f"PyAV: {exc}") from None
    finally:
        container.close()
