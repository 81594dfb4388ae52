# `make test` and `make demo` work on a fresh machine: they create .venv and install everything first,
# through constraints.txt (the exact versions the whole suite last passed with).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT ?= outputs/demo
CONSTRAINTS := constraints.txt
EXTRAS := speech,faster,baselines,app,dev
PYTEST_ARGS ?= -q

.PHONY: install browser test lint demo reproduce bench docs-images lock test-latest test-oldest

# Which build of torch 2.13.0 goes in: by default the one pip finds (PyPI's, or a local wheel folder's); set
# TORCH_INDEX to take it from one of PyTorch's indexes instead, e.g. make test
# TORCH_INDEX=https://download.pytorch.org/whl/cpu (the CPU build) or .../whl/cu130 (a CUDA build). The pins carry
# no local build label (+cpu, +cu130), so the same constraints resolve with any of them.
TORCH_INDEX ?=
TORCH_PIP_FLAGS := $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))

# The oldest set: each direct dependency at the lowest release that setup.cfg admits and that resolves
# (uv's lowest-direct resolution, wheels only), torch at 2.13.0 (any build: the local wheel folder's when there is
# one, else the public index's).
TORCH_PIN ?= torch==2.13.0
TORCH_WHEELS ?= /opt/wheels

# The direct requirements of setup.cfg (install_requires and the given extras), one per line: uv resolves
# them without building the package.
define REQUIREMENTS_FROM_SETUP_CFG
import configparser, sys
config = configparser.ConfigParser()
config.read("setup.cfg")
sections = [config["options"]["install_requires"]]
sections += [config["options.extras_require"][extra] for extra in sys.argv[1].split(",")]
print("\n".join(line.strip() for text in sections for line in text.splitlines() if line.strip()))
endef
export REQUIREMENTS_FROM_SETUP_CFG

# $(call setup,VENV,PIP_FLAGS): a new venv with torch 2.13.0 (see TORCH_INDEX), the package and the front ends.
# openai-whisper and speechtokenizer go in with --no-deps (see README, Install).
define setup
	rm -rf $(1)
	$(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install $(2) $(TORCH_PIP_FLAGS) torch==2.13.0
	$(1)/bin/python -m pip install $(2) -e ".[$(EXTRAS)]"
	$(1)/bin/python -m pip install $(2) --no-deps openai-whisper speechtokenizer
endef

# $(call check,VENV): ruff and the whole test suite in VENV.
define check
	$(1)/bin/ruff check src tests bench datasets_scripts
	$(1)/bin/python -m pytest $(PYTEST_ARGS)
endef

$(STAMP): setup.cfg pyproject.toml $(CONSTRAINTS)
	$(call setup,$(VENV),-c $(CONSTRAINTS))
	$(MAKE) browser
	touch $(STAMP)

# The app's screenshot test drives a headless Chromium: Debian's chromium-headless-shell, installed with apt when
# no Chromium is found and apt may be used (root); otherwise the test fails and says how to get one (docs/app.md).
browser:
	@command -v chromium-headless-shell >/dev/null || command -v chromium >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq && \
	    apt-get install -y -qq chromium-headless-shell fonts-dejavu-core; } || \
	  echo "no Chromium installed: tests/test_app.py's screenshot test will fail (see docs/app.md)"

install: $(STAMP)

lint: install
	$(VENV)/bin/ruff check src tests bench datasets_scripts

test: install
	$(call check,$(VENV))

demo: install
	$(PY) -m mmlistener.demo --output_dir $(OUT)

# The study (at most 60 minutes on an idle 2-core CPU): Tables 1 (3 seeds), 3 and 5, controls, events, targets.
reproduce: install
	$(PY) -m mmlistener.reproduce configs/reproduce.yaml

bench: install
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# The docs' drawn images (no test writes into the checkout): the built-in head and the app's page (needs Chromium).
docs-images: install
	$(PY) docs/images/builtin_head.py
	$(PY) docs/images/app_page.py

# Re-resolve the newest releases in a fresh venv, run the suite there, and rewrite constraints.txt only if
# it passes (the recipe stops at the first failing command, before the rewrite).
lock:
	$(call setup,.venv-lock,)
	$(call check,.venv-lock)
	.venv-lock/bin/python -m pip freeze --exclude-editable | sort -f > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
	@echo "$(CONSTRAINTS) rewritten from .venv-lock; review 'git diff $(CONSTRAINTS)' and commit it"

# The drift canary: the newest releases of today, no constraints, then the suite.
test-latest:
	$(call setup,.venv-latest,)
	$(call check,.venv-latest)

# The oldest versions setup.cfg admits, then the suite: its lower bounds are what this target passes with.
test-oldest:
	rm -rf .venv-uv && $(PYTHON) -m venv .venv-uv && .venv-uv/bin/python -m pip install uv
	echo "$(TORCH_PIN)" > .venv-uv/torch.txt
	$(PYTHON) -c "$$REQUIREMENTS_FROM_SETUP_CFG" $(EXTRAS) > .venv-uv/requirements.in
	.venv-uv/bin/uv pip compile .venv-uv/requirements.in \
		--resolution lowest-direct --no-build --python-version 3.11 -c .venv-uv/torch.txt \
		$(if $(wildcard $(TORCH_WHEELS)),--find-links $(TORCH_WHEELS)) $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) \
		--no-header -o constraints-oldest.txt
	$(call setup,.venv-oldest,-c constraints-oldest.txt)
	$(call check,.venv-oldest)
