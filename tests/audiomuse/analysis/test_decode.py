import json
import shutil
import subprocess

import numpy as np
import pytest

from audiomuse.analysis.decode import DecodeError, load_audio
from tests.signals import tone, write_wav

FORMATS = {  # suffix -> ffmpeg encoder arguments
    "mp3": ["-c:a", "libmp3lame", "-b:a", "192k"],
    "flac": ["-c:a", "flac"],
    "ogg": ["-c:a", "libvorbis", "-q:a", "6"],
    "opus": ["-c:a", "libopus", "-b:a", "128k"],
    "m4a": ["-c:a", "aac", "-b:a", "192k"],
    "wav": ["-c:a", "pcm_s24le"],
    "aiff": ["-c:a", "pcm_s16be"],
}
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed (make sysdeps)")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    y = np.concatenate([tone((440.0,), 2.0, sr=44100), tone((660.0, 880.0), 2.0, sr=44100)])
    stereo = np.stack([y, 0.5 * y], axis=1)
    return write_wav(tmp_path_factory.mktemp("src") / "source.wav", stereo, sr=44100), y


@needs_ffmpeg
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_common_format_decodes_to_16k_mono(fmt, source, tmp_path):
    src, y = source
    out = tmp_path / f"track.{fmt}"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), *FORMATS[fmt], str(out)], check=True)
    got = load_audio(out)
    assert got.dtype == np.float32 and got.ndim == 1
    assert abs(len(got) / 16000 - 4.0) < 0.1  # encoders may pad a few ms
    import librosa

    ref = librosa.resample(0.75 * y, orig_sr=44100, target_sr=16000)  # mono = mean of L and 0.5 L
    lag = int(np.argmax(np.correlate(got[4000:12000], ref[4000:8000], mode="valid")))
    seg = got[4000 + lag : 8000 + lag]
    assert np.corrcoef(seg, ref[4000:8000])[0, 1] > 0.98


def test_wav_is_identical_to_librosa_load(source):
    import librosa

    src, _ = source
    ref, _ = librosa.load(str(src), sr=16000, mono=True)
    got = load_audio(src)
    assert len(got) == len(ref) and np.abs(got - ref).max() < 1e-6


def test_empty_file(tmp_path):
    bad = tmp_path / "empty.flac"
    bad.write_bytes(b"")
    with pytest.raises(DecodeError, match="empty.flac: empty file"):
        load_audio(bad)


@needs_ffmpeg
def test_text_file_named_mp3(tmp_path):
    bad = tmp_path / "notes.mp3"
    bad.write_text("these are my notes, not music\n" * 50)
    with pytest.raises(DecodeError, match="notes.mp3"):
        load_audio(bad)


@needs_ffmpeg
def test_truncated_ogg_decodes_what_is_there_or_fails_clearly(source, tmp_path):
    """Decide: a truncated file gives the audio that is there (shorter), never a crash."""
    src, _ = source
    full = tmp_path / "full.ogg"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-c:a", "libvorbis", str(full)], check=True)
    cut = tmp_path / "cut.ogg"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    try:
        y = load_audio(cut)
    except DecodeError as exc:
        assert "cut.ogg" in str(exc)
    else:
        assert 0.5 < len(y) / 16000 < 3.9


@pytest.mark.slow
def test_real_music_identical_to_librosa_load(sample_library):
    import librosa

    tracks = json.loads((sample_library / "manifest.json").read_text())["tracks"]
    for t in tracks[::16]:
        path = sample_library / t["path"]
        ref, _ = librosa.load(str(path), sr=16000, mono=True)
        got = load_audio(path)
        assert len(got) == len(ref), t["path"]
        assert np.abs(got - ref).max() < 1e-5, t["path"]
