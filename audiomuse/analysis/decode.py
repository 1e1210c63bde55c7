"""Decode any common audio file to 16 kHz mono float32, matching ``librosa.load(path, sr=16000)``.

The contract is librosa's loader: libsndfile decode to float32, channel average, soxr "HQ"
resampling (librosa 0.11's default ``res_type='soxr_hq'``), length ``ceil(n * sr / native)``.
``load_audio`` does the same three steps, sample for sample, without librosa's overhead (a
whole-file float read, a strided ``np.mean``, ``apply_along_axis`` and extra copies): the file is
read in float32 blocks, each block is averaged to mono and pushed through one streaming
``soxr.ResampleStream`` (bit-identical to one-shot ``soxr.resample``) into a sink. ``load_audio``'s
sink is an output buffer that grows in place: peak memory is the 16 kHz output (3.8 MB per audio
minute) plus one block, whatever the source rate, channel count or length. ``decode_stream`` hands
the 16 kHz blocks to any sink as they come (the track analyser consumes them: memory flat in the
track's length); the last few thousand samples are held back so the end can still be trimmed or
zero-padded to librosa's length.

Routes, per file:

* In process first, by suffix (``IN_PROCESS_FIRST``, ``decode_inprocess``), where they measured
  cheaper per audio second with the same output (BENCHMARKS.md, "Decoding by format"): ``.flac``
  through miniaudio's dr_flac (bit-identical to libsndfile), ``.opus`` and ``.m4a`` through PyAV
  (ffmpeg's decoders without the child process; within 1e-6 of the ffmpeg route, which
  resamples each channel before the average). Their blocks take the same average and soxr HQ
  stream as libsndfile's. A file they cannot open, or that fails part-way, goes down the chain
  below; a FLAC that ends early gives what was decoded, with a warning.
* libsndfile (soundfile): wav/aiff/flac/ogg vorbis/mp3 and everything else it opens. Output is
  identical to ``librosa.load`` (max abs difference 0 on the sample library; < 1e-6 on mp3).
* ffmpeg (subprocess) for what libsndfile cannot open (m4a/aac, alac, wma, ape, wv, ...), and
  first for ``.opus``: libsndfile's Opus decoding costs ~2x ffmpeg's (ffmpeg decode + soxr).
  ffmpeg decodes, and resamples with the same soxr HQ filter
  (``aresample=resampler=soxr:precision=20``: bit-identical to python-soxr "HQ" on a mono stream;
  here the channels are resampled, then averaged, ~2e-7 from averaging first) when its build has
  libsoxr, otherwise the native-rate PCM is resampled here. It writes a float WAV
  stream to a pipe that is read block by block (no ffprobe call, bounded memory). Differences to
  ``librosa.load``: for m4a & co. librosa goes through audioread, which hands over 16-bit PCM
  (quantisation: max abs difference ~1.6e-5) clipped at full scale; for Opus, librosa's libsndfile
  route also clips, and ffmpeg's Opus decoder is not bit-exact with libopus (SNR ~70 dB). Ours
  keep the overs above full scale that hot masters have (as librosa does for every libsndfile
  format), which is where the larger differences sit: on real music correlation > 0.9999 and
  MusiCNN embedding cosine >= 0.99999 against ``librosa.load``.

One exception to librosa's loader: a stereo file whose channels cancel in the average (one
channel polarity-inverted, so the mono mix is near silence: a real track of the test music is
exactly that) is decoded again as ``(L - R) / 2``, with a logged warning, instead of analysing
silence. ``_Downmix`` notices it from two running energies (0.5% of the decoding CPU).

Bad files raise ``DecodeError`` whose message is ``"<file name>: <reason>"``: "empty file",
"file not found", "not an audio file", "no audio stream", "truncated or corrupt (...)",
"... install ffmpeg ..." when only ffmpeg could decode it, or PyAV's own reason where PyAV (ffmpeg's
libraries) tried and failed. A truncated file gives the audio that is there (a shorter signal, with
a logged warning; an Opus or m4a cut short is not noticed, by ffmpeg either); only a file with
nothing decodable raises.
"""

from __future__ import annotations

import functools
import logging
import math
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import soundfile as sf
import soxr

from audiomuse.analysis import decode_inprocess as inproc

TARGET_SR = 16000
SOXR_QUALITY = "HQ"  # librosa 0.11 default res_type 'soxr_hq'
BLOCK_FRAMES = 1 << 16  # source frames per read: 1.5 s at 44.1 kHz, 0.5 MB for stereo float
PIPE_CHUNK = 1 << 20  # bytes per read from ffmpeg
FFMPEG_FIRST = frozenset({".opus"})  # libsndfile opens these, but ffmpeg decodes them 2x cheaper
# In-process decoders tried before everything else, per suffix, where they measured cheaper with
# the same or cosine-neutral output (BENCHMARKS.md, "Decoding by format"); a file they cannot
# read goes down the usual chain.
IN_PROCESS_FIRST = {
    ".flac": "dr_flac",
    ".opus": "pyav", ".m4a": "pyav",
}
_IN_PROCESS = {"dr_flac": (inproc.dr_flac_available, inproc.dr_flac_blocks),
               "pyav": (inproc.pyav_available, inproc.pyav_blocks)}
# A stereo mix whose average keeps less than 1% of the left channel's energy (-20 dB) has cancelled:
# uncorrelated channels keep 50%, real stereo music 80-100%.
CANCELLED_ENERGY_RATIO = 0.01

log = logging.getLogger(__name__)


class DecodeError(Exception):
    """A file that cannot be decoded; the message is ``"<file name>: <reason>"``."""

    def __init__(self, path: Path | str, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path.name}: {reason}")


class _Truncated(Exception):
    """libsndfile failed part-way: the audio decoded before the error (unfinished), and the error."""

    def __init__(self, out: _Exact, reason: str):
        super().__init__(reason)
        self.out = out
        self.reason = reason


class AudioSink(Protocol):
    """Where ``decode_stream`` puts the 16 kHz mono samples, block by block, in order."""

    def push(self, samples: np.ndarray) -> None:
        """Take the next samples (a view the decoder reuses: copy what you keep)."""

    def finish(self) -> Any:
        """The end of the signal: what ``decode_stream`` returns."""


def load_audio(path: Path | str, sr: int = TARGET_SR) -> np.ndarray:
    """The file as float32 mono at ``sr`` Hz, equal to ``librosa.load(path, sr=sr, mono=True)[0]``
    (except for a stereo file whose channels cancel: see the module docstring)."""
    return decode_stream(path, SampleBuffer, sr)


def decode_stream(path: Path | str, new_sink: Callable[[int], AudioSink], sr: int = TARGET_SR) -> Any:
    """Decode ``path`` into ``new_sink(expected_samples)`` (a size hint, 0 when unknown) and return
    its ``finish()``. A route that fails part-way, or a stereo mix found cancelled at the end, starts
    again with a fresh sink, so a sink always sees one whole decode from the first sample."""
    path = Path(path)
    _check_file(path)
    downmix = _Downmix()
    result = _decode(path, sr, downmix, new_sink)
    if downmix.cancelled:
        log.warning("%s: its two channels cancel in the mono mix (one is polarity-inverted); "
                    "analysing (left - right) / 2 instead", path.name)
        result = _decode(path, sr, _Downmix(flip_second=True), new_sink)
    return result


def _decode(path: Path, sr: int, downmix: _Downmix, new_sink: Callable[[int], AudioSink]) -> Any:
    """The first route that decodes the file (see the module docstring), averaged by ``downmix``."""
    first, in_process_reason = _load_in_process(path, sr, downmix, new_sink)
    if first is not None:
        return first.finish()
    ffmpeg = shutil.which("ffmpeg")
    ffmpeg_error: DecodeError | None = None
    if ffmpeg and path.suffix.lower() in FFMPEG_FIRST:
        try:
            return _load_ffmpeg(path, sr, ffmpeg, downmix, new_sink)
        except DecodeError as exc:
            ffmpeg_error = exc  # let libsndfile have a go before giving up
    partial = None
    try:
        out = _load_soundfile(path, sr, downmix, new_sink)
        if out.received:
            return out.finish()
        sf_reason = "no audio samples"
    except _Truncated as exc:
        partial, sf_reason = exc.out, exc.reason
    except sf.SoundFileError as exc:
        sf_reason = _libsndfile_reason(exc)
    if partial is None and _looks_like_text(path):
        raise DecodeError(path, "not an audio file (it is text)")
    if ffmpeg and ffmpeg_error is None:
        try:
            return _load_ffmpeg(path, sr, ffmpeg, downmix, new_sink)
        except DecodeError as exc:
            ffmpeg_error = exc
    if partial is not None and partial.received:
        log.warning("%s: truncated or corrupt (%s); using the first %.1f s", path.name, sf_reason,
                    partial.received / sr)
        return partial.finish()
    if ffmpeg_error is not None:
        raise ffmpeg_error
    if in_process_reason:  # PyAV is ffmpeg: installing the ffmpeg program would not help
        raise DecodeError(path, f"{in_process_reason}; libsndfile cannot decode it either ({sf_reason})")
    raise DecodeError(
        path, f"libsndfile cannot decode it ({sf_reason}); install ffmpeg (apt-get install ffmpeg) "
              "to decode m4a/aac, wma and other formats"
    )


@functools.cache
def _in_process_available(name: str) -> bool:
    return _IN_PROCESS[name][0]()


def _load_in_process(path: Path, sr: int, downmix: _Downmix,
                     new_sink: Callable[[int], AudioSink]) -> tuple[_Exact | None, str]:
    """(the file through its suffix's in-process decoder, unfinished, or None, why not): None when
    there is none, it is not installed (no reason), or it cannot read the file (``downmix`` then
    starts afresh)."""
    name = IN_PROCESS_FIRST.get(path.suffix.lower())
    if name is None or not _in_process_available(name):
        return None, ""
    blocks, reason = None, "no audio samples"
    try:
        native, blocks = _IN_PROCESS[name][1](path, BLOCK_FRAMES)
        out = _load_blocks(blocks, native, sr, downmix, new_sink)
    except inproc.InProcessError as exc:
        log.debug("%s: %s; trying the other decoders", path.name, exc)
        out, reason = None, str(exc)
    finally:
        if blocks is not None:
            blocks.close()
    if out is None or not out.received:
        downmix.reset()
        return None, reason
    return out, ""


def _check_file(path: Path) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DecodeError(path, "file not found") from None
    except OSError as exc:
        raise DecodeError(path, f"cannot read file ({exc.strerror})") from None
    if path.is_dir():
        raise DecodeError(path, "is a directory, not an audio file")
    if size == 0:
        raise DecodeError(path, "empty file")


# --- libsndfile -------------------------------------------------------------------------------


class SampleBuffer:
    """A float32 buffer that grows in place (realloc) and is trimmed in place at the end: the
    ``AudioSink`` of ``load_audio``, also used to keep a bounded prefix of a signal."""

    def __init__(self, capacity: int = 0):
        self.data = np.zeros(max(int(capacity), 1024), np.float32)
        self.n = 0

    def push(self, x: np.ndarray) -> None:
        end = self.n + len(x)
        if end > len(self.data):
            self.data.resize(max(end, len(self.data) + len(self.data) // 2), refcheck=False)
        self.data[self.n : end] = x
        self.n = end

    def finish(self) -> np.ndarray:
        """The samples, the buffer trimmed to them."""
        self.data.resize(self.n, refcheck=False)
        return self.data


class _Exact:
    """Passes a route's 16 kHz output on to its sink, holding back the last ``HOLD`` samples so the
    end can be trimmed or zero-padded to librosa's length once the input length is known."""

    HOLD = 4096  # soxr's flushed output is within a few samples of ceil(n * sr / native)

    def __init__(self, sink: AudioSink):
        self.sink = sink
        self.received = 0
        self.length: int | None = None  # the signal's length, once the route knows it
        self._held = np.zeros(0, np.float32)

    def push(self, x: np.ndarray) -> None:
        if not len(x):
            return
        self.received += len(x)
        both = np.concatenate((self._held, x)) if len(self._held) else x
        cut = max(len(both) - self.HOLD, 0)
        if cut:
            self.sink.push(both[:cut])
        self._held = both[cut:].copy()

    def finish(self) -> Any:
        """The sink's result, the signal trimmed or zero-padded to ``length`` samples if set."""
        held = self._held
        if self.length is not None:
            need = self.length - (self.received - len(held))
            if need > len(held):
                held = np.concatenate((held, np.zeros(need - len(held), np.float32)))
            held = held[: max(need, 0)]
        if len(held):
            self.sink.push(held)
        return self.sink.finish()


class _Downmix:
    """Channel average of (frames, channels) blocks, as ``np.mean`` over channels computes it, and
    the energies of the average and of the left channel, which tell a stereo mix that cancels.

    ``flip_second`` averages the left channel with the negated right one instead."""

    def __init__(self, flip_second: bool = False):
        self.flip_second = flip_second
        self.reset()

    def reset(self) -> None:
        """Forget the energies (a route that failed part-way fed some blocks)."""
        self.mono_energy = self.left_energy = 0.0
        self.stereo_frames = 0

    def __call__(self, block: np.ndarray) -> np.ndarray:
        channels = block.shape[1]
        if channels == 1:
            y = block[:, 0]
        else:
            y = (np.subtract if self.flip_second and channels == 2 else np.add)(block[:, 0], block[:, 1])
            for c in range(2, channels):
                y += block[:, c]
            y /= np.float32(channels)
        if not np.isfinite(y).all():  # NaN/inf in a float file would smear through the filter
            y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
        if channels == 2:  # every 8th frame is plenty for a ratio of energies, and 8x cheaper
            left, mono = block[::8, 0], y[::8]
            self.left_energy += float(np.dot(left, left))
            self.mono_energy += float(np.dot(mono, mono))
            self.stereo_frames += len(left)
        return y

    @property
    def cancelled(self) -> bool:
        """A stereo mix whose left channel is not silent (above -80 dBFS) but whose average is."""
        audible = self.left_energy > 1e-8 * self.stereo_frames
        return not self.flip_second and audible and self.mono_energy < CANCELLED_ENERGY_RATIO * self.left_energy


def _librosa_length(n_native: int, native: int, sr: int) -> int:
    """librosa.resample's output length: ``ceil(n * (sr / native))``, computed as librosa does."""
    return int(np.ceil(n_native * (float(sr) / native)))


class _ToRate:
    """Every route's last stage: mono blocks at ``native`` Hz through one soxr HQ stream (none when
    the rates are equal) into ``out``, counting the input for librosa's output length."""

    def __init__(self, out: _Exact, native: int, sr: int):
        self.out, self.native, self.sr, self.n_in = out, native, sr, 0
        self._soxr = (soxr.ResampleStream(native, sr, 1, dtype="float32", quality=SOXR_QUALITY)
                      if native != sr else None)

    def push(self, mono: np.ndarray) -> None:
        self.n_in += len(mono)
        mono = np.ascontiguousarray(mono)
        self.out.push(self._soxr.resample_chunk(mono) if self._soxr else mono)

    def flush(self) -> _Exact:
        """The output so far, the resampler's tail included (a route cut short: length unknown)."""
        if self._soxr is not None:
            self.out.push(self._soxr.resample_chunk(np.zeros(0, np.float32), last=True))
        return self.out

    def finish(self) -> _Exact:
        """The whole output, its length set to librosa's once the input length is known."""
        self.flush()
        if self._soxr is not None:
            self.out.length = _librosa_length(self.n_in, self.native, self.sr)
        return self.out


def _load_soundfile(path: Path, sr: int, downmix: _Downmix, new_sink: Callable[[int], AudioSink]) -> _Exact:
    """The file through libsndfile into a new sink, unfinished unless the output is complete (a
    route with no samples leaves the caller to try another)."""
    with sf.SoundFile(str(path)) as f:
        native, channels = f.samplerate, f.channels
        frames = f.frames if 0 < f.frames < 1 << 40 else 0  # an estimate for some formats (mp3)
        to_rate = _ToRate(_Exact(new_sink(math.ceil(frames * sr / native) + 64)), native, sr)
        buf = np.empty((BLOCK_FRAMES, channels), np.float32)
        try:
            while True:
                # Read to the real end of stream, not to the header's frame count (mp3 Xing
                # headers of cut files overstate it; soundfile's blocks() would pad with zeros).
                block = f.read(BLOCK_FRAMES, dtype="float32", always_2d=True, out=buf)
                if len(block) == 0:
                    break
                to_rate.push(downmix(block))
        except sf.SoundFileError as exc:
            raise _Truncated(to_rate.flush(), _libsndfile_reason(exc)) from None
    return to_rate.finish()


def _libsndfile_reason(exc: Exception) -> str:
    text = getattr(exc, "error_string", None) or str(exc)
    return text.strip().rstrip(".") or type(exc).__name__


def _looks_like_text(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            head = f.read(1024)
    except OSError:
        return False
    if not head or b"\0" in head:
        return False
    printable = sum(32 <= b < 127 or b in (9, 10, 13) or b >= 128 for b in head)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a multi-byte character cut at the end is fine
            return False
    return printable / len(head) > 0.98


# --- in-process decoders: dr_flac, PyAV -----------------------------------------------------


def _load_blocks(blocks, native: int, sr: int, downmix: _Downmix, new_sink: Callable[[int], AudioSink]) -> _Exact:
    """(frames, channels) float32 blocks at ``native`` Hz through ``downmix`` and one soxr HQ
    stream into a new sink, trimmed to librosa's length: the chain of ``_load_soundfile``."""
    to_rate = _ToRate(_Exact(new_sink(0)), native, sr)
    for block in blocks:
        to_rate.push(downmix(block))
    return to_rate.finish()


# --- ffmpeg -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _ffmpeg_has_soxr(ffmpeg: str) -> bool:
    try:
        conf = subprocess.run([ffmpeg, "-hide_banner", "-buildconf"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return "--enable-libsoxr" in conf.stdout + conf.stderr


def ffmpeg_command(path: Path, sr: int, ffmpeg: str = "ffmpeg", resample: bool = True) -> list[str]:
    """The ffmpeg invocation: first audio stream, float32 WAV on stdout, soxr HQ to ``sr`` if asked.

    ``file:`` keeps names with ``:`` or a leading ``-`` from being read as protocols or options.
    """
    cmd = [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-i", f"file:{Path(path).absolute()}",
           "-map", "0:a:0", "-vn", "-sn", "-dn", "-map_metadata", "-1", "-fflags", "+bitexact"]
    if resample:
        cmd += ["-af", f"aresample={sr}:resampler=soxr:precision=20"]  # precision 20 = SOXR_HQ
    return cmd + ["-c:a", "pcm_f32le", "-f", "wav", "-"]


def _load_ffmpeg(path: Path, sr: int, ffmpeg: str, downmix: _Downmix,
                 new_sink: Callable[[int], AudioSink] = SampleBuffer) -> Any:
    in_ffmpeg = _ffmpeg_has_soxr(ffmpeg)
    with tempfile.TemporaryFile() as err:  # a file, not a pipe: a chatty ffmpeg cannot block on it
        proc = subprocess.Popen(ffmpeg_command(path, sr, ffmpeg, in_ffmpeg), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=err)
        try:
            out = _read_wav_stream(proc.stdout, sr, downmix, new_sink)
            code = proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        err.seek(0)
        messages = err.read().decode(errors="replace").strip()
    if out is None or not out.received:
        clean = out is not None and code == 0 and not messages
        raise DecodeError(path, "no audio samples decoded" if clean else _ffmpeg_reason(path, messages, code))
    if code != 0 or messages:
        log.warning("%s: ffmpeg reported problems, decoded %.1f s: %s", path.name, out.received / sr,
                    messages.splitlines()[-1] if messages else f"exit code {code}")
    return out.finish()


def _read_exact(stream, n: int) -> bytes:
    data = stream.read(n)
    return data if data is not None else b""


def _read_wav_header(stream) -> tuple[int, int] | None:
    """(sample rate, channels) of ffmpeg's float WAV stream, positioned at the samples; None if
    ffmpeg wrote nothing (it failed before the first frame)."""
    head = _read_exact(stream, 12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        return None
    rate = channels = None
    while True:
        chunk = _read_exact(stream, 8)
        if len(chunk) < 8:
            return None
        cid, size = chunk[:4], int.from_bytes(chunk[4:], "little")
        if cid == b"data":
            return (rate, channels) if rate and channels else None
        if size >= 1 << 24:  # only the data chunk may be unbounded
            return None
        body = _read_exact(stream, size + size % 2)
        if cid == b"fmt ":
            channels = int.from_bytes(body[2:4], "little")
            rate = int.from_bytes(body[4:8], "little")
            if int.from_bytes(body[14:16], "little") != 32:
                return None


def _read_wav_stream(stream, sr: int, downmix: _Downmix, new_sink: Callable[[int], AudioSink]) -> _Exact | None:
    """ffmpeg's WAV stream into a new sink (unfinished); None if ffmpeg wrote no header."""
    header = _read_wav_header(stream)
    if header is None:
        return None
    rate, channels = header
    frame_bytes = 4 * channels
    to_rate = _ToRate(_Exact(new_sink(sr * 600)), rate, sr)
    pending = b""
    while True:
        chunk = _read_exact(stream, PIPE_CHUNK)
        if not chunk:
            break
        if pending:
            chunk = pending + chunk
        usable = len(chunk) - len(chunk) % frame_bytes
        pending = chunk[usable:]
        if not usable:
            continue
        block = np.frombuffer(chunk, np.float32, usable // 4).reshape(-1, channels)
        to_rate.push(downmix(block))
    return to_rate.finish()


def _ffmpeg_reason(path: Path, messages: str, code: int) -> str:
    messages = messages.replace(f"file:{path.absolute()}: ", "")
    low = messages.lower()
    last = messages.splitlines()[-1].strip() if messages else f"exit code {code}"
    if "moov atom not found" in low or "end of file" in low or "truncat" in low:
        return f"truncated or corrupt (ffmpeg: {last})"
    if "matches no streams" in low or "does not contain any stream" in low:
        return "no audio stream"
    if "invalid data found when processing input" in low:
        return f"not an audio file, or a damaged one (ffmpeg: {last})"
    return f"ffmpeg could not decode it ({last})"
