"""Decoding and signal-feature cost on real music: librosa.load(sr=16000) vs audiomuse's load_audio.

Prints, for N files of the sample library (and optionally transcodes of some of them to mp3, m4a,
opus), the CPU milliseconds per audio second of both loaders (ffmpeg child processes included),
the speed-up, and how far apart the outputs are (length, max abs difference, correlation); then
the CPU seconds per audio minute of ``signal_features`` (given the MusiCNN mel, as in the pipeline)
and, with ``--long-minutes``, the peak memory of decoding one long generated file.

Usage: python benchmarks/decode.py [--tracks 20] [--formats mp3,m4a,opus] [--repeat 2] [--long-minutes 60]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CACHE = Path(os.environ.get("AUDIOMUSE_CACHE", "~/.cache/audiomuse")).expanduser()
ENCODERS = {
    "mp3": ["-c:a", "libmp3lame", "-b:a", "192k"],
    "m4a": ["-c:a", "aac", "-b:a", "192k"],
    "opus": ["-c:a", "libopus", "-b:a", "128k"],
}


def cpu() -> float:
    """CPU seconds of this process and its waited-for children (ffmpeg)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def pick_tracks(n: int) -> list[Path]:
    lib = CACHE / "sample-library"
    manifest = lib / "manifest.json"
    if not manifest.exists():
        sys.exit(f"no sample library at {lib}: run `make samples`")
    paths = [lib / t["path"] for t in json.loads(manifest.read_text())["tracks"]]
    paths = [p for p in paths if p.exists()]
    step = max(1, len(paths) // n)
    return paths[::step][:n]


def librosa_load(path: Path) -> np.ndarray:
    import librosa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return librosa.load(str(path), sr=16000, mono=True)[0]


def compare(files: list[Path], repeat: int) -> dict:
    from audiomuse.analysis.decode import load_audio

    load_audio(files[0]), librosa_load(files[0])  # imports, first-call costs
    cost = {"librosa": 0.0, "ours": 0.0}
    for name, fn in (("librosa", librosa_load), ("ours", load_audio)):
        best = float("inf")
        for _ in range(repeat):  # the least of a few runs: other load on the machine only adds
            t = cpu()
            for f in files:
                fn(f)
            best = min(best, cpu() - t)
        cost[name] = best
    audio, max_diff, min_corr, same_len = 0.0, 0.0, 1.0, 0
    for f in files:
        ref, got = librosa_load(f), load_audio(f)
        audio += len(ref) / 16000
        n = min(len(ref), len(got))
        same_len += len(ref) == len(got)
        max_diff = max(max_diff, float(np.abs(ref[:n] - got[:n]).max()))
        min_corr = min(min_corr, float(np.corrcoef(ref[:n], got[:n])[0, 1]))
    return {"audio_s": audio, **cost, "max_diff": max_diff, "min_corr": min_corr, "same_len": same_len, "n": len(files)}


def report(label: str, r: dict) -> None:
    lib, ours = 1000 * r["librosa"] / r["audio_s"], 1000 * r["ours"] / r["audio_s"]
    print(f"{label:<22} {r['n']:>3} files {r['audio_s'] / 60:6.1f} min | librosa {lib:5.2f} ms/audio-s | ours "
          f"{ours:5.2f} ms/audio-s | {lib / ours:4.2f}x | same length {r['same_len']}/{r['n']} | "
          f"max |diff| {r['max_diff']:.2e} | min corr {r['min_corr']:.9f}")


def features_cost(files: list[Path]) -> None:
    from audiomuse.analysis.decode import load_audio
    from audiomuse.analysis.features import signal_features
    from audiomuse.analysis.musicnn import log_mel

    y0 = load_audio(files[0])
    signal_features(y0[: 16000 * 20], log_mel=log_mel(y0[: 16000 * 20]))  # numba JIT, imports
    feat = mel = audio = 0.0
    for f in files:
        y = load_audio(f)
        t = cpu()
        m = log_mel(y)
        t1 = cpu()
        signal_features(y, log_mel=m)
        t2 = cpu()
        mel += t1 - t
        feat += t2 - t1
        audio += len(y) / 16000
    minutes = audio / 60
    print(f"\nsignal_features: {feat / minutes:.3f} CPU-s per audio minute given the mel "
          f"({audio / feat:.0f} audio-s per CPU-s); the MusiCNN mel it shares: {mel / minutes:.3f} CPU-s per minute")


LONG_SCRIPT = """
import sys, time
from audiomuse.analysis.decode import load_audio
def hwm():  # peak RSS of this process image (ru_maxrss would include the parent's, from fork)
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
before = hwm()
t = time.process_time()
y = load_audio(sys.argv[1])
cpu = time.process_time() - t
print(len(y) / 16000, (hwm() - before) / 1024, cpu)
"""


def long_file(minutes: int, tmp: Path) -> None:
    path = tmp / "long.flac"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"sine=frequency=220:sample_rate=44100:duration={minutes * 60}", "-ac", "2", "-c:a", "flac",
                    "-compression_level", "0", str(path)], check=True)
    out = subprocess.run([sys.executable, "-c", LONG_SCRIPT, str(path)], capture_output=True, text=True, check=True,
                         cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT))).stdout.split()
    seconds, grew, cpu_s = map(float, out)
    print(f"\n{minutes} min 44.1 kHz stereo FLAC: decoded {seconds / 60:.0f} min in {cpu_s:.1f} CPU-s, peak RSS grew "
          f"{grew:.0f} MB (16 kHz output {seconds * 16000 * 4 / 2**20:.0f} MB; the source as float32 would be "
          f"{seconds * 44100 * 2 * 4 / 2**20:.0f} MB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=20)
    ap.add_argument("--formats", default="mp3,m4a,opus", help="transcode some tracks to these ('' for none)")
    ap.add_argument("--transcodes", type=int, default=5, help="tracks per transcoded format")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--long-minutes", type=int, default=0)
    args = ap.parse_args()
    files = pick_tracks(args.tracks)
    import soundfile as sf

    print(f"CPU ms per audio second (least of {args.repeat} runs; ffmpeg children included)\n")
    by_kind: dict[str, list[Path]] = {}
    for f in files:
        info = sf.info(str(f))
        by_kind.setdefault(f"{f.suffix[1:]} {info.samplerate / 1000:g} kHz", []).append(f)
    for kind, group in sorted(by_kind.items()):
        report(kind, compare(group, args.repeat))
    report("all sample files", compare(files, args.repeat))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        formats = [f for f in args.formats.split(",") if f]
        for fmt in formats:
            out = []
            for f in files[:: max(1, len(files) // args.transcodes)][: args.transcodes]:
                target = tmp / f"{len(out)}.{fmt}"
                subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(f), *ENCODERS[fmt], str(target)], check=True)
                out.append(target)
            report(f"{fmt} (transcoded)", compare(out, args.repeat))
        features_cost(files)
        if args.long_minutes:
            long_file(args.long_minutes, tmp)


if __name__ == "__main__":
    main()
