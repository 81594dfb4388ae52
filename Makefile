# `make test` and `make demo` work on a fresh machine: they create .venv and install everything first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT ?= outputs/demo

.PHONY: install test lint demo bench

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install torch==2.13.0
	$(PY) -m pip install -e ".[speech,faster,baselines,dev]"
	$(PY) -m pip install --no-deps openai-whisper speechtokenizer
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(VENV)/bin/ruff check src tests bench datasets_scripts

test: lint
	$(VENV)/bin/pytest -q

demo: install
	$(PY) -m mmlistener.demo --output_dir $(OUT)

bench: install
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done
