"""Streaming analysis (decode -> log-mel -> patches -> model as the blocks come): the same
numbers as the whole-file computation, the signal features from the first FEATURE_WINDOW_S, and
peak memory flat in the track's length."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiomuse.analysis import features as feat
from audiomuse.analysis.decode import load_audio
from audiomuse.analysis.musicnn import MelStream, MusicnnModel, PatchPool, log_mel, patches
from audiomuse.analysis.track import SCORE_COLUMNS, TrackAnalyser, blas_threads, feature_window, score_columns

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def model():
    return MusicnnModel()


def _whole_file(model: MusicnnModel, y: np.ndarray, hop: int = 187) -> tuple[np.ndarray, np.ndarray, int]:
    """The mean model outputs over every patch of the whole log-mel at once (the pre-streaming path)."""
    p = patches(log_mel(y), hop)
    emb, tags = model.predict(p)
    return emb.mean(axis=0, dtype=np.float64), tags.mean(axis=0, dtype=np.float64), len(p)


def _cosine(a, b) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("n", [0, 300, 512, 513, 16000 * 3, (4096 - 1) * 256 + 512, 4096 * 256 + 512, 16000 * 150 + 77])
def test_mel_stream_equals_log_mel_bit_for_bit(n):
    y = (0.2 * np.random.default_rng(n).standard_normal(n)).astype(np.float32)
    stream, blocks = MelStream(), []
    for start in range(0, n, 23_813):  # an odd push size: blocks end anywhere inside a frame
        blocks += stream.push(y[start : start + 23_813])
    blocks.append(stream.finish())
    got = np.concatenate(blocks)
    assert got.shape == log_mel(y).shape
    assert np.array_equal(got, log_mel(y))


@pytest.mark.parametrize("seconds, hop, batch", [(1.0, 187, 1), (3.0, 187, 1), (100.0, 187, 1), (100.0, 93, 3),
                                                 (40.0, 400, 2)])
def test_patch_pool_equals_the_whole_mel_patches(model, seconds, hop, batch):
    """Pushed in log-mel blocks, the pool runs the same patches as ``patches(mel, hop)``: short
    tracks padded to one patch, the tail shorter than a patch left out, any hop and batch size."""
    t = np.arange(int(16000 * seconds)) / 16000
    y = (0.3 * np.sin(2 * np.pi * 220 * t * (1 + 0.5 * np.sin(t)))).astype(np.float32)
    mel = log_mel(y)
    model.batch_size = batch
    try:
        pool = PatchPool(model, hop)
        for start in range(0, len(mel), 1000):
            pool.push(mel[start : start + 1000])
        emb, tags, n = pool.finish()
        ref_emb, ref_tags, ref_n = _whole_file(model, y, hop)
    finally:
        model.batch_size = 1
    assert n == ref_n
    assert np.abs(emb - ref_emb).max() < 1e-5 and np.abs(tags - ref_tags).max() < 1e-6


def _beats(path: Path, seconds: float, bpm_changes_at: float) -> Path:
    """Clicks at 120 BPM, then at 90 BPM after ``bpm_changes_at`` s, over a tone that changes key."""
    sr = 44100
    t = np.arange(int(sr * seconds)) / sr
    y = 0.1 * np.sin(2 * np.pi * np.where(t < bpm_changes_at, 261.6, 293.7) * t)
    period = np.where(t < bpm_changes_at, 0.5, 60 / 90)
    y += 0.6 * np.exp(-((t % period) * 200))
    sf.write(path, np.stack([y, y * 0.8], 1).astype(np.float32), sr)
    return path


def test_features_read_the_first_window_and_the_model_reads_everything(model, tmp_path):
    path = _beats(tmp_path / "long.wav", 40.0, 15.0)
    y = load_audio(path)
    r = TrackAnalyser(model=model, feature_window_s=15.0).analyse(path)
    with blas_threads(1):  # as the analyser runs (more BLAS threads sum in another order)
        window, whole = feat.signal_features(y[: 15 * 16000]), feat.signal_features(y)
    assert {k: getattr(r, k) for k in SCORE_COLUMNS} == {k: window[k] for k in SCORE_COLUMNS}
    assert r.signal_features == score_columns(window, r.tags)["signal_features"]
    assert abs(r.tempo - 120) < 2 and abs(whole["tempo"] - 120) > 2  # the window mattered
    emb, _, n = _whole_file(model, y)
    assert r.n_patches == n and _cosine(r.embedding, emb) > 0.999999
    assert r.audio_seconds == len(y) / 16000
    kept, seconds = feature_window(path, 15.0)  # what a features-only refresh reads
    assert np.array_equal(kept, y[: 15 * 16000]) and seconds == len(y) / 16000


def _real_tracks(sample_library: Path) -> list[dict]:
    """One track of each style and the library's longest, ogg and flac."""
    tracks = json.loads((sample_library / "manifest.json").read_text())["tracks"]
    chosen = {}
    for t in tracks:
        chosen.setdefault(t["style"], t)
    longest = max(tracks, key=lambda t: t["duration"])
    return [*chosen.values(), longest]


@pytest.mark.slow
def test_streaming_analysis_equals_the_whole_file_on_real_music(sample_library, model):
    """Embedding (cosine >= 0.99999, measured 1.0: the same patches in the same order) and every
    signal feature identical to the whole-file computation for the sample library's tracks, all
    shorter than the feature window."""
    analyser = TrackAnalyser(model=model)
    tracks = _real_tracks(sample_library)
    assert max(t["duration"] for t in tracks) < feat.FEATURE_WINDOW_S
    assert {Path(t["path"]).suffix for t in tracks} == {".ogg", ".flac"}
    for t in tracks:
        path = sample_library / t["path"]
        y = load_audio(path)
        ref_emb, ref_tags, ref_n = _whole_file(model, y)
        r = analyser.analyse(path)
        assert r.n_patches == ref_n and _cosine(r.embedding, ref_emb) >= 0.99999, t["path"]
        assert np.abs(r.tags - ref_tags).max() < 1e-6, t["path"]
        with blas_threads(1):  # as the analyser runs (more BLAS threads sum in another order)
            whole = score_columns(feat.signal_features(y), r.tags)
        assert {k: getattr(r, k) for k in whole} == whole, t["path"]
        assert r.audio_seconds == len(y) / 16000


def _peak_mb(path: Path, mode: str, window_s: float) -> float:
    from benchmarks.analysis_memory import MEASURE

    proc = subprocess.run([sys.executable, "-c", MEASURE, str(path), mode, str(window_s)], capture_output=True,
                          text=True, check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(proc.stdout.strip().splitlines()[-1])["peak_mb"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
def test_peak_memory_stays_flat_in_track_length(sample_library, tmp_path):
    """Real tracks concatenated into a 2-minute and a 15-minute Opus file, each analysed in a fresh
    process (VmHWM) with a 1-minute feature window: the streaming peak grows by less than 25 MB,
    where the whole-file path grows by ~6 MB a minute (signal, log-mel and feature temporaries;
    ~170 MB from 3 to 30 minutes). benchmarks/analysis_memory.py measures 10 hours."""
    from benchmarks.analysis_memory import make_long_file

    short = make_long_file(tmp_path / "short.opus", 120, sample_library)
    long = make_long_file(tmp_path / "long.opus", 900, sample_library)
    grew = _peak_mb(long, "stream", 60) - _peak_mb(short, "stream", 60)
    whole_grew = _peak_mb(long, "whole", 60) - _peak_mb(short, "whole", 60)
    assert grew < 25, f"streaming peak grew {grew:.0f} MB from 2 to 15 minutes"
    assert whole_grew > 50, f"the whole-file path grew only {whole_grew:.0f} MB: the test measures nothing"
