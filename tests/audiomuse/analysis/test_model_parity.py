"""The committed ONNX model against TensorFlow (our rebuild and musicnn's own graph) on real music."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from audiomuse.analysis.musicnn import MODEL_PATH, MusicnnModel, log_mel, patches
from audiomuse.analysis.decode import load_audio

ROOT = Path(__file__).resolve().parents[3]
CONVERT_PY = Path(os.environ.get("AUDIOMUSE_CACHE", "~/.cache/audiomuse")).expanduser() / "convert-venv" / "bin" / "python"

SCRIPT = """
import json, sys, numpy as np
from pathlib import Path
from audiomuse.analysis import convert_musicnn as c
p = np.load(sys.argv[1])
out = Path(sys.argv[2])
path = c.convert(out, keep_pb=False)
emb, tags = c.run_graph(c.build_graph(c.read_weights()), p)
emb0, tags0 = c.run_original(p)
np.savez(out / "tf.npz", emb=emb, tags=tags, emb0=emb0, tags0=tags0)
print(json.dumps({"onnx": str(path)}))
"""


@pytest.mark.slow
def test_reconverted_model_matches_tensorflow_and_committed_onnx(sample_library, tmp_path):
    if not CONVERT_PY.exists():
        pytest.skip(f"no conversion venv at {CONVERT_PY}: run `make convert-venv`")
    tracks = json.loads((sample_library / "manifest.json").read_text())["tracks"]
    chosen = [t for t in tracks if t["style"] in ("rock", "orchestral", "chiptune")][::12][:4]
    p = np.concatenate([patches(log_mel(load_audio(sample_library / t["path"])))[:6] for t in chosen])
    np.save(tmp_path / "patches.npy", p)
    proc = subprocess.run([str(CONVERT_PY), "-c", SCRIPT, str(tmp_path / "patches.npy"), str(tmp_path)],
                          cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3"),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    tf = np.load(tmp_path / "tf.npz")
    fresh_emb, fresh_tags = MusicnnModel(tmp_path / "msd-musicnn.onnx").predict(p)
    committed_emb, committed_tags = MusicnnModel(MODEL_PATH).predict(p)
    assert np.abs(tf["emb"] - tf["emb0"]).max() < 1e-4  # our tf.nn rebuild == musicnn's own graph
    assert np.abs(tf["tags"] - tf["tags0"]).max() < 1e-4
    assert np.abs(fresh_emb - tf["emb"]).max() < 1e-4  # onnxruntime == TensorFlow
    assert np.abs(fresh_tags - tf["tags"]).max() < 1e-4
    assert np.abs(committed_emb - fresh_emb).max() < 1e-5  # the committed file is this conversion
    assert np.abs(committed_tags - fresh_tags).max() < 1e-6


@pytest.mark.slow
def test_metal_track_is_tagged_metal(sample_library):
    tracks = json.loads((sample_library / "manifest.json").read_text())["tracks"]
    metal = next(t for t in tracks if t["package"] == "fretsonfire-songs-muldjord")
    _, tags, _ = MusicnnModel().analyse(load_audio(sample_library / metal["path"]))
    from audiomuse.analysis.musicnn import MSD_TAGS

    top5 = {MSD_TAGS[i] for i in np.argsort(-tags)[:5]}
    assert top5 & {"metal", "heavy metal", "hard rock"}
