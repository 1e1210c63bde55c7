# AudioMuse: `make run` and `make test` do everything on a fresh machine.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Downloads (wheels, Debian packages, the sample library) are cached here, outside the clone.
CACHE ?= $(HOME)/.cache/audiomuse
export UV_CACHE_DIR ?= $(CACHE)/uv
export AUDIOMUSE_CACHE := $(CACHE)
SAMPLES_SMALL := $(CACHE)/sample-library-small
PYTEST_ARGS ?=

.PHONY: help venv sysdeps samples samples-small convert-venv run test test-fast browser-deps browser-check essentia-venv tempo-key-set bench scale-bench clean
help:
	@echo "make run        install, build the sample library, start the database, materialise, serve"
	@echo "                Dagster UI http://localhost:3000 and the explorer http://localhost:8501"
	@echo "make test       the full test suite (real PostgreSQL, real music, real supysonic)"
	@echo "make test-fast  the fast unit tier"
	@echo "make bench      the benchmark scripts (figures go to BENCHMARKS.md)"
	@echo "make scale-bench  the whole pipeline at 100k synthetic tracks (SCALE_ARGS='--tracks 20000')"
	@echo "make browser-check  every explorer page in headless Chromium (installs it as root)"

venv: $(BIN)/.installed

# Bytecode is compiled at install: where Python cannot write __pycache__ (PYTHONDONTWRITEBYTECODE,
# a read-only venv) every process would otherwise recompile its imports (2-3 CPU-s per run worker).
$(BIN)/.installed: pyproject.toml
	@command -v uv >/dev/null 2>&1 || $(PY) -m pip install --quiet uv || { echo "Need 'uv': pip install uv"; exit 1; }
	@test -x $(BIN)/python || uv venv --quiet --python $(PY) $(VENV)
	uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[test]'
	@$(BIN)/python -m compileall -q audiomuse audiomuse_pipelines audiomuse_app audiomuse_api audiomuse_run >/dev/null
	@touch $@

sysdeps:
	@bash scripts/install_system_deps.sh

samples: venv sysdeps
	$(BIN)/python -m audiomuse_run.samples

samples-small: venv sysdeps
	$(BIN)/python -m audiomuse_run.samples --dest $(SAMPLES_SMALL) --max-tracks-per-album 4

# TensorFlow lives in its own venv: only the model converter and its parity test need it.
convert-venv:
	@bash scripts/convert-venv.sh

run: venv samples-small
	@if [ "$${MEDIA_SERVER_TYPE:-local}" = local ] && [ -z "$${MUSIC_DIR:-}" ]; then \
	  export MUSIC_DIR=$(SAMPLES_SMALL); fi; \
	$(BIN)/python -m audiomuse_run.launcher

test: venv samples samples-small convert-venv browser-deps
	$(BIN)/python -m pytest -n 2 --dist loadfile -q $(PYTEST_ARGS)

test-fast: venv
	$(BIN)/python -m pytest -m "not slow" -q $(PYTEST_ARGS)

# Debian's chromium for the explorer's browser test (skipped, with a message, where it cannot be had).
browser-deps:
	@bash scripts/install_system_deps.sh --browser || echo "the browser test will be skipped"

# Every explorer page in headless Chromium (Debian's package); screenshots in $(CACHE)/screenshots.
browser-check: venv
	@bash scripts/install_system_deps.sh --browser
	$(BIN)/python -m pytest tests/audiomuse_app/test_browser.py -q $(PYTEST_ARGS)

# The tempo/key ground truth: 96 generated MIDI songs rendered with FluidSynth and the sample
# library's 35 tracker modules rendered with openmpt123 (benchmarks/tempo_key.py).
tempo-key-set: venv sysdeps
	$(BIN)/python -m audiomuse_run.tempo_key_set

# Essentia, the analysis and tempo/key benchmarks' peer, in its own venv (only those benchmarks).
essentia-venv:
	@bash scripts/essentia-venv.sh

bench: venv samples tempo-key-set essentia-venv
	@for b in benchmarks/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# The whole pipeline on a synthetic 100k-track catalog (~15 min on 2 cores): figures in BENCHMARKS.md.
scale-bench: venv
	$(BIN)/python benchmarks/scale.py $(SCALE_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
