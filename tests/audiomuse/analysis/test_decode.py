"""load_audio: every common format, equality with librosa.load(sr=16000), bad files, bounded memory.

Decided behaviour for damaged files: a truncated file gives the audio that is there (a shorter
signal); a file with nothing decodable raises DecodeError("<name>: <reason>").
"""

import json
import logging
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiomuse.analysis import decode
from audiomuse.analysis import decode_inprocess as inproc
from audiomuse.analysis.decode import DecodeError, load_audio
from tests.signals import noise, tone, write_wav

FORMATS = {  # suffix -> ffmpeg encoder arguments
    "mp3": ["-c:a", "libmp3lame", "-b:a", "192k"],
    "flac": ["-c:a", "flac"],
    "ogg": ["-c:a", "libvorbis", "-q:a", "6"],
    "opus": ["-c:a", "libopus", "-b:a", "128k"],
    "m4a": ["-c:a", "aac", "-b:a", "192k"],
    "wav": ["-c:a", "pcm_s24le"],
    "aiff": ["-c:a", "pcm_s16be"],
}
LIBSNDFILE = {"mp3", "flac", "ogg", "wav", "aiff"}  # decoded exactly as librosa.load does
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None,
                                  reason="ffmpeg not installed (apt-get install ffmpeg / make sysdeps)")


def librosa_load(path) -> np.ndarray:
    import librosa

    with warnings.catch_warnings():  # librosa warns when it falls back to audioread
        warnings.simplefilter("ignore")
        return librosa.load(str(path), sr=16000, mono=True)[0]


def aligned_corr(got: np.ndarray, ref: np.ndarray, max_lag: int = 1600) -> float:
    """Correlation of ``got`` with ``ref`` after the best shift (encoders add a few ms of delay)."""
    seg = ref[8000:40000]
    scores = np.correlate(got[8000 - max_lag : 40000 + max_lag], seg, mode="valid")
    lag = int(np.argmax(scores)) - max_lag
    return float(np.corrcoef(got[8000 + lag : 40000 + lag], seg)[0, 1])


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """4 s of 44.1 kHz stereo (right = half the left): a tone, then a two-note chord."""
    y = np.concatenate([tone((440.0,), 2.0, sr=44100), tone((660.0, 880.0), 2.0, sr=44100)])
    stereo = np.stack([y, 0.5 * y], axis=1)
    return write_wav(tmp_path_factory.mktemp("src") / "source.wav", stereo, sr=44100), y


@needs_ffmpeg
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_common_format_decodes_to_16k_mono(fmt, source, tmp_path):
    import librosa

    src, y = source
    out = tmp_path / f"track.{fmt}"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), *FORMATS[fmt], str(out)], check=True)
    got = load_audio(out)
    assert got.dtype == np.float32 and got.ndim == 1
    assert abs(len(got) / 16000 - 4.0) < 0.06  # encoders pad a few ms at most
    truth = librosa.resample(0.75 * y, orig_sr=44100, target_sr=16000)  # mono = mean of L and 0.5 L
    assert aligned_corr(got, truth) > 0.995  # lossy codecs included
    ref = librosa_load(out)
    if fmt in LIBSNDFILE:
        assert len(got) == len(ref) and np.abs(got - ref).max() < 1e-6
    else:  # ffmpeg: m4a (librosa via audioread's int16) and opus (ffmpeg's own Opus decoder)
        n = min(len(got), len(ref))
        assert abs(len(got) - len(ref)) <= 2
        assert np.corrcoef(got[:n], ref[:n])[0, 1] > 0.99999
        assert np.abs(got[:n] - ref[:n]).max() < 2e-3


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_wav_bit_depths_equal_librosa(subtype, tmp_path):
    y = tone((330.0, 495.0), 3.0, sr=44100)
    stereo = np.stack([y, np.roll(y, 100)], axis=1)
    path = tmp_path / f"{subtype}.wav"
    sf.write(str(path), stereo, 44100, subtype=subtype)
    got, ref = load_audio(path), librosa_load(path)
    assert len(got) == len(ref) == int(np.ceil(3.0 * 16000))
    assert np.abs(got - ref).max() < 1e-6


@pytest.mark.parametrize("channels", [1, 2, 3, 6])
@pytest.mark.parametrize("rate", [8000, 16000, 22050, 48000, 96000])
def test_channels_and_rates_equal_librosa(channels, rate, tmp_path):
    rng = np.random.default_rng(channels * rate)
    y = (0.2 * rng.standard_normal((int(2.3 * rate), channels))).astype(np.float32)
    path = tmp_path / f"{channels}ch_{rate}.flac"
    sf.write(str(path), y, rate, subtype="PCM_24")
    got, ref = load_audio(path), librosa_load(path)
    assert len(got) == len(ref)
    assert np.abs(got - ref).max() < 1e-6


def test_block_boundaries_do_not_change_the_output(monkeypatch, source):
    src, _ = source
    whole = load_audio(src)
    monkeypatch.setattr(decode, "BLOCK_FRAMES", 1001)  # many odd-sized blocks
    assert np.array_equal(load_audio(src), whole)


def test_nan_in_float_wav_gives_finite_audio(tmp_path):
    y = tone((440.0,), 2.0, sr=16000)
    y[1000:1010] = np.nan
    y[5000] = np.inf
    path = tmp_path / "nan.wav"
    sf.write(str(path), y, 16000, subtype="FLOAT")
    got = load_audio(path)
    assert len(got) == len(y) and np.isfinite(got).all()


def _rms(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(y, dtype=np.float64))))


def _inverted(tmp_path: Path, y: np.ndarray, right: float = -1.0) -> Path:
    return write_wav(tmp_path / f"stereo{right}.wav", np.stack([y, right * y], axis=1), sr=44100)


def test_stereo_whose_channels_cancel_is_decoded_as_left_minus_right(source, tmp_path, caplog):
    """One channel polarity-inverted: the average is silence (what librosa.load gives); load_audio
    notices, warns and decodes (L - R) / 2 instead, which is the left channel here."""
    _, y = source
    path = _inverted(tmp_path, y)
    assert _rms(librosa_load(path)) < 1e-4  # 16-bit rounding leaves -90 dB
    with caplog.at_level(logging.WARNING, logger="audiomuse.analysis.decode"):
        got = load_audio(path)
    assert "polarity-inverted" in caplog.text and path.name in caplog.text
    assert np.abs(got - load_audio(write_wav(tmp_path / "left.wav", y, sr=44100))).max() < 1e-4


@needs_ffmpeg
def test_ffmpeg_route_notices_cancelling_channels_too(source, tmp_path):
    _, y = source
    m4a = tmp_path / "inverted.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(_inverted(tmp_path, y)), *FORMATS["m4a"], str(m4a)],
                   check=True)
    got, left = load_audio(m4a), load_audio(write_wav(tmp_path / "left.wav", y, sr=44100))
    assert aligned_corr(got, left) > 0.999
    assert _rms(got) > 0.5 * _rms(left)


@pytest.mark.parametrize("right", [-0.5, "noise"])
def test_partly_cancelling_and_wide_stereo_are_averaged_as_librosa_does(right, source, tmp_path, caplog):
    """Only a mix that keeps under 1% of the energy counts as cancelled: R = -L/2 keeps 6%,
    uncorrelated channels keep 50%."""
    _, y = source
    if right == "noise":
        path = write_wav(tmp_path / "wide.wav", np.stack([y, noise(len(y) / 44100, sr=44100, amp=0.3)], 1), 44100)
    else:
        path = _inverted(tmp_path, y, right)
    with caplog.at_level(logging.WARNING, logger="audiomuse.analysis.decode"):
        got = load_audio(path)
    assert "polarity" not in caplog.text
    assert np.abs(got - librosa_load(path)).max() < 1e-6


@needs_ffmpeg
def test_ffmpeg_route_equals_the_libsndfile_route(source):
    """The ffmpeg reader (WAV header, blocks, soxr inside ffmpeg) on a file both can read."""
    src, _ = source
    via_ffmpeg = decode._load_ffmpeg(src, 16000, shutil.which("ffmpeg"), decode._Downmix())
    ref = librosa_load(src)
    assert abs(len(via_ffmpeg) - len(ref)) <= 1
    n = min(len(ref), len(via_ffmpeg))
    assert np.abs(via_ffmpeg[:n] - ref[:n]).max() < 1e-5


@needs_ffmpeg
def test_ffmpeg_without_libsoxr_resamples_here(monkeypatch, source, tmp_path):
    src, _ = source
    m4a = tmp_path / "t.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), *FORMATS["m4a"], str(m4a)], check=True)
    in_ffmpeg = load_audio(m4a)
    monkeypatch.setattr(decode, "_ffmpeg_has_soxr", lambda ffmpeg: False)
    here = load_audio(m4a)
    assert abs(len(here) - len(in_ffmpeg)) <= 1
    n = min(len(here), len(in_ffmpeg))
    assert np.abs(here[:n] - in_ffmpeg[:n]).max() < 1e-5


@needs_ffmpeg
def test_ffmpeg_names_with_colon_and_dash(source, tmp_path):
    src, _ = source
    odd = tmp_path / "-live: at the 'hall'.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), *FORMATS["m4a"], "file:" + str(odd)], check=True)
    assert abs(len(load_audio(odd)) / 16000 - 4.0) < 0.06


# --- bad files ------------------------------------------------------------------------------------


def test_empty_file(tmp_path):
    bad = tmp_path / "empty.flac"
    bad.write_bytes(b"")
    with pytest.raises(DecodeError, match=r"^empty\.flac: empty file$"):
        load_audio(bad)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DecodeError, match=r"^gone\.ogg: file not found$"):
        load_audio(tmp_path / "gone.ogg")
    (tmp_path / "album.mp3").mkdir()
    with pytest.raises(DecodeError, match="album.mp3: is a directory"):
        load_audio(tmp_path / "album.mp3")


def test_text_file_named_mp3(tmp_path):
    bad = tmp_path / "notes.mp3"
    bad.write_text("these are my notes, not music\n" * 50)
    with pytest.raises(DecodeError, match=r"^notes\.mp3: not an audio file"):
        load_audio(bad)


@needs_ffmpeg
def test_random_bytes_named_flac(tmp_path):
    bad = tmp_path / "noise.flac"
    bad.write_bytes(np.random.default_rng(1).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    with pytest.raises(DecodeError, match=r"^noise\.flac: "):
        load_audio(bad)


@needs_ffmpeg
def test_video_without_audio(tmp_path):
    clip = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=duration=1:size=64x64:rate=5",
                    str(clip)], check=True)
    with pytest.raises(DecodeError, match=r"^clip\.mp4: no audio stream$"):
        load_audio(clip)


def _encode_and_cut(src: Path, tmp_path: Path, fmt: str, keep: float = 0.5) -> tuple[Path, Path]:
    full = tmp_path / f"full.{fmt}"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), *FORMATS[fmt], str(full)], check=True)
    cut = tmp_path / f"cut.{fmt}"
    data = full.read_bytes()
    cut.write_bytes(data[: int(len(data) * keep) if keep < 1 else int(keep)])
    return full, cut


@pytest.fixture(scope="module")
def noisy_source(tmp_path_factory):
    """6 s of noise plus a tone: a codec spends about the same bytes on every second of it."""
    y = noise(6.0, sr=44100, amp=0.1) + tone((440.0,), 6.0, sr=44100)
    return write_wav(tmp_path_factory.mktemp("noisy") / "noisy.wav", np.stack([y, y[::-1]], axis=1), sr=44100)


@needs_ffmpeg
@pytest.mark.parametrize("fmt", ["ogg", "flac", "mp3", "opus"])
def test_truncated_file_gives_the_audio_that_is_there(fmt, noisy_source, tmp_path):
    full, cut = _encode_and_cut(noisy_source, tmp_path, fmt)
    whole, part = load_audio(full), load_audio(cut)
    assert 0.25 < len(part) / len(whole) < 0.65  # about half (less the headers, to the last whole page)
    assert np.isfinite(part).all()
    n = len(part) - 1600  # the start is the start of the whole decode
    assert np.corrcoef(part[:n], whole[:n])[0, 1] > 0.999


@needs_ffmpeg
def test_ogg_cut_inside_its_headers_fails_clearly(noisy_source, tmp_path):
    _, cut = _encode_and_cut(noisy_source, tmp_path, "ogg", keep=3000)  # inside the codebook header
    with pytest.raises(DecodeError, match=r"^cut\.ogg: "):
        load_audio(cut)


@needs_ffmpeg
def test_truncated_m4a_without_index_fails_clearly(source, tmp_path):
    src, _ = source  # ffmpeg writes the moov atom (the index) at the end: half a file has none
    with pytest.raises(DecodeError, match=r"^cut\.m4a: truncated or corrupt"):
        load_audio(_encode_and_cut(src, tmp_path, "m4a")[1])


@needs_ffmpeg
def test_without_ffmpeg_or_pyav(monkeypatch, source, tmp_path):
    src, _ = source
    m4a = tmp_path / "song.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), *FORMATS["m4a"], str(m4a)], check=True)
    _, cut_flac = _encode_and_cut(src, tmp_path, "flac")
    opus = tmp_path / "song.opus"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), *FORMATS["opus"], str(opus)], check=True)
    monkeypatch.setattr(decode.shutil, "which", lambda name: None)
    monkeypatch.setattr(decode, "_in_process_available", lambda name: name != "pyav")
    with pytest.raises(DecodeError, match=r"^song\.m4a: .*install ffmpeg"):
        load_audio(m4a)
    assert 1.2 < len(load_audio(cut_flac)) / 16000 < 3.0  # the part before the cut (dr_flac's)
    ref = librosa_load(opus)
    got = load_audio(opus)  # libsndfile decodes Opus too: exactly librosa's output
    assert len(got) == len(ref) and np.abs(got - ref).max() < 1e-6


needs_in_process = pytest.mark.skipif(not (inproc.dr_flac_available() and inproc.pyav_available()),
                                      reason="miniaudio or PyAV not installed (pyproject pins both: make venv)")


@needs_ffmpeg
@needs_in_process
@pytest.mark.parametrize("fmt", ["flac", "opus", "m4a"])
def test_in_process_decoders_give_what_the_other_routes_give(fmt, noisy_source, tmp_path, monkeypatch):
    """dr_flac (FLAC) and PyAV (Opus, m4a) are taken first and change nothing that matters: FLAC
    bit for bit libsndfile's output, Opus and m4a within float rounding of the ffmpeg child's."""
    full, _ = _encode_and_cut(noisy_source, tmp_path, fmt)
    used = []
    monkeypatch.setattr(decode, "_load_in_process",
                        lambda *a, real=decode._load_in_process: used.append(real(*a)) or used[-1])
    got = load_audio(full)
    assert used and used[0][0] is not None, "the in-process decoder was not used"
    monkeypatch.setattr(decode, "_load_in_process", lambda *a: (None, ""))
    other = load_audio(full)
    if fmt == "flac":
        assert np.array_equal(got, other)
    else:  # ffmpeg resamples each channel, then we average; in process we average first (and
        n = min(len(got), len(other))  # trim to librosa's length from the native count)
        assert abs(len(got) - len(other)) <= 1
        assert 0 < np.abs(got[:n] - other[:n]).max() < 1e-6


@needs_ffmpeg
@needs_in_process
def test_truncated_flac_through_dr_flac_is_warned_about(noisy_source, tmp_path, caplog):
    _, cut = _encode_and_cut(noisy_source, tmp_path, "flac")
    with caplog.at_level(logging.WARNING, logger="audiomuse.analysis.decode"):
        part = load_audio(cut)
    assert 1.5 < len(part) / 16000 < 4.0
    assert "cut.flac: truncated or corrupt" in caplog.text


@needs_in_process
def test_file_the_in_process_decoders_cannot_read_still_falls_back(tmp_path):
    """An Ogg Vorbis file named .flac: dr_flac refuses it, libsndfile reads it."""
    y = tone((440.0,), 2.0, sr=44100)
    ogg = tmp_path / "x.ogg"
    sf.write(str(ogg), y, 44100, format="OGG", subtype="VORBIS")
    named_flac = tmp_path / "really-vorbis.flac"
    named_flac.write_bytes(ogg.read_bytes())
    assert np.array_equal(load_audio(named_flac), load_audio(ogg))


@needs_ffmpeg
@needs_in_process
def test_an_m4a_pyav_cannot_read_names_pyavs_reason_not_a_missing_ffmpeg(noisy_source, tmp_path, monkeypatch):
    """Without the ffmpeg program, a broken m4a fails with PyAV's reason (PyAV is ffmpeg's
    libraries: installing the program would not help), naming the file."""
    m4a = tmp_path / "song.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(noisy_source), *FORMATS["m4a"], str(m4a)], check=True)
    m4a.write_bytes(m4a.read_bytes()[:600])  # the header only: no moov atom / no frames
    monkeypatch.setattr(decode.shutil, "which", lambda name: None)
    with pytest.raises(DecodeError, match=r"^song\.m4a: PyAV") as err:
        load_audio(m4a)
    assert "install ffmpeg" not in str(err.value) and "libsndfile cannot decode it either" in str(err.value)


@needs_ffmpeg
@needs_in_process
@pytest.mark.parametrize("fmt, reader", [("flac", "dr_flac_blocks"), ("opus", "pyav_blocks")])
def test_in_process_decoders_fail_part_way_into_the_next_route_and_are_closed(fmt, reader, noisy_source, tmp_path,
                                                                               monkeypatch):
    """A decoder that breaks after its first block: the next route decodes the file from a fresh
    sink (the same output as without the in-process route), and the broken reader is closed."""
    full, _ = _encode_and_cut(noisy_source, tmp_path, fmt)
    monkeypatch.setattr(decode, "_load_in_process", lambda *a: (None, ""))
    expected = load_audio(full)
    monkeypatch.undo()
    opened = []

    def breaking(path, block_frames, real=getattr(inproc, reader)):
        native, blocks = real(path, block_frames)
        opened.append(blocks)

        def first_then_fail():
            yield next(iter(blocks))
            raise inproc.InProcessError("broken on purpose")
        return native, inproc.Blocks(first_then_fail(), blocks.close)

    name = decode.IN_PROCESS_FIRST["." + fmt]
    monkeypatch.setitem(decode._IN_PROCESS, name, (decode._IN_PROCESS[name][0], breaking))
    got = load_audio(full)
    assert opened and all(b._release is None for b in opened)  # closed
    assert len(got) == len(expected) and np.array_equal(got, expected)


# --- real music -------------------------------------------------------------------------------------


def _real_tracks(sample_library, n=10):
    tracks = json.loads((sample_library / "manifest.json").read_text())["tracks"]
    paths = [sample_library / t["path"] for t in tracks]
    paths = [p for p in paths if p.exists()]
    if len(paths) < n:
        pytest.skip(f"sample library at {sample_library} has {len(paths)} of its manifest's files (being rebuilt?)")
    step = len(paths) // n
    return paths[::step][:n]


@pytest.mark.slow
def test_real_track_with_an_inverted_channel_is_not_analysed_as_silence(sample_library):
    """Pingus' "Rough Journey" has one channel polarity-inverted: its channel average is exact
    silence, which is what the spec's loader would hand the model."""
    tracks = json.loads((sample_library / "manifest.json").read_text())["tracks"]
    found = [sample_library / t["path"] for t in tracks if t["title"] == "Rough Journey"]
    if not found:
        pytest.skip("the sample library has no Pingus 'Rough Journey'")
    assert _rms(librosa_load(found[0])) < 1e-4  # below -80 dBFS
    assert _rms(load_audio(found[0])) > 0.03  # its channels are at -23 dBFS


@pytest.mark.slow
def test_real_music_identical_to_librosa_load(sample_library):
    paths = _real_tracks(sample_library, 10)
    rates = {sf.info(str(p)).samplerate for p in paths}
    assert 44100 in rates, rates
    for path in paths:
        ref = librosa_load(path)
        got = load_audio(path)
        assert len(got) == len(ref), path.name
        assert np.abs(got - ref).max() < 1e-6, path.name


@pytest.mark.slow
@needs_ffmpeg
def test_real_music_via_ffmpeg_keeps_the_embedding(sample_library, tmp_path):
    """m4a and opus take PyAV (or the ffmpeg child without it; not bit-exact with librosa): embeddings must not move."""
    from audiomuse.analysis.musicnn import MusicnnModel

    model = MusicnnModel()
    cosines = []
    for i, path in enumerate(_real_tracks(sample_library, 4)):
        for fmt in ("m4a", "opus"):
            out = tmp_path / f"{i}.{fmt}"
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(path), *FORMATS[fmt], str(out)], check=True)
            ref, got = librosa_load(out), load_audio(out)
            n = min(len(ref), len(got))
            assert np.corrcoef(ref[:n], got[:n])[0, 1] > 0.9999, out.name  # librosa's route clips overs
            a, b = model.analyse(ref)[0], model.analyse(got)[0]
            cosines.append(float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)))
    assert np.mean(cosines) > 0.99995 and min(cosines) > 0.9999, cosines


MEMORY_SCRIPT = """
import sys
from audiomuse.analysis.decode import load_audio
def hwm():  # peak RSS of this process image (ru_maxrss would include the parent's, from fork)
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
before = hwm()
y = load_audio(sys.argv[1])
print(len(y), (hwm() - before) / 1024)
"""


@pytest.mark.slow
@needs_ffmpeg
def test_long_file_decodes_in_bounded_memory(tmp_path):
    """An hour of 44.1 kHz stereo: the source as float would be 1.3 GB, the output is 230 MB."""
    path = tmp_path / "hour.flac"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "sine=frequency=220:sample_rate=44100:duration=3600",
                    "-ac", "2", "-c:a", "flac", "-compression_level", "0", str(path)], check=True)
    root = Path(__file__).resolve().parents[3]
    proc = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(path)], capture_output=True, text=True,
                          cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, check=True)
    n, grew_mb = proc.stdout.split()
    assert int(n) == 3600 * 16000
    output_mb = 3600 * 16000 * 4 / 2**20
    assert float(grew_mb) < output_mb + 60, f"peak RSS grew {grew_mb} MB for a {output_mb:.0f} MB output"
