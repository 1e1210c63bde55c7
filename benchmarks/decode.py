"""Decoding and signal-feature cost on real music: our loader by format against its peers, and
librosa.load(sr=16000) vs audiomuse's load_audio.

First, one table by format (Vorbis and FLAC from the sample library; Opus, MP3, AAC/m4a and WAV at
44.1/48 kHz transcoded once from N of its tracks into ~/.cache/audiomuse/decode-formats): CPU ms
per audio second of our loader as the analyser calls it (streaming), of the ffmpeg CLI resampling
to 16 kHz mono itself (soxr, HQ precision), of Essentia's MonoLoader(sampleRate=16000) at its default resampleQuality 1 and at 4 (in the
benchmark's Essentia venv, `make essentia-venv`; it cannot decode Opus) and of the in-process
candidates of ``benchmarks/_decoders.py``; then each one's agreement with our loader's output (max
abs difference, least correlation, and where not bit-identical the fp32 MusiCNN mean-embedding
cosine). Then, for N files of the sample library (and optionally transcodes of some of them to mp3, m4a,
opus), the CPU milliseconds per audio second of both loaders (ffmpeg child processes included),
the speed-up, and how far apart the outputs are (length, max abs difference, correlation); then
the CPU seconds per audio minute of ``signal_features`` (given the MusiCNN mel, as in the pipeline)
and, with ``--long-minutes``, the peak memory of decoding one long generated file.

Usage: python benchmarks/decode.py [--format-tracks 8] [--no-librosa] [--tracks 20] [--formats mp3,m4a,opus] [--repeat 2] [--long-minutes 60]
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
from benchmarks._samples import pick_tracks  # noqa: E402
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


def librosa_load(path: Path) -> np.ndarray:
    import librosa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return librosa.load(str(path), sr=16000, mono=True)[0]


def compare(files: list[Path], repeat: int) -> dict:
    from audiomuse.analysis.decode import load_audio

    cost = {name: least_cpu(fn, files, repeat) for name, fn in (("librosa", librosa_load), ("ours", load_audio))}
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


# --- by format ---------------------------------------------------------------------------------

FORMATS = {  # label -> (file suffix, ffmpeg encoder arguments), None for the library's own files
    "Vorbis (ogg)": (".ogg", None),
    "Opus 128k": (".opus", ["-c:a", "libopus", "-b:a", "128k"]),
    "MP3 192k": (".mp3", ["-c:a", "libmp3lame", "-b:a", "192k"]),
    "FLAC": (".flac", None),
    "AAC (m4a) 192k": (".m4a", ["-c:a", "aac", "-b:a", "192k"]),
    "WAV 44.1 kHz": (".wav", ["-c:a", "pcm_s16le", "-ar", "44100"]),
    "WAV 48 kHz": (".wav", ["-c:a", "pcm_s16le", "-ar", "48000"]),
}
PEERS = {"ffmpeg CLI", "Essentia", "Essentia q4"}  # measured for comparison, not candidates: no embedding cosine
ESSENTIA_PY = CACHE / "essentia-venv" / "bin" / "python"


def format_files(n: int) -> dict[str, list[Path]]:
    """Each format's files: the library's own, or transcodes of n of its tracks (made once)."""
    sources = pick_tracks(n)
    out: dict[str, list[Path]] = {}
    for label, (suffix, encoder) in FORMATS.items():
        if encoder is None:
            everything = [p for p in pick_tracks(1000) if p.suffix == suffix]
            out[label] = everything[:: max(1, len(everything) // n)][:n]
            continue
        folder = CACHE / "decode-formats" / "-".join(a.strip("-:").replace(".", "") for a in encoder[1::2])
        folder.mkdir(parents=True, exist_ok=True)
        out[label] = []
        for src in sources:
            target = folder / f"{src.stem}{suffix}"
            if not target.exists():
                part = target.with_name("part-" + target.name)
                subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-map", "0:a:0", "-map_metadata", "-1", *encoder,
                                str(part)], check=True)
                part.rename(target)
            out[label].append(target)
    return out


def least_cpu(fn, files: list[Path], repeat: int) -> float:
    """CPU seconds of fn over the files, least of `repeat` passes after a warm-up call."""
    fn(files[0])
    best = float("inf")
    for _ in range(repeat):  # the least of a few runs: other load on the machine only adds
        t = cpu()
        for f in files:
            fn(f)
        best = min(best, cpu() - t)
    return best


def essentia_loader(files: list[Path], repeat: int, tmp: Path, quality: int = 1) -> tuple[float, list[np.ndarray]] | None:
    """(CPU s, outputs) of Essentia's MonoLoader in its venv, None without the venv or on failure."""
    if not ESSENTIA_PY.exists():
        return None
    out_dir = Path(tempfile.mkdtemp(dir=tmp))
    run = subprocess.run([str(ESSENTIA_PY), str(ROOT / "benchmarks" / "_essentia_loader.py"), str(repeat),
                          str(quality), str(out_dir), *map(str, files)], capture_output=True, text=True)
    if run.returncode != 0:
        return None
    cpu_s = json.loads(run.stdout.strip().splitlines()[-1])["cpu_s"]
    return cpu_s, [np.load(out_dir / f"{i}.npy") for i in range(len(files))]


def agreement(ours: list[np.ndarray], theirs: list[np.ndarray], our_emb: list[np.ndarray], embed) -> dict:
    """Max abs difference, least correlation, bit-identical count and (``embed`` given) the mean
    and least MusiCNN mean-embedding cosine of their outputs to ours, 1 for an identical file."""
    diff, corr, same, cos = 0.0, 1.0, 0, []
    for a, b, e in zip(ours, theirs, our_emb):
        n = min(len(a), len(b))
        identical = len(a) == len(b) and np.array_equal(a, b)
        same += identical
        diff = max(diff, float(np.abs(a[:n] - b[:n]).max()))
        corr = min(corr, float(np.corrcoef(a[:n], b[:n])[0, 1]))
        if embed is None:
            continue
        if not identical:
            f = embed(b)
            cos.append(float(np.dot(e, f) / (np.linalg.norm(e) * np.linalg.norm(f))))
        else:
            cos.append(1.0)
    cos_mean, cos_min = (float(np.mean(cos)), min(cos)) if cos else (None, None)
    return {"diff": diff, "corr": corr, "same": same, "cos_mean": cos_mean, "cos_min": cos_min}


def measure_format(files: list[Path], repeat: int, tmp: Path, embed, opus: bool) -> tuple[dict, dict]:
    """({loader: CPU ms per audio-s or None}, {loader: agreement}) for one format's files."""
    from audiomuse.analysis.decode import load_audio
    from benchmarks import _decoders as d

    ours = [load_audio(f) for f in files]
    audio_s = sum(len(y) for y in ours) / 16000
    our_emb = [embed(y) for y in ours]
    cost = {"ours": least_cpu(d.ours_streaming, files, repeat)}
    agree: dict[str, dict] = {}
    loaders = {"ffmpeg CLI": d.ffmpeg_cli, **d.candidates()}
    for name, fn in loaders.items():
        try:
            outputs = [fn(f) for f in files]
        except Exception as exc:  # noqa: BLE001  a decoder that cannot read this format: n/a
            cost[name] = None
            agree[name] = {"error": f"{type(exc).__name__}: {str(exc)[:60]}"}
            continue
        cost[name] = least_cpu(fn, files, repeat)
        agree[name] = agreement(ours, outputs, our_emb, None if name in PEERS else embed)
    for quality, name in ((1, "Essentia"), (4, "Essentia q4")):  # its default; linear (analysis.py's)
        ess = None if opus else essentia_loader(files, repeat, tmp, quality)  # Opus: unsupported, segfaults
        cost[name] = ess and ess[0]
        if ess:
            agree[name] = agreement(ours, ess[1], our_emb, None)
    return {k: v and 1000 * v / audio_s for k, v in cost.items()}, agree


def by_format(n: int, repeat: int, only: tuple[str, ...] = ()) -> None:
    """The by-format table (CPU) and the agreement of every loader with ours."""
    from audiomuse.analysis.musicnn import MODEL_PATH, MusicnnModel

    model = MusicnnModel(MODEL_PATH)
    embed = lambda y: model.analyse(y)[0]  # noqa: E731
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, files in format_files(n).items():
            if only and not label.startswith(only):
                continue
            cost, agree = measure_format(files, repeat, Path(tmp), embed, label.startswith("Opus"))
            rows.append((label, len(files), cost, agree))
            print(f"  measured {label}", file=sys.stderr, flush=True)
    print_format_tables(rows, repeat)


def print_format_tables(rows: list, repeat: int) -> None:
    names = list(rows[0][2])
    fmt = lambda v: f"{v:.2f}" if v is not None else "n/a"  # noqa: E731
    print(f"CPU ms per audio second, by format (least of {repeat} passes; ffmpeg children counted)\n")
    print("| format | files | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for label, n, cost, _ in rows:
        best = min((v for k, v in cost.items() if v is not None), default=None)
        cells = [f"**{fmt(v)}**" if v == best else fmt(v) for v in cost.values()]
        print(f"| {label} | {n} | " + " | ".join(cells) + " |")
    print("\nAgreement with our loader's 16 kHz output (bit-identical files; max |diff|; least correlation; "
          "fp32 MusiCNN mean-embedding cosine mean / min)\n")
    print("| format | loader | identical | max abs diff | min corr | cosine mean / min |")
    print("|---|---|---|---|---|---|")
    for label, n, _, agree in rows:
        for name, a in agree.items():
            if "error" in a:
                print(f"| {label} | {name} | cannot read ({a['error']}) | | | |")
            else:
                cos = f"{a['cos_mean']:.6f} / {a['cos_min']:.6f}" if a["cos_mean"] is not None else "(peer)"
                print(f"| {label} | {name} | {a['same']}/{n} | {a['diff']:.2e} | {a['corr']:.7f} | {cos} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--format-tracks", type=int, default=8, help="files per format in the by-format table (0: none)")
    ap.add_argument("--no-librosa", action="store_true", help="only the by-format table")
    ap.add_argument("--only", default="", help="by-format rows whose label starts with one of these (comma-separated)")
    ap.add_argument("--tracks", type=int, default=20)
    ap.add_argument("--formats", default="mp3,m4a,opus", help="transcode some tracks to these ('' for none)")
    ap.add_argument("--transcodes", type=int, default=5, help="tracks per transcoded format")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--long-minutes", type=int, default=0)
    args = ap.parse_args()
    if args.format_tracks:
        by_format(args.format_tracks, args.repeat, tuple(x for x in args.only.split(",") if x))
    if args.no_librosa:
        return
    files = pick_tracks(args.tracks)
    import soundfile as sf

    print(f"\nlibrosa.load vs ours: CPU ms per audio second (least of {args.repeat} runs; ffmpeg children included)\n")
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
