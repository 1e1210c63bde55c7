"""In-process decoders that ``decode`` tries first for the formats where they measured cheaper
than libsndfile or the ffmpeg child (``benchmarks/decode.py``, BENCHMARKS.md "Decoding by format").

Each opens a file and returns ``(native rate, Blocks)``: (frames, channels) float32 blocks at the
file's own rate and channels, which ``decode`` averages and resamples exactly as it does
libsndfile's blocks, and closes (``Blocks.close``, whether or not it read any). A file the decoder
cannot open, or that fails part-way, raises ``InProcessError`` and the caller falls back; a FLAC
file that ends before its stated length gives what was decoded, with a logged warning (libsndfile's
route does the same).
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

log = logging.getLogger("audiomuse.analysis.decode")


class InProcessError(Exception):
    """The in-process decoder cannot read this file (or not to its end)."""


class Blocks:
    """An open decoder's blocks: iterate once; ``close()`` (idempotent) frees the decoder, also
    when iteration never began or stopped early (a generator's own ``finally`` would not run then)."""

    def __init__(self, blocks: Iterator[np.ndarray], release: Callable[[], None]):
        self._blocks, self._release = blocks, release

    def __iter__(self) -> Iterator[np.ndarray]:
        return self._blocks

    def close(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()


def _importable(module: str) -> bool:
    """Whether ``module`` imports (a broken binary wheel counts as absent: the chain goes on)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def dr_flac_available() -> bool:
    return _importable("miniaudio")


def dr_flac_blocks(path: Path, block_frames: int) -> tuple[int, Blocks]:
    """FLAC through dr_flac (miniaudio's FLAC decoder, called directly) at the file's own rate and
    channels, read straight into one reused float32 buffer. (miniaudio's other decoders are not
    used: stb_vorbis decodes some real Vorbis files wrongly, its 8-bit WAV scaling is not
    libsndfile's, and its generic opener would decode an Ogg file named .flac.)"""
    from miniaudio import ffi, lib

    flac = lib.ma_dr_flac_open_file(os.fsencode(path), ffi.NULL)
    if flac == ffi.NULL:
        raise InProcessError("dr_flac cannot open it")
    blocks = Blocks(_dr_flac_read(ffi, lib, flac, Path(path), block_frames), lambda: lib.ma_dr_flac_close(flac))
    if not flac.channels or not flac.sampleRate:
        blocks.close()
        raise InProcessError("dr_flac: no channels or rate")
    return flac.sampleRate, blocks


def _dr_flac_read(ffi, lib, flac, path: Path, block_frames: int) -> Iterator[np.ndarray]:
    """The blocks (each valid until the next is read: the caller copies); a file that ends before
    its stated length is warned about, and the audio that is there is used."""
    buf = np.empty((block_frames, flac.channels), np.float32)
    ptr = ffi.cast("float *", ffi.from_buffer(buf))
    total, stated, rate = 0, flac.totalPCMFrameCount, flac.sampleRate
    while n := lib.ma_dr_flac_read_pcm_frames_f32(flac, block_frames, ptr):
        total += n
        yield buf[:n]
    if 0 < total < stated:
        log.warning("%s: truncated or corrupt: %.1f of its %.1f s decoded", path.name, total / rate, stated / rate)


def pyav_available() -> bool:
    return _importable("av")


def pyav_blocks(path: Path, block_frames: int) -> tuple[int, Blocks]:
    """PyAV (ffmpeg's libraries in process, no child) on the first audio stream, its frames
    gathered into blocks of about ``block_frames``."""
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
    return stream.rate, Blocks(_pyav_read(av, container, stream, block_frames), container.close)


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
    if fmt.name.startswith("dbl"):
        return a.astype(np.float32)
    raise InProcessError(f"PyAV: sample format {fmt.name} is not read here")


def _pyav_read(av, container, stream, block_frames: int) -> Iterator[np.ndarray]:
    pending: list[np.ndarray] = []
    count = 0
    try:
        for frame in container.decode(stream):
            a = _as_float_frames(frame)
            if pending and a.shape[0] != pending[0].shape[0]:
                raise InProcessError("channel count changes mid-stream")
            pending.append(a)
            count += a.shape[1]
            if count >= block_frames:
                yield np.concatenate(pending, axis=1).T
                pending, count = [], 0
        if pending:
            yield np.concatenate(pending, axis=1).T
    except (av.FFmpegError, ValueError) as exc:  # ValueError: a frame numpy cannot take
        raise InProcessError(f"PyAV: {exc}") from None
