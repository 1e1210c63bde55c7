"""Tempo and key accuracy on the generated ground-truth set, against Essentia in the same run.

The set (audiomuse_run/tempo_key_set.py: 96 MIDI songs rendered with FluidSynth, 24 keys, 60-200
BPM, 4/4 3/4 6/8 12/8, swing, drums or not; built and cached on first use) is scored with
audiomuse.analysis.accuracy: tempo Acc1 (within 4 %), Acc2 (also 2x, 1/2x, 3x, 1/3x), the MIREX
weighted key score (same 1, fifth above 0.5, relative 0.3, parallel 0.2).

* AudioMuse: ``decode.load_audio`` (16 kHz mono), then as ``features.signal_features`` does: the
  MusiCNN log-mel, ``features.tempo_onset`` of it, ``features.estimate_tempo``; and
  ``features.estimate_key`` on the signal. One BLAS thread.
* Essentia (its own venv, ``make essentia-venv``; a subprocess, benchmarks/_tempo_key_essentia.py):
  MonoLoader at 44.1 kHz, ``RhythmExtractor2013(method="degara")``, ``PercivalBpmEstimator()``,
  ``KeyExtractor(profileType=...)`` with edma, bgate and temperley.

The tracker part of the set (the sample library's chiptune modules, truth read from each module
by audiomuse_run/tracker_tempo.py) is its own group: tempo only (trackers state no key), scored
on the modules with a stated tempo, both estimators on the same files in the same run.

CPU seconds per track are each estimator's own (the tempo one includes our mel and onset
envelope, which the analysis shares with the model); decoding is printed apart.
Usage: python benchmarks/tempo_key.py [--small] [--failures]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CACHE = Path(os.environ.get("AUDIOMUSE_CACHE", "~/.cache/audiomuse")).expanduser()
ESSENTIA_PY = CACHE / "essentia-venv" / "bin" / "python"

from audiomuse.analysis.accuracy import acc1, acc2, mean, mirex_key_score  # noqa: E402

TEMPO_ESTIMATORS = ("audiomuse", "essentia degara", "essentia percival")
KEY_ESTIMATORS = ("audiomuse", "essentia edma", "essentia bgate", "essentia temperley")


def ours(files: list[str]) -> dict:
    """AudioMuse's estimates and CPU seconds, the calls of signal_features."""

    from audiomuse.analysis import features
    from audiomuse.analysis.decode import load_audio
    from audiomuse.analysis.musicnn import log_mel
    from audiomuse.analysis.track import blas_threads

    limits = blas_threads(1)
    frame_rate = features.SAMPLE_RATE / features.MEL_HOP
    warm = load_audio(Path(files[0]))  # first-call costs (filters, FFT plans) out of the timing
    features.estimate_key(warm)
    features.tempo_onset(log_mel(warm))
    cpu = {"decode": 0.0, "tempo": 0.0, "key": 0.0}
    rows = []
    for f in files:
        t0 = time.process_time()
        y = load_audio(Path(f))
        t1 = time.process_time()
        mel = log_mel(y)
        onset = features.tempo_onset(mel)
        bpm, _ = features.estimate_tempo(onset, frame_rate)
        t2 = time.process_time()
        key, scale, _ = features.estimate_key(y)
        t3 = time.process_time()
        cpu["decode"] += t1 - t0
        cpu["tempo"] += t2 - t1
        cpu["key"] += t3 - t2
        rows.append({"tempo": bpm, "key": (key, scale)})
    limits.restore_original_limits()
    return {"rows": rows, "cpu_s": cpu}


def essentia(files: list[str]) -> dict | None:
    if not ESSENTIA_PY.exists():
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as listing:
        listing.write("\n".join(files))
        listing.flush()
        proc = subprocess.run([str(ESSENTIA_PY), str(ROOT / "benchmarks" / "_tempo_key_essentia.py"), listing.name],
                              capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        print("essentia failed:", proc.stderr[-800:])
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def key_kind(score: float) -> str:
    return {1.0: "same", 0.5: "fifth", 0.3: "relative", 0.2: "parallel"}.get(score, "other")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true", help="the 24-track set of the tests")
    ap.add_argument("--failures", action="store_true", help="list every track an estimator gets wrong")
    args = ap.parse_args()
    from audiomuse_run.tempo_key_set import build_tempo_key_set, load_truth

    dest = build_tempo_key_set(small=args.small)
    truth = load_truth(dest)
    files = [str(dest / t["file"]) for t in truth]
    n = len(files)
    print(f"{n} generated tracks (MIDI + FluidSynth FluidR3 GM, {dest.name}), "
          f"{sum(t['duration'] for t in truth) / n:.0f} s each; one thread per estimator\n")

    r = ours(files)
    tempo = {"audiomuse": [row["tempo"] for row in r["rows"]]}
    keys = {"audiomuse": [row["key"] for row in r["rows"]]}
    cpu = {"audiomuse tempo": r["cpu_s"]["tempo"], "audiomuse key": r["cpu_s"]["key"]}
    decode = {"audiomuse (load_audio, 16 kHz)": r["cpu_s"]["decode"]}
    e = essentia(files)
    if e is None:
        print("Essentia: not installed (make essentia-venv), skipped\n")
    else:
        res = e["results"]
        tempo["essentia degara"] = [x["degara"] for x in res]
        tempo["essentia percival"] = [x["percival"] for x in res]
        for p in ("edma", "bgate", "temperley"):
            keys[f"essentia {p}"] = [tuple(x[f"key_{p}"][:2]) for x in res]
            cpu[f"essentia {p} key"] = e["cpu_s"][f"key_{p}"]
        cpu["essentia degara tempo"] = e["cpu_s"]["degara"]
        cpu["essentia percival tempo"] = e["cpu_s"]["percival"]
        decode["essentia (MonoLoader, 44.1 kHz)"] = e["cpu_s"]["decode"]

    true_bpm = [t["bpm"] for t in truth]
    print(f"{'tempo':<20} {'Acc1':>6} {'Acc2':>6} {'CPU s/track':>12}")
    for name in TEMPO_ESTIMATORS:
        if name not in tempo:
            continue
        a1 = mean(acc1(b, t) for b, t in zip(tempo[name], true_bpm, strict=True))
        a2 = mean(acc2(b, t) for b, t in zip(tempo[name], true_bpm, strict=True))
        print(f"{name:<20} {a1:>6.1%} {a2:>6.1%} {cpu[name + ' tempo'] / n:>12.4f}")
    print()
    scores = {}
    print(f"{'key':<20} {'MIREX':>6} {'same':>5} {'fifth':>6} {'rel':>4} {'par':>4} {'other':>6} {'CPU s/track':>12}")
    for name in KEY_ESTIMATORS:
        if name not in keys:
            continue
        scores[name] = [mirex_key_score(k, s, t["tonic"], t["mode"]) for (k, s), t in zip(keys[name], truth, strict=True)]
        kinds = defaultdict(int)
        for s in scores[name]:
            kinds[key_kind(s)] += 1
        print(f"{name:<20} {mean(scores[name]):>6.3f} {kinds['same']:>5} {kinds['fifth']:>6} {kinds['relative']:>4} "
              f"{kinds['parallel']:>4} {kinds['other']:>6} {cpu[name + ' key'] / n:>12.4f}")
    print("\ndecoding, CPU s/track: " + ", ".join(f"{k} {v / n:.4f}" for k, v in decode.items()))

    groups = {
        "meter": lambda t: t["meter"],
        "tempo": lambda t: next(f"{lo}-{hi}" for lo, hi in ((60, 89), (90, 119), (120, 149), (150, 179), (180, 200))
                                if t["bpm"] <= hi),
        "swing": lambda t: "swing" if t["swing"] else "straight",
        "drums": lambda t: "drums" if t["drums"] else "no drums",
        "instruments": lambda t: t["instruments"],
        "mode": lambda t: t["mode"],
    }
    print("\nTempo Acc1 / Acc2 by group")
    names = [x for x in TEMPO_ESTIMATORS if x in tempo]
    print(f"{'':<22}" + "".join(f"{x:>20}" for x in names))
    for gname, fn in groups.items():
        if gname in ("instruments", "mode"):
            continue
        for value in sorted({fn(t) for t in truth}, key=lambda v: (len(v), v)):
            idx = [i for i, t in enumerate(truth) if fn(t) == value]
            cells = "".join(
                f"{mean(acc1(tempo[x][i], true_bpm[i]) for i in idx):>11.0%} /"
                f"{mean(acc2(tempo[x][i], true_bpm[i]) for i in idx):>5.0%} " for x in names)
            print(f"{gname} {value} (n={len(idx)})".ljust(22) + cells)
    print("\nKey MIREX score by group")
    names = [x for x in KEY_ESTIMATORS if x in scores]
    print(f"{'':<24}" + "".join(f"{x:>20}" for x in names))
    for gname in ("mode", "instruments", "drums", "meter"):
        fn = groups[gname]
        for value in sorted({fn(t) for t in truth}):
            idx = [i for i, t in enumerate(truth) if fn(t) == value]
            print(f"{gname} {value} (n={len(idx)})".ljust(24)
                  + "".join(f"{mean(scores[x][i] for i in idx):>20.3f}" for x in names))

    tracker_report(dest)
    print("\nAudioMuse's misses")
    for i, t in enumerate(truth):
        miss = []
        if not acc1(tempo["audiomuse"][i], t["bpm"]):
            ratio = tempo["audiomuse"][i] / t["bpm"]
            miss.append(f"tempo {tempo['audiomuse'][i]:.1f} (x{ratio:.2f}{'' if acc2(tempo['audiomuse'][i], t['bpm']) else ', wrong'})")
        if scores["audiomuse"][i] < 1:
            k, s = keys["audiomuse"][i]
            miss.append(f"key {k} {s} ({key_kind(scores['audiomuse'][i])})")
        if miss:
            print(f"  {t['file']}: " + "; ".join(miss))
    if args.failures and e is not None:
        for name in names[1:] + ["essentia degara", "essentia percival"]:
            print(f"\n{name}'s misses")
            for i, t in enumerate(truth):
                if name in scores and scores[name][i] < 1:
                    print(f"  {t['file']}: key {' '.join(keys[name][i])} ({key_kind(scores[name][i])})")
                if name in tempo and not acc2(tempo[name][i], t["bpm"]):
                    print(f"  {t['file']}: tempo {tempo[name][i]:.1f}")


def tracker_report(dest: Path) -> None:
    """Tempo Acc1/Acc2 of AudioMuse and Essentia on the tracker modules with a stated tempo."""
    from audiomuse_run.tempo_key_set import load_tracker_truth

    every = load_tracker_truth(dest)
    truth = [t for t in every if t["stated"]]
    if not truth:
        print("\nTracker modules: none in this set")
        return
    files = [str(dest / t["file"]) for t in truth]
    agreement = [t["duration_agreement"] for t in every]
    print(f"\nTracker modules (sample library chiptune; truth from the module file): {len(truth)} of "
          f"{len(every)} with a stated tempo, {sum(t['duration'] for t in truth) / len(truth):.0f} s each; "
          f"walked / rendered duration {min(agreement):.4f}-{max(agreement):.4f}")
    tempo = {"audiomuse": [row["tempo"] for row in ours(files)["rows"]]}
    e = essentia(files)
    if e is not None:
        tempo["essentia degara"] = [x["degara"] for x in e["results"]]
        tempo["essentia percival"] = [x["percival"] for x in e["results"]]
    true_bpm = [t["bpm"] for t in truth]
    groups = {"all": lambda t: True, "rows/beat from the file (IT)": lambda t: t["rows_per_beat_source"] == "file",
              "rows/beat assumed 4": lambda t: t["rows_per_beat_source"] == "assumed"}
    print(f"{'tracker tempo':<36}" + "".join(f"{x:>20}" for x in tempo))
    for gname, fn in groups.items():
        idx = [i for i, t in enumerate(truth) if fn(t)]
        if idx:
            print(f"{gname} (n={len(idx)})".ljust(36) + "".join(
                f"{mean(acc1(v[i], true_bpm[i]) for i in idx):>11.1%} /{mean(acc2(v[i], true_bpm[i]) for i in idx):>6.1%}"
                for v in tempo.values()))
    print("tracker modules, truth BPM (rows/beat) and estimates:")
    for i, t in enumerate(truth):
        cells = "  ".join(f"{v[i]:6.1f}{'' if acc2(v[i], true_bpm[i]) else '!'}" for v in tempo.values())
        print(f"  {t['module']:<34} {t['bpm']:7.2f} ({t['rows_per_beat']}{'' if t['rows_per_beat_source'] == 'file' else '?'})  {cells}")


if __name__ == "__main__":
    main()
