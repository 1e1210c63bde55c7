"""Runs inside the Essentia venv (benchmarks/analysis.py starts it): Essentia's MusiCNN on our
frozen graph, fed the same 16 kHz audio (.npy files), one TF thread. Prints JSON."""

import json
import os
import sys
import time

os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from essentia.standard import MonoLoader, TensorflowPredictMusiCNN  # noqa: E402


def main() -> None:
    graph, hop, batch, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    files = sys.argv[5:]
    model = TensorflowPredictMusiCNN(graphFilename=graph, output="model/dense/BiasAdd", patchHopSize=hop,
                                     batchSize=batch)
    out = {"embeddings": [], "cpu_s": 0.0, "decode_cpu_s": 0.0}

    def load(f: str) -> np.ndarray:
        if mode == "npy":
            return np.ascontiguousarray(np.load(f), dtype=np.float32)
        return MonoLoader(filename=f, sampleRate=16000, resampleQuality=4)()  # Essentia's own loader

    model(load(files[0]))  # warm-up, untimed, as benchmarks/analysis.py warms ours (TF's first run)
    for f in files:
        t0 = time.process_time()
        audio = load(f)
        t1 = time.process_time()
        emb = model(audio)
        out["embeddings"].append(np.asarray(emb).mean(axis=0).tolist())
        out["decode_cpu_s"] += t1 - t0
        out["cpu_s"] += time.process_time() - t0
    import resource

    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
