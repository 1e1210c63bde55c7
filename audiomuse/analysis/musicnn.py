"""The MusiCNN front end and model, exactly as the spec fixes them, run with onnxruntime.

Front end (the contract the model was trained with): 16 kHz mono; mel spectrogram with n_fft 512,
hop 256, 96 mels, periodic Hann window, center=False, power 2, Slaney mel scale and norm; then
``log10(1 + 10000 * mel)`` in float32 (musicnn's float16 overflows); 187-frame patches. The
embedding of a track is the mean over patches of the 200-d ``model/dense/BiasAdd`` output, its
tags the mean of the 50 sigmoid outputs.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.fft  # measured 2x faster than numpy.fft on these float32 frames

SAMPLE_RATE = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
PATCH_FRAMES = 187
MODEL_PATH = Path(__file__).parent / "models" / "msd-musicnn.onnx"
# The same model with its two timbral convolutions quantised to int8 (quantize_musicnn.py)
INT8_MODEL_PATH = MODEL_PATH.with_name("msd-musicnn-int8.onnx")
MODEL_PATHS = {"fp32": MODEL_PATH, "int8": INT8_MODEL_PATH}
# The analyser's default (ANALYSIS_PRECISION): int8 met the bar set for it on the 136 sample-library
# tracks (mean-embedding cosine to fp32 mean 0.99987, min 0.99922; style precision@10 0.773 vs
# 0.775) at 1.5-1.8x less model CPU per patch; numbers in models/README.md.
DEFAULT_PRECISION = "int8"
# Measured with 1 thread on the 2-core machine: batch 1 cost the least CPU per patch, batches of
# 2-16 cost 1-7% more and more wall time (numbers in models/README.md).
DEFAULT_BATCH_SIZE = 1
INPUT, OUTPUT_TAGS, OUTPUT_EMBEDDING = "model/Placeholder:0", "model/Sigmoid:0", "model/dense/BiasAdd:0"

MSD_TAGS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul",
    "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies",
    "blues", "hard rock", "ambient", "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop",
    "70s", "party", "country", "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal",
    "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy",
)


@lru_cache(maxsize=1)
def _mel_basis() -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, htk=False, norm="slaney").astype(np.float32)


@lru_cache(maxsize=4)
def periodic_hann(n: int) -> np.ndarray:
    """librosa's default window (scipy's periodic Hann), float32; shared with the features' STFTs."""
    k = np.arange(n)
    return (0.5 - 0.5 * np.cos(2 * np.pi * k / n)).astype(np.float32)


MEL_BLOCK = 4096  # frames per FFT and matmul call, in log_mel and MelStream alike (1.2 MB of mel)


def _log_mel_frames(frames: np.ndarray) -> np.ndarray:
    """[n, 96] log-mel of [n, 512] frames: one block of ``log_mel``. Both ``log_mel`` and
    ``MelStream`` call it on the same blocks, so their outputs are equal bit for bit."""
    spec = scipy.fft.rfft(frames * periodic_hann(N_FFT), axis=1)
    power = (spec.real**2 + spec.imag**2).astype(np.float32)
    mel = power @ _mel_basis().T
    return np.log10(1 + 10000 * mel)


def _frames(y: np.ndarray, n_frames: int) -> np.ndarray:
    return np.lib.stride_tricks.as_strided(y, (n_frames, N_FFT), (y.strides[0] * HOP, y.strides[0]), writeable=False)


def log_mel(y: np.ndarray) -> np.ndarray:
    """[frames, 96] float32 log-mel of a 16 kHz signal (equal to librosa's melspectrogram path)."""
    y = np.ascontiguousarray(y, dtype=np.float32)
    if len(y) < N_FFT:
        y = np.pad(y, (0, N_FFT - len(y)))
    n_frames = 1 + (len(y) - N_FFT) // HOP
    frames = _frames(y, n_frames)
    out = np.empty((n_frames, N_MELS), np.float32)
    for start in range(0, n_frames, MEL_BLOCK):  # blocks keep the spectrum's memory small
        out[start : start + MEL_BLOCK] = _log_mel_frames(frames[start : start + MEL_BLOCK])
    return out


class MelStream:
    """``log_mel`` of a signal that arrives in pieces: ``push`` returns the log-mel blocks completed
    so far, ``finish`` the last one. The blocks are ``log_mel``'s (frames 0-4095, 4096-8191, ...;
    each needs its 256-sample overlap with the next, kept here), so the frames are equal to the
    whole-signal computation bit for bit; memory is one block of samples (4 MB)."""

    _NEED = (MEL_BLOCK - 1) * HOP + N_FFT  # samples of one block of frames
    _STEP = MEL_BLOCK * HOP  # samples the next block starts after

    def __init__(self):
        self._buf = np.empty(self._NEED + (1 << 16), np.float32)
        self._n = 0
        self.samples = 0  # pushed so far

    def push(self, y: np.ndarray) -> list[np.ndarray]:
        blocks = []
        self.samples += len(y)
        while len(y):
            take = min(len(y), len(self._buf) - self._n)
            self._buf[self._n : self._n + take] = y[:take]
            self._n += take
            y = y[take:]
            if self._n >= self._NEED:
                blocks.append(_log_mel_frames(_frames(self._buf, MEL_BLOCK)))
                rest = self._buf[self._STEP : self._n].copy()
                self._n = len(rest)
                self._buf[: self._n] = rest
        return blocks

    def finish(self) -> np.ndarray:
        """The frames not yet returned ([0, 96] when none): the last block, shorter than the others."""
        y = self._buf[: self._n]
        if self.samples < N_FFT:  # log_mel pads a signal shorter than one frame
            y = np.pad(y, (0, N_FFT - len(y)))
        if len(y) < N_FFT:
            return np.zeros((0, N_MELS), np.float32)
        return _log_mel_frames(_frames(y, 1 + (len(y) - N_FFT) // HOP))


def _patch_grid(mel: np.ndarray, hop: int) -> tuple[np.ndarray, range]:
    """(mel as float32, zero-padded to one patch when shorter, start frame of every patch): a tail
    shorter than a patch is left out, as in musicnn, and every track gets at least one patch."""
    if hop < 1:
        raise ValueError(f"patch hop must be >= 1, got {hop}")
    mel = np.ascontiguousarray(mel, dtype=np.float32)
    if len(mel) < PATCH_FRAMES:
        mel = np.pad(mel, ((0, PATCH_FRAMES - len(mel)), (0, 0)))
    return mel, range(0, len(mel) - PATCH_FRAMES + 1, hop)


def patches(mel: np.ndarray, hop: int = PATCH_FRAMES) -> np.ndarray:
    """[N, 187, 96] patches every ``hop`` frames (see ``_patch_grid``)."""
    mel, starts = _patch_grid(mel, hop)
    return np.stack([mel[s : s + PATCH_FRAMES] for s in starts])


class MusicnnModel:
    """One onnxruntime session, loaded once per process and reused for every track.

    Single-threaded and sequential by default: the pipeline runs one worker per core, and intra-op
    threads on a busy 2-core machine cost more CPU per patch than they save in wall time.
    """

    def __init__(self, path: Path = MODEL_PATH, threads: int = 1, batch_size: int = DEFAULT_BATCH_SIZE):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.batch_size = batch_size

    def predict(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(embeddings [N, 200], tags [N, 50]) for [N, 187, 96] patches."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        embs, tags = [], []
        for start in range(0, len(batch), self.batch_size):
            t, e = self.session.run([OUTPUT_TAGS, OUTPUT_EMBEDDING], {INPUT: batch[start : start + self.batch_size]})
            embs.append(e)
            tags.append(t)
        return np.concatenate(embs), np.concatenate(tags)

    def analyse(self, y16k: np.ndarray, hop: int = PATCH_FRAMES) -> tuple[np.ndarray, np.ndarray, int]:
        """(mean embedding [200], mean tags [50], number of patches) of a 16 kHz mono signal."""
        return self.analyse_mel(log_mel(y16k), hop)

    def analyse_mel(self, mel: np.ndarray, hop: int = PATCH_FRAMES) -> tuple[np.ndarray, np.ndarray, int]:
        """As ``analyse`` from a ready log-mel, which callers also use for other features."""
        pool = PatchPool(self, hop)
        pool.push(mel)
        return pool.finish()


class PatchPool:
    """Cuts ``_patch_grid``'s patches out of log-mel frames as they come, runs them through the model
    one batch at a time and keeps only the running sums of its outputs: the same patches, batches
    and sums as the whole mel would give, in memory of one mel block, whatever the track's length."""

    def __init__(self, model: MusicnnModel, hop: int = PATCH_FRAMES):
        if hop < 1:
            raise ValueError(f"patch hop must be >= 1, got {hop}")
        self.model, self.hop = model, hop
        self._mel = np.zeros((0, N_MELS), np.float32)  # the frames from ``_first`` on
        self._first = self._next = 0  # frame index of _mel[0]; start frame of the next patch
        self._batch: list[np.ndarray] = []
        self._emb_sum, self._tag_sum = np.zeros(200, np.float64), np.zeros(len(MSD_TAGS), np.float64)
        self.frames = self.n_patches = 0

    def push(self, mel: np.ndarray) -> None:
        """Take the next log-mel frames; run every batch they complete."""
        mel = np.asarray(mel, dtype=np.float32)
        if not len(mel):
            return
        self._mel = np.concatenate((self._mel, mel)) if len(self._mel) else mel
        self.frames += len(mel)
        while self._next + PATCH_FRAMES <= self._first + len(self._mel):
            start = self._next - self._first
            self._batch.append(self._mel[start : start + PATCH_FRAMES])
            self._next += self.hop
            if len(self._batch) == self.model.batch_size:
                self._run()
        drop = min(self._next - self._first, len(self._mel))
        self._mel, self._first = self._mel[drop:], self._first + drop

    def finish(self) -> tuple[np.ndarray, np.ndarray, int]:
        """(mean embedding, mean tags, number of patches); a track shorter than one patch is
        zero-padded to one, a tail shorter than a patch is left out (``_patch_grid``)."""
        if self.frames < PATCH_FRAMES:
            self._batch.append(np.pad(self._mel, ((0, PATCH_FRAMES - len(self._mel)), (0, 0))))
        if self._batch:
            self._run()
        n = self.n_patches
        return (self._emb_sum / n).astype(np.float32), (self._tag_sum / n).astype(np.float32), n

    def _run(self) -> None:
        batch = np.stack(self._batch)
        self._batch.clear()
        t, e = self.model.session.run([OUTPUT_TAGS, OUTPUT_EMBEDDING], {INPUT: batch})
        self._emb_sum += e.sum(axis=0, dtype=np.float64)
        self._tag_sum += t.sum(axis=0, dtype=np.float64)
        self.n_patches += len(batch)


def load_audio_16k(path: Path) -> np.ndarray:
    """The spec's loader, the reference every faster decoder is checked against."""
    import librosa

    y, _ = librosa.load(str(path), sr=SAMPLE_RATE, mono=True)
    return y
