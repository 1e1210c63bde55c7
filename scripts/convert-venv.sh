#!/usr/bin/env bash
# The model-conversion venv: TensorFlow + tf2onnx + musicnn (the weights), kept out of the runtime
# venv because only the converter and its parity test need TensorFlow (about 1.9 GB).
set -euo pipefail
source "$(dirname "$0")/cached-venv.sh"
VENV=$CACHE/convert-venv
# numpy/onnx/protobuf pinned to the set the committed model was converted and checked with.
REQS="tensorflow-cpu==2.21.0 tf2onnx==1.17.0 onnxruntime==1.32.0 onnx==1.23.2 protobuf==7.36.2 \
numpy==2.4.6 librosa==0.11.0 soundfile==0.14.0 soxr==1.1.0"
# musicnn's metadata pins numpy<1.17, which its checkpoint files do not need, so --no-deps;
# tf-keras lets musicnn's own model code build its graph (the parity test's second reference).
NODEPS="musicnn==0.1.0 tf-keras==2.21.0"
WANT="$REQS | --no-deps $NODEPS"

venv_is_current "$VENV" "$WANT" && exit 0
venv_create "$VENV" "the model-conversion venv (TensorFlow, about 1.9 GB)"
# shellcheck disable=SC2086  # the lists are meant to split into arguments
uv pip install --quiet --python "$VENV/bin/python" $REQS
# shellcheck disable=SC2086
uv pip install --quiet --python "$VENV/bin/python" --no-deps $NODEPS
"$VENV/bin/python" -c "import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in ('tensorflow', 'tf2onnx', 'musicnn', 'tf_keras')))"
venv_done "$VENV" "$WANT"
