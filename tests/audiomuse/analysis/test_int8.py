"""The int8 MusiCNN model (the default, ANALYSIS_PRECISION=int8) against the fp32 one, and its identity.

Thresholds a little under what benchmarks/int8.py measured on the 136-track sample library
(numbers in audiomuse/analysis/models/README.md).
"""

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from audiomuse.analysis.decode import load_audio
from audiomuse.analysis.musicnn import INT8_MODEL_PATH, MODEL_PATH, MusicnnModel, log_mel
from audiomuse.analysis.track import TrackAnalyser, model_identity

# measured: mean 0.99987, min 0.99922, tag max abs diff 0.0116 over 136 tracks
MIN_MEAN_COSINE = 0.9995
MIN_COSINE = 0.999
MAX_TAG_DIFF = 0.015


def _held_out_tracks(sample_library: Path) -> list[dict]:
    """One track of each style that the int8 model was not calibrated on."""
    from audiomuse.analysis.quantize_musicnn import calibration_tracks

    calibrated = {t["path"] for t in calibration_tracks(sample_library)}
    chosen: dict[str, dict] = {}
    for t in json.loads((sample_library / "manifest.json").read_text())["tracks"]:
        if t["path"] not in calibrated:
            chosen.setdefault(t["style"], t)
    return list(chosen.values())


@pytest.mark.slow
def test_int8_embeddings_and_tags_match_fp32_on_real_music(sample_library):
    tracks = _held_out_tracks(sample_library)
    assert len(tracks) == 5
    fp32, int8 = MusicnnModel(MODEL_PATH), MusicnnModel(INT8_MODEL_PATH)
    cosines, tag_diffs = [], []
    for t in tracks:
        mel = log_mel(load_audio(sample_library / t["path"], sr=16000))
        e32, t32, _ = fp32.analyse_mel(mel)
        e8, t8, _ = int8.analyse_mel(mel)
        cosines.append(float(e32 @ e8 / np.linalg.norm(e32) / np.linalg.norm(e8)))
        tag_diffs.append(float(np.abs(t32 - t8).max()))
    report = {t["style"]: (round(c, 5), round(d, 4)) for t, c, d in zip(tracks, cosines, tag_diffs)}
    assert np.mean(cosines) >= MIN_MEAN_COSINE and min(cosines) >= MIN_COSINE, report
    assert max(tag_diffs) <= MAX_TAG_DIFF, report


def test_int8_analyser_stores_its_own_identity(tmp_path):
    """int8 embeddings are stored under another model identity than fp32 ones (so the index and
    collection sync never mix them); fp32 keeps the identity it always had."""
    import soundfile as sf

    t = np.arange(16000 * 8) / 16000
    sf.write(tmp_path / "tone.wav", (0.3 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(t))).astype(np.float32), 16000)
    fp32 = TrackAnalyser(precision="fp32").analyse(tmp_path / "tone.wav")
    int8 = TrackAnalyser().analyse(tmp_path / "tone.wav")  # the default
    assert fp32.model == model_identity(187, "fp32") == "msd-musicnn-onnx@6a6b45c99748d9d3/hop187"
    assert int8.model == model_identity(187) == model_identity(187, "int8") != fp32.model
    assert not np.array_equal(fp32.embedding, int8.embedding)  # really the other file
    with pytest.raises(ValueError):
        TrackAnalyser(precision="fp16")


def test_models_readme_names_the_committed_int8_file():
    readme = (MODEL_PATH.parent / "README.md").read_text()
    digest = hashlib.sha256(INT8_MODEL_PATH.read_bytes()).hexdigest()
    assert digest in re.findall(r"[0-9a-f]{64}", readme)


@pytest.mark.slow
def test_quantiser_rebuilds_the_committed_int8_file(sample_library, tmp_path):
    """From the committed fp32 file and the sample library, byte for byte (needs onnx: the
    ``convert`` extra)."""
    pytest.importorskip("onnx")
    from audiomuse.analysis.quantize_musicnn import calibration_patches, quantize

    out = quantize(tmp_path / "int8.onnx", calibration_patches(sample_library))
    assert out.read_bytes() == INT8_MODEL_PATH.read_bytes()
