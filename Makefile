# AudioMuse: `make run` and `make test` do everything on a fresh machine.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CACHE ?= $(HOME)/.cache/audiomuse
export UV_CACHE_DIR ?= $(CACHE)/uv
export AUDIOMUSE_CACHE := $(CACHE)

.PHONY: venv
venv: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	@command -v uv >/dev/null 2>&1 || $(PY) -m pip install --quiet uv || { echo "Need 'uv' (pip install uv) or python3 -m pip"; exit 1; }
	@test -x $(BIN)/python || uv venv --quiet --python $(PY) $(VENV)
	uv pip install --quiet --python $(BIN)/python -e '.[test]'
	@touch $@
