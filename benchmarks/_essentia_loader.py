"""Runs inside the Essentia venv (benchmarks/decode.py starts it): the CPU of Essentia's
``MonoLoader(sampleRate=16000, resampleQuality=q)`` over the given files (q 1 is its default,
libsamplerate's medium sinc; 4, linear interpolation, is what benchmarks/analysis.py uses), least of ``repeat`` passes
after one warm-up load; each output saved as ``<out_dir>/<i>.npy``. Prints JSON."""

import json
import os
import sys
import time

import numpy as np
from essentia.standard import MonoLoader


def main() -> None:
    repeat, quality, out_dir, files = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]

    def load(f):
        return MonoLoader(filename=f, sampleRate=16000, resampleQuality=quality)()

    load(files[0])
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        for f in files:
            load(f)
        best = min(best, time.process_time() - t)
    for i, f in enumerate(files):
        np.save(os.path.join(out_dir, f"{i}.npy"), load(f))
    print(json.dumps({"cpu_s": best}))


if __name__ == "__main__":
    main()
