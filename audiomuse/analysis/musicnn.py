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


def log_mel(y: np.ndarray) -> np.ndarray:
    """[frames, 96] float32 log-mel of a 16 kHz signal (equal to librosa's melspectrogram path)."""
    y = np.ascontiguousarray(y, dtype=np.float32)
    if len(y) < N_FFT:
        y = np.pad(y, (0, N_FFT - len(y)))
    n_frames = 1 + (len(y) - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(y, (n_frames, N_FFT), (y.strides[0] * HOP, y.strides[0]), writeable=False)
    out = np.empty((n_frames, N_MELS), np.float32)
    basis_t = _mel_basis().T
    window = periodic_hann(N_FFT)
    for start in range(0, n_frames, 4096):  # blocks keep the spectrum's memory small for long tracks
        spec = scipy.fft.rfft(frames[start : start + 4096] * window, axis=1)
        power = (spec.real**2 + spec.imag**2).astype(np.float32)
        np.dot(power, basis_t, out=out[start : start + 4096])
    return np.log10(1 + 10000 * out)


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
        """As ``analyse`` from a ready log-mel, which callers also use for other features.

        Patches are cut one batch at a time and only the running sums are kept, so a 2-hour file
        costs no more memory here than a 3-minute one (the stacked patches would be 2x its mel)."""
        mel, starts = _patch_grid(mel, hop)
        emb_sum, tag_sum = np.zeros(200, np.float64), np.zeros(len(MSD_TAGS), np.float64)
        for i in range(0, len(starts), self.batch_size):
            batch = np.stack([mel[s : s + PATCH_FRAMES] for s in starts[i : i + self.batch_size]])
            t, e = self.session.run([OUTPUT_TAGS, OUTPUT_EMBEDDING], {INPUT: batch})
            emb_sum += e.sum(axis=0, dtype=np.float64)
            tag_sum += t.sum(axis=0, dtype=np.float64)
        n = len(starts)
        return (emb_sum / n).astype(np.float32), (tag_sum / n).astype(np.float32), n


def load_audio_16k(path: Path) -> np.ndarray:
    """The spec's loader, the reference every faster decoder is checked against."""
    import librosa

    y, _ = librosa.load(str(path), sr=SAMPLE_RATE, mono=True)
    return y
