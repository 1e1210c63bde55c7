#!/usr/bin/env bash
# The benchmark peer's venv: essentia-tensorflow (Essentia with TensorFlow 2.5, whose
# TensorflowPredictMusiCNN runs our frozen graph), for benchmarks/analysis.py only. Essentia's
# releases are pre-releases; the pins are the set BENCHMARKS.md was measured with.
# Idempotent: a stamp holding the requirement list makes a second run exit at once.
set -euo pipefail
CACHE=${AUDIOMUSE_CACHE:-$HOME/.cache/audiomuse}
VENV=$CACHE/essentia-venv
STAMP=$VENV/.audiomuse-requirements
REQS="essentia-tensorflow==2.1b6.dev1389 numpy==2.4.6"

if [[ -x $VENV/bin/python && -f $STAMP && "$(cat "$STAMP")" == "$REQS" ]]; then
  exit 0
fi
export UV_CACHE_DIR=${UV_CACHE_DIR:-$CACHE/uv}
command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
echo "creating the Essentia benchmark venv in $VENV (about 0.7 GB, cached)"
rm -f "$STAMP"
uv venv --quiet --allow-existing --python python3.11 "$VENV"
# shellcheck disable=SC2086  # the list is meant to split into arguments
uv pip install --quiet --python "$VENV/bin/python" --prerelease allow $REQS
TF_CPP_MIN_LOG_LEVEL=3 "$VENV/bin/python" -c "import essentia.standard as es; es.TensorflowPredictMusiCNN"
printf '%s' "$REQS" >"$STAMP"
