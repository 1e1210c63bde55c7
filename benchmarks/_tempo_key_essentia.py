"""Runs inside the Essentia venv (benchmarks/tempo_key.py starts it): Essentia's tempo and key
estimators on the files listed in argv[1] (one path a line). Prints one JSON object: per file the
estimates, and per estimator the CPU seconds (MonoLoader's decode apart). Each algorithm is reset
before each file: PercivalBpmEstimator and KeyExtractor are streaming networks in standard mode,
and without a reset Percival keeps returning the first file's tempo."""

import json
import sys
import time

from essentia.standard import KeyExtractor, MonoLoader, PercivalBpmEstimator, RhythmExtractor2013

PROFILES = ("edma", "bgate", "temperley")


def main() -> None:
    files = [line for line in open(sys.argv[1]).read().splitlines() if line]
    rhythm = RhythmExtractor2013(method="degara")
    percival = PercivalBpmEstimator()
    keys = {p: KeyExtractor(profileType=p) for p in PROFILES}
    cpu = {"decode": 0.0, "degara": 0.0, "percival": 0.0, **{f"key_{p}": 0.0 for p in PROFILES}}
    results = []
    for f in files:
        t = time.process_time()
        audio = MonoLoader(filename=f, sampleRate=44100)()
        t1 = time.process_time()
        cpu["decode"] += t1 - t
        rhythm.reset()
        bpm = float(rhythm(audio)[0])
        t2 = time.process_time()
        cpu["degara"] += t2 - t1
        percival.reset()
        pbpm = float(percival(audio))
        t3 = time.process_time()
        cpu["percival"] += t3 - t2
        row = {"file": f, "degara": bpm, "percival": pbpm}
        for p, algo in keys.items():
            t = time.process_time()
            algo.reset()
            key, scale, strength = algo(audio)
            cpu[f"key_{p}"] += time.process_time() - t
            row[f"key_{p}"] = [key, scale, float(strength)]
        results.append(row)
    print(json.dumps({"results": results, "cpu_s": cpu}))


if __name__ == "__main__":
    main()
