"""The decoders ``benchmarks/decode.py`` compares by format, each giving 16 kHz mono float32.

Every in-process candidate feeds its native-rate float32 blocks through the analysis' own chain
(``_Downmix``'s channel average, one soxr HQ ``ResampleStream``, librosa's output length), so a
difference from our loader is the decoder's alone. ``ffmpeg_cli`` is ffmpeg doing all of it itself.
Candidates not installed are left out: they live in ``CANDIDATES_DIR`` (``pip install --target``),
outside the project venv, until one earns its place.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import soxr

from audiomuse.analysis import decode as dec

CANDIDATES_DIR = Path("~/.cache/audiomuse/decode-candidates").expanduser()
if CANDIDATES_DIR.is_dir() and str(CANDIDATES_DIR) not in sys.path:
    sys.path.append(str(CANDIDATES_DIR))  # after site-packages: the venv's own packages win


class CountSink:
    """Counts the streamed samples and keeps none: the streaming path's cost without a buffer."""

    def __init__(self, expected: int = 0):
        self.n = 0

    def push(self, x: np.ndarray) -> None:
        self.n += len(x)

    def finish(self) -> int:
        return self.n


def ours_streaming(path: Path) -> int:
    """Our loader as the analyser calls it (``decode_stream`` into a sink)."""
    return dec.decode_stream(path, CountSink)


def from_blocks(open_blocks: Callable[[], tuple[int, Iterable[np.ndarray]]], sr: int = dec.TARGET_SR) -> np.ndarray:
    """``open_blocks()``'s (frames, channels) float32 blocks at their native rate -> our downmix,
    soxr HQ, librosa's length; decoded again as (L - R) / 2 when the channels cancel, as ours does."""
    def decode(downmix) -> np.ndarray:
        native, blocks = open_blocks()
        try:
            return dec._load_blocks(blocks, native, sr, downmix, dec.SampleBuffer).finish()
        finally:
            getattr(blocks, "close", lambda: None)()  # the shipped readers own a decoder handle

    downmix = dec._Downmix()
    y = decode(downmix)
    return decode(dec._Downmix(flip_second=True)) if downmix.cancelled else y


def libsndfile(path: Path) -> np.ndarray:
    """python-soundfile's libsndfile alone (also for mp3 and Opus, which it reads)."""
    out = dec._load_soundfile(Path(path), dec.TARGET_SR, dec._Downmix(), dec.SampleBuffer)
    if not out.received:
        raise dec.DecodeError(path, "no samples")
    return out.finish()


def ffmpeg_pipe(path: Path) -> np.ndarray:
    """Our ffmpeg route (child process, soxr HQ in ffmpeg per channel, our average)."""
    return dec._load_ffmpeg(Path(path), dec.TARGET_SR, "ffmpeg", dec._Downmix())


@functools.lru_cache(maxsize=None)
def _channels(path: Path) -> int:
    cmd = ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=channels", "-of", "csv=p=0",
           str(path)]
    return int(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()[0])


def ffmpeg_cli(path: Path) -> np.ndarray:
    """ffmpeg decoding, averaging the channels (``-ac 1`` would sum stereo at 0.707 each) and
    resampling (soxr, HQ precision) to 16 kHz mono f32 itself. The channel count is probed once
    per file, outside the timed passes."""
    ch = _channels(Path(path))
    mix = "pan=mono|c0=" + "+".join(f"{1 / ch:.17g}*c{i}" for i in range(ch)) + "," if ch > 1 else ""
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0",
           "-af", f"{mix}aresample={dec.TARGET_SR}:resampler=soxr:precision=20", "-f", "f32le", "-"]
    return np.frombuffer(subprocess.run(cmd, capture_output=True, check=True).stdout, np.float32)


def pyav(path: Path) -> np.ndarray:
    """PyAV: ffmpeg's decoders in process, no child (the analysis' reader, 64k-frame blocks)."""
    from audiomuse.analysis import decode_inprocess

    return from_blocks(lambda: decode_inprocess.pyav_blocks(path, dec.BLOCK_FRAMES))


def _miniaudio_stream(path: Path) -> tuple[int, Iterable[np.ndarray]]:
    import miniaudio as ma

    info = ma.get_file_info(str(path))
    ch = info.nchannels
    stream = ma.stream_file(str(path), ma.SampleFormat.FLOAT32, ch, info.sample_rate, frames_to_read=1 << 16)
    return info.sample_rate, (np.frombuffer(b, np.float32).reshape(-1, ch) for b in stream)


def miniaudio(path: Path) -> np.ndarray:
    """miniaudio: FLAC through the analysis' dr_flac reader; mp3, Vorbis, WAV through its
    generic decoder (dr_mp3, stb_vorbis, dr_wav) streaming float32 at the native rate."""
    from audiomuse.analysis import decode_inprocess

    if Path(path).suffix.lower() == ".flac":
        return from_blocks(lambda: decode_inprocess.dr_flac_blocks(path, dec.BLOCK_FRAMES))
    return from_blocks(lambda: _miniaudio_stream(path))


def candidates() -> dict[str, Callable[[Path], np.ndarray]]:
    """name -> loader, for the installed ones."""
    from audiomuse.analysis import decode_inprocess

    found = {"libsndfile": libsndfile, "ffmpeg pipe": ffmpeg_pipe}
    if decode_inprocess.pyav_available():
        found["PyAV"] = pyav
    if decode_inprocess.dr_flac_available():  # miniaudio, whose dr_flac the analysis calls
        found["miniaudio"] = miniaudio
    return found
