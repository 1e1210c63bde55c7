"""Analysis peak memory against track length: the streaming analyser vs the whole-file path.

Builds a long file by concatenating the real sample-library tracks (decoded by ffmpeg, encoded to
Opus at 96 kb/s, in a temporary directory; the shorter files are cut from its start), then
analyses each in a fresh subprocess (two at a time) and prints its peak RSS (VmHWM), CPU and
audio seconds. ``--compare-hours`` files also go through the
whole-file path the analyser had before streaming (decode all, log-mel all, then model and
features) for its peak, the embedding cosine and the features of both. ``make_long_file`` is
shared with the memory test (tests/audiomuse/analysis/test_stream.py).

Usage: python benchmarks/analysis_memory.py [--hours 10] [--compare-hours 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = Path(os.environ.get("AUDIOMUSE_CACHE", "~/.cache/audiomuse")).expanduser() / "sample-library"
RATE, CHANNELS = 48000, 2  # the PCM handed from the decoders to the Opus encoder


def make_long_file(out: Path, seconds: float, library: Path = LIBRARY) -> Path:
    """``out`` (.opus or .flac): the library's tracks one after another, looped, cut to ``seconds``."""
    tracks = [library / t["path"] for t in json.loads((library / "manifest.json").read_text())["tracks"]]
    codec = ["-c:a", "libopus", "-b:a", "96k"] if out.suffix == ".opus" else ["-c:a", "flac"]
    encoder = subprocess.Popen(
        ["ffmpeg", "-v", "error", "-y", "-f", "s16le", "-ar", str(RATE), "-ac", str(CHANNELS), "-i", "-",
         "-t", str(seconds), *codec, str(out)], stdin=subprocess.PIPE)
    need, i = seconds * RATE * CHANNELS * 2, 0
    try:
        while need > 0:
            pcm = subprocess.run(["ffmpeg", "-v", "error", "-i", str(tracks[i % len(tracks)]), "-f", "s16le",
                                  "-ar", str(RATE), "-ac", str(CHANNELS), "-"], capture_output=True, check=True).stdout
            encoder.stdin.write(pcm)
            need -= len(pcm)
            i += 1
    except BrokenPipeError:  # the encoder stopped at -t
        pass
    finally:
        encoder.stdin.close()
    if encoder.wait() != 0:
        raise RuntimeError(f"ffmpeg could not write {out}")
    return out


# Run in a fresh interpreter per measurement: VmHWM is this process's own peak, imports included.
MEASURE = r"""
import json, sys, time
import numpy as np
def hwm_mb():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
from audiomuse.analysis.track import TrackAnalyser, blas_threads, score_columns
path, mode, window = sys.argv[1], sys.argv[2], float(sys.argv[3])
analyser = TrackAnalyser(feature_window_s=window)
cpu = time.process_time()
if mode == "stream":
    r = analyser.analyse(path)
    emb, signal, seconds = r.embedding, dict(tempo=r.tempo, key=r.key, scale=r.scale, energy=r.energy), r.audio_seconds
else:  # the whole-file path of the analyser before streaming
    from audiomuse.analysis import features
    from audiomuse.analysis.decode import load_audio
    from audiomuse.analysis.musicnn import log_mel
    with blas_threads(1):
        y = load_audio(path)
        mel = log_mel(y)
        emb, tags, n = analyser.model.analyse_mel(mel)
        full = features.signal_features(y, log_mel=mel)
    signal, seconds = {k: full[k] for k in ("tempo", "key", "scale", "energy")}, len(y) / 16000
print(json.dumps(dict(peak_mb=hwm_mb(), cpu_s=time.process_time() - cpu, audio_s=seconds,
                      embedding=[float(v) for v in emb], features=signal)))
"""


def measure(path: Path, mode: str = "stream", window_s: float | None = None) -> dict:
    """Peak RSS (MB), CPU, audio seconds, embedding and main features of one analysis in a subprocess."""
    from audiomuse.analysis.features import FEATURE_WINDOW_S

    window = FEATURE_WINDOW_S if window_s is None else window_s
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(path), mode, str(window)], capture_output=True,
                          text=True, check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cosine(a, b) -> float:
    import numpy as np

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _row(name: str, m: dict) -> str:
    f = m["features"]
    return (f"{name:<28} {m['audio_s'] / 3600:5.2f} h  peak {m['peak_mb']:7.0f} MB  CPU {m['cpu_s']:7.1f} s  "
            f"({m['audio_s'] / m['cpu_s']:.0f} audio-s/CPU-s)  tempo {f['tempo']:.2f} key {f['key']} {f['scale']} "
            f"energy {f['energy']:.4f}")


def _files(where: Path, hours: float, compare_hours: float, short_minutes: float) -> dict[str, Path]:
    """The long file, and the shorter ones cut from its start (ffmpeg stream copy: seconds, no encode)."""
    long = where / f"long-{hours:g}h.opus"
    if not long.exists():
        make_long_file(long, hours * 3600)
    files = {"long": long}
    for label, seconds in (("short", short_minutes * 60), ("compare", compare_hours * 3600)):
        files[label] = where / f"{label}-{seconds / 3600:g}h.opus"
        if not files[label].exists():
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(long), "-t", str(seconds), "-c", "copy",
                            str(files[label])], check=True)
    return files


def main() -> None:
    from concurrent.futures import ThreadPoolExecutor

    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=10.0)
    ap.add_argument("--compare-hours", type=float, default=2.0)
    ap.add_argument("--short-minutes", type=float, default=5.0)
    ap.add_argument("--keep", type=Path, help="build the files here (and keep them) instead of a temp dir")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        files = _files(where, args.hours, args.compare_hours, args.short_minutes)
        runs = {"streaming, short": (files["short"], "stream"), "streaming, long": (files["long"], "stream"),
                "streaming": (files["compare"], "stream"), "whole-file path (before)": (files["compare"], "whole")}
        with ThreadPoolExecutor(2) as pool:  # one process per measurement, two at a time
            got = dict(zip(runs, pool.map(lambda run: measure(*run), runs.values())))
    for name, m in got.items():
        print(_row(name, m))
    cosine = _cosine(got["streaming"]["embedding"], got["whole-file path (before)"]["embedding"])
    print(f"embedding cosine streaming vs whole-file ({args.compare_hours:g} h): {cosine:.8f}")
    short, long = got["streaming, short"], got["streaming, long"]
    print(f"streaming peak growth from {short['audio_s'] / 60:.0f} min to {long['audio_s'] / 3600:.1f} h: "
          f"{long['peak_mb'] - short['peak_mb']:+.0f} MB")


if __name__ == "__main__":
    main()
