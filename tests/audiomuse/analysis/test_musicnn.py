"""The spec's MusiCNN front end and the committed ONNX model, on small generated signals (fast)."""

import numpy as np
import pytest

from audiomuse.analysis.musicnn import (
    INPUT, MODEL_PATH, MSD_TAGS, OUTPUT_EMBEDDING, OUTPUT_TAGS, MusicnnModel, load_audio_16k, log_mel, patches,
)
from tests.signals import noise, tone, write_wav


@pytest.fixture(scope="module")
def model():
    return MusicnnModel()


def test_front_end_matches_librosa_exactly():
    import librosa

    y = np.concatenate([tone((440, 660), 3, sr=16000), noise(2, sr=16000)])
    ref = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=256, n_mels=96, window="hann",
                                         center=False, power=2.0, norm="slaney", htk=False).T
    ours = log_mel(y)
    assert ours.dtype == np.float32
    assert ours.shape == ref.shape
    assert np.abs(ours - np.log10(1 + 10000 * ref)).max() < 1e-5


@pytest.mark.parametrize(("samples", "frames"), [(16000 * 10, 624), (512, 1), (767, 1), (768, 2), (100, 1)])
def test_frame_count_is_center_false(samples, frames):
    # center=False: 1 + (len - 512) // 256 frames, no padding at either end; a clip shorter than one
    # FFT is zero-padded to one frame rather than failing.
    mel = log_mel(np.zeros(samples, np.float32))
    assert mel.shape == (frames, 96) and mel.dtype == np.float32


def test_log_compression_is_log10_1_plus_10000():
    assert np.all(log_mel(np.zeros(4096, np.float32)) == 0)  # silence -> log10(1) = 0
    # Doubling the amplitude quadruples the power p, and (10**log_mel - 1) / 1e4 recovers p.
    y = tone((1000, 3000), 2, sr=16000, amp=0.1)
    p1 = (10 ** log_mel(y).astype(np.float64) - 1) / 1e4
    p2 = (10 ** log_mel(2 * y).astype(np.float64) - 1) / 1e4
    strong = p1 > 1e-3 * p1.max()
    assert np.allclose(p2[strong], 4 * p1[strong], rtol=1e-3)


def test_patches_hop_and_short_input():
    mel = np.random.default_rng(0).random((1000, 96), dtype=np.float32)
    assert patches(mel).shape == (5, 187, 96)  # non-overlapping; the 65-frame tail is left out
    assert patches(mel, hop=93).shape == (9, 187, 96)
    assert np.array_equal(patches(mel)[1], mel[187:374])
    assert patches(mel, hop=93)[1, 0, 0] == mel[93, 0]
    short = patches(mel[:50])
    assert short.shape == (1, 187, 96) and np.array_equal(short[0, :50], mel[:50]) and not short[0, 50:].any()
    assert patches(mel[:187]).shape == (1, 187, 96)
    with pytest.raises(ValueError):
        patches(mel, hop=0)


def test_model_has_essentia_node_names_and_dynamic_batch(model):
    inputs, outputs = model.session.get_inputs(), model.session.get_outputs()
    assert [(i.name, i.shape[1:]) for i in inputs] == [(INPUT, [187, 96])]
    assert {o.name: o.shape[1] for o in outputs} == {OUTPUT_TAGS: 50, OUTPUT_EMBEDDING: 200}
    assert isinstance(inputs[0].shape[0], str)  # the batch axis is symbolic
    assert 2_000_000 < MODEL_PATH.stat().st_size < 5_000_000


def test_outputs_shapes_ranges_determinism(model):
    y = np.concatenate([tone((110, 220, 330), 6, sr=16000), noise(6, sr=16000, amp=0.2)])
    emb, tags, n = model.analyse(y)
    assert n == (1 + (len(y) - 512) // 256) // 187
    assert emb.shape == (200,) and tags.shape == (50,)
    assert emb.dtype == np.float32 and tags.dtype == np.float32
    assert ((0 <= tags) & (tags <= 1)).all()
    emb2, tags2, _ = MusicnnModel().analyse(y)  # a second session gives the same numbers
    assert np.array_equal(emb, emb2) and np.array_equal(tags, tags2)
    assert len(MSD_TAGS) == len(set(MSD_TAGS)) == 50 and MSD_TAGS[0] == "rock" and MSD_TAGS[-1] == "happy"


@pytest.mark.parametrize("amp", [1.0, 50.0, 3e4])
def test_no_nan_on_very_loud_or_clipped_signals(model, amp):
    # musicnn's own front end casts the mel to float16 (max 65504) and turns loud input into NaN.
    y = tone((110, 220, 5000), 8, sr=16000, amp=amp)
    if amp == 1.0:
        y = np.clip(y * 20, -1, 1)  # hard-clipped square-ish wave at full scale
    mel = log_mel(y)
    assert np.isfinite(mel).all()
    emb, tags, n = model.analyse(y)
    assert n == 2 and np.isfinite(emb).all() and np.isfinite(tags).all()


def test_short_track_is_padded_to_one_patch(model):
    emb, tags, n = model.analyse(tone((440,), 0.5, sr=16000))
    assert n == 1 and np.isfinite(emb).all() and np.isfinite(tags).all()


def test_batched_and_single_inference_agree(model):
    p = patches(log_mel(noise(20, sr=16000, amp=0.3)))
    e1, t1 = model.predict(p)
    e8, t8 = MusicnnModel(batch_size=8).predict(p)
    assert e1.shape == (len(p), 200) and t1.shape == (len(p), 50)
    assert np.abs(e1 - e8).max() < 1e-4 and np.abs(t1 - t8).max() < 1e-5
    with pytest.raises(ValueError):
        MusicnnModel(batch_size=0)


def test_load_audio_16k_resamples_and_downmixes(tmp_path):
    left = tone((440,), 2, sr=44100)
    path = write_wav(tmp_path / "stereo.wav", np.stack([left, -left], axis=1), sr=44100)
    y = load_audio_16k(path)
    assert y.dtype == np.float32 and y.ndim == 1 and len(y) == 32000
    assert np.abs(y).max() < 1e-3  # L + R cancel: it is a mono mean, not the left channel
    path = write_wav(tmp_path / "mono.wav", left, sr=44100)
    y = load_audio_16k(path)
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * 16000 / len(y) - 440) < 2
