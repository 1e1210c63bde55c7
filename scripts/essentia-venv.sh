#!/usr/bin/env bash
# The benchmark peer's venv: essentia-tensorflow (Essentia with TensorFlow 2.5, whose
# TensorflowPredictMusiCNN runs our frozen graph), for benchmarks/analysis.py only. Essentia's
# releases are pre-releases; the pins are the set BENCHMARKS.md was measured with.
set -euo pipefail
source "$(dirname "$0")/cached-venv.sh"
VENV=$CACHE/essentia-venv
REQS="essentia-tensorflow==2.1b6.dev1389 numpy==2.4.6"

venv_is_current "$VENV" "$REQS" && exit 0
venv_create "$VENV" "the Essentia benchmark venv (about 0.7 GB)"
# shellcheck disable=SC2086  # the list is meant to split into arguments
uv pip install --quiet --python "$VENV/bin/python" --prerelease allow $REQS
TF_CPP_MIN_LOG_LEVEL=3 "$VENV/bin/python" -c "import essentia.standard as es; es.TensorflowPredictMusiCNN"
venv_done "$VENV" "$REQS"
