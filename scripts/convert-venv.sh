#!/usr/bin/env bash
# The model-conversion venv: TensorFlow + tf2onnx + musicnn (weights), kept out of the runtime venv.
# Idempotent and cached under ~/.cache/audiomuse; used by the parity test and the converter.
set -euo pipefail
CACHE=${AUDIOMUSE_CACHE:-$HOME/.cache/audiomuse}
VENV=$CACHE/convert-venv
if [[ -x $VENV/bin/python ]] && "$VENV/bin/python" -c "import musicnn, tf2onnx, tensorflow" 2>/dev/null; then
  exit 0
fi
export UV_CACHE_DIR=${UV_CACHE_DIR:-$CACHE/uv}
command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
echo "creating the model-conversion venv in $VENV (TensorFlow, about 1.3 GB, cached)"
uv venv --quiet --allow-existing --python python3.11 "$VENV"
uv pip install --quiet --python "$VENV/bin/python" tensorflow-cpu==2.21.0 tf2onnx==1.17.0 onnxruntime==1.32.0 \
  librosa==0.11.0 soundfile==0.14.0 soxr==1.1.0
# musicnn's metadata pins numpy<1.17, which its checkpoint files do not need; tf-keras builds its own graph.
uv pip install --quiet --python "$VENV/bin/python" --no-deps musicnn==0.1.0 tf-keras==2.21.0
