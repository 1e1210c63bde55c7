import numpy as np
import pytest

from audiomuse.analysis.musicnn import MSD_TAGS, MusicnnModel, log_mel, patches
from tests.signals import noise, tone


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
    assert ours.shape == ref.shape == (1 + (len(y) - 512) // 256, 96)  # center=False framing
    assert np.abs(ours - np.log10(1 + 10000 * ref)).max() < 1e-5


def test_patches_hop_and_short_input():
    mel = np.random.default_rng(0).random((1000, 96), dtype=np.float32)
    assert patches(mel).shape == (5, 187, 96)
    assert patches(mel, hop=93).shape == (9, 187, 96)
    assert np.array_equal(patches(mel)[1], mel[187:374])
    assert patches(mel[:50]).shape == (1, 187, 96)


def test_outputs_shapes_ranges_determinism_and_no_nan_on_clipping(model):
    loud = np.clip(tone((110, 220, 5000), 8, sr=16000, amp=50.0), -1, 1)  # float16 would overflow here
    emb, tags, n = model.analyse(loud)
    assert emb.shape == (200,) and tags.shape == (50,) and n == 2
    assert np.isfinite(emb).all() and ((0 <= tags) & (tags <= 1)).all()
    emb2, tags2, _ = model.analyse(loud)
    assert np.array_equal(emb, emb2) and np.array_equal(tags, tags2)
    assert len(MSD_TAGS) == 50 and MSD_TAGS[0] == "rock" and MSD_TAGS[-1] == "happy"


def test_batched_and_single_inference_agree(model):
    p = patches(log_mel(noise(20, sr=16000, amp=0.3)))
    e1, t1 = model.predict(p)
    e8, t8 = MusicnnModel(batch_size=8).predict(p)
    assert np.abs(e1 - e8).max() < 1e-4 and np.abs(t1 - t8).max() < 1e-5
