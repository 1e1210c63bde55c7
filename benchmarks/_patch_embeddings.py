"""Per-patch embeddings of the sample library from MSD_musicnn and musicnn's other weights, cached.

The analysis keeps only the mean over patches; the pooling options and the other models need every
patch's embedding. Each track is decoded and cut as the analysis does it (``load_audio``,
``log_mel``, 187-frame patches every ``hop`` frames) and run through each model (fp32 ONNX, one
onnxruntime thread, batch 1). One cache file per model under ~/.cache/audiomuse/patch-embeddings,
keyed on the model file's sha1, the track list with each file's content digest, and the hop; a cold
cache costs several CPU-minutes per model (run on 2 worker processes).
"""

from __future__ import annotations

import hashlib
import os
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from audiomuse.analysis.convert_musicnn import EXTRA_MODELS_DIR, embedding_output, onnx_name
from audiomuse.analysis.musicnn import INT8_MODEL_PATH, MODEL_PATH, log_mel, patches

CACHE = Path(os.environ.get("AUDIOMUSE_CACHE", "~/.cache/audiomuse")).expanduser() / "patch-embeddings"
# benchmark name -> musicnn checkpoint; MSD_musicnn is the committed fp32 file the analysis converts from
CHECKPOINTS = {"msd-musicnn": "MSD_musicnn", "mtt-musicnn": "MTT_musicnn", "msd-vgg": "MSD_vgg", "mtt-vgg": "MTT_vgg",
               "msd-musicnn-int8": "MSD_musicnn"}  # int8: the analysis's default file, priced only


def model_path(name: str) -> Path:
    if name in ("msd-musicnn", "msd-musicnn-int8"):
        return MODEL_PATH if name == "msd-musicnn" else INT8_MODEL_PATH
    path = EXTRA_MODELS_DIR / onnx_name(CHECKPOINTS[name])
    if not path.exists():
        raise FileNotFoundError(f"{path} missing: python -m audiomuse.analysis.convert_musicnn "
                                f"--model {CHECKPOINTS[name]} (in the conversion venv)")
    return path


def session(name: str):
    """A one-thread, sequential onnxruntime session, as ``MusicnnModel`` makes it."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(model_path(name)), opts, providers=["CPUExecutionProvider"])


def embed(sess, name: str, batch: np.ndarray) -> np.ndarray:
    """[N, d] embeddings of [N, 187, 96] patches, one patch per run (the analysis's batch size)."""
    out = f"{embedding_output(CHECKPOINTS[name])}:0"
    return np.concatenate([sess.run([out], {"model/Placeholder:0": batch[i : i + 1]})[0] for i in range(len(batch))])


def track_patches(path: Path, hop: int = 187) -> np.ndarray:
    from audiomuse.analysis.decode import load_audio

    return patches(log_mel(load_audio(path)), hop)


_SESSIONS: dict = {}


def _embed_track(job: tuple[str, tuple[str, ...], int]) -> dict[str, np.ndarray]:
    from threadpoolctl import threadpool_limits

    path, names, hop = job
    with threadpool_limits(limits=1, user_api="blas"):
        p = track_patches(Path(path), hop)
        for name in names:
            _SESSIONS.setdefault(name, session(name))
        return {name: embed(_SESSIONS[name], name, p).astype(np.float32) for name in names}


def _cache_file(name: str, files: list[Path], hop: int) -> Path:
    key = hashlib.sha1(model_path(name).read_bytes()).hexdigest()[:12]
    tracks = hashlib.sha1()
    for f in files:
        tracks.update(str(f).encode() + b"\0" + hashlib.sha1(f.read_bytes()).digest())
    return CACHE / f"{name}-{key}-{tracks.hexdigest()[:12]}-hop{hop}.pkl"


def patch_embeddings(files: list[Path], names: list[str], hop: int = 187, workers: int = 2) -> dict[str, list[np.ndarray]]:
    """model name -> one [n_patches, d] float32 array per file, from the cache or computed."""
    CACHE.mkdir(parents=True, exist_ok=True)
    targets = {name: _cache_file(name, files, hop) for name in names}
    out = {name: pickle.loads(t.read_bytes()) for name, t in targets.items() if t.exists()}
    todo = tuple(name for name in names if name not in out)
    if todo:
        jobs = [(str(f), todo, hop) for f in files]
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_embed_track, jobs))
        for name in todo:
            out[name] = [r[name] for r in results]
            tmp = targets[name].with_suffix(".tmp")
            tmp.write_bytes(pickle.dumps(out[name]))
            tmp.replace(targets[name])
    return out
