"""Runs inside the Essentia venv (benchmarks/decode.py starts it): the CPU of Essentia's
``MonoLoader(sampleRate=16000)`` (its defaults) over the given files, least of ``repeat`` passes
after one warm-up load; each output saved as ``<out_dir>/<i>.npy``. Prints JSON."""

import json
import os
import sys
import time

import numpy as np
from essentia.standard import MonoLoader


def main() -> None:
    repeat, out_dir, files = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    MonoLoader(filename=files[0], sampleRate=16000)()
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        for f in files:
            MonoLoader(filename=f, sampleRate=16000)()
        best = min(best, time.process_time() - t)
    for i, f in enumerate(files):
        np.save(os.path.join(out_dir, f"{i}.npy"), MonoLoader(filename=f, sampleRate=16000)())
    print(json.dumps({"cpu_s": best}))


if __name__ == "__main__":
    main()
