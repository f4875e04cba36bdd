# nbops — two commands for a newcomer:
#   make demo   set up, run the example notebooks on the embedded SQLite store, open JupyterLab
#   make test   set up with test tools, lint everything, run the whole suite (Python + browser)

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# jlpm (JupyterLab's pinned yarn) and the venv's tools must win over anything on the machine.
export PATH := $(BIN):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

BUILD_DEPS := hatchling hatch-jupyter-builder editables "jupyterlab>=4.6,<5"
# The tested set: every install takes the exact versions the suite last passed with.
CONSTRAINTS := requirements/constraints.txt
INSTALL_INPUTS := pyproject.toml $(CONSTRAINTS) lab_extension/package.json lab_extension/yarn.lock \
  $(wildcard lab_extension/src/*) $(filter-out lab_extension/src/__tests__/%,$(wildcard lab_extension/src/*/*))

.PHONY: demo demo-run demo-gates lab test test-oldest lint format chromium postgresql shellcheck podman constraints clean help

help:
	@echo "make demo   — install, run the example notebooks on the embedded store, start JupyterLab"
	@echo "make test   — install with test tools, lint (ruff, eslint, prettier, stylelint), run tests/ and ui-tests/"
	@echo "make lint | make format | make clean"
	@echo "make constraints — re-pin requirements/constraints.txt to the newest versions pyproject.toml allows"
	@echo "make test-oldest — a smoke subset of the suite on the oldest versions pyproject.toml declares"

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The editable install builds the lab extension (jlpm install + build) through hatch-jupyter-builder;
# `labextension develop` then links that build into the venv so JupyterLab loads it. The link goes
# first: a reinstall would otherwise copy the wheel's shared data through it into the source tree.
LABEXT_LINK := $(VENV)/share/jupyter/labextensions/nbops
define install_nbops
	@if [ -L $(LABEXT_LINK) ]; then rm $(LABEXT_LINK); fi
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) $(BUILD_DEPS)
	$(BIN)/pip install --quiet --no-build-isolation -c $(CONSTRAINTS) -e "$(1)"
	$(BIN)/jupyter labextension develop . --overwrite >/dev/null
	@touch $@
endef

# The demo runs every example notebook: LLM token counting and manifest validation included
# (a variable, since a comma inside $(call ...) would split the argument).
DEMO_TARGET := .[llm,deploy]
$(VENV)/.installed: $(VENV)/bin/python $(INSTALL_INPUTS)
	$(call install_nbops,$(DEMO_TARGET))

$(VENV)/.installed-test: $(VENV)/.installed
	$(call install_nbops,.[test])

## demo: run the lifecycle notebooks headless, then open JupyterLab on the result.
demo: demo-run lab

NOTEBOOKS := $(sort $(wildcard notebooks/[0-9]*.ipynb))
DEMO_OUT := notebooks/executed

demo-run: $(VENV)/.installed
	@mkdir -p notebooks/executed
	@for nb in $(NOTEBOOKS); do \
	  echo "== $$nb"; \
	  $(BIN)/papermill --no-progress-bar --cwd notebooks $$nb notebooks/executed/$$(basename $$nb) || exit 1; \
	done
	@$(MAKE) --no-print-directory demo-gates
	@echo
	@$(BIN)/nbops info
	@$(BIN)/nbops runs --limit 5

## demo-gates: the quickstart's candidate through three shipped gates, as CI would run them.
demo-gates:
	@echo "== gates on models:/quickstart-classifier@candidate"
	$(BIN)/nbops gate run performance data_validation latency --model models:/quickstart-classifier@candidate \
	  -p data_path $(DEMO_OUT)/quickstart-data/holdout.csv \
	  -p data_validation.reference_path $(DEMO_OUT)/quickstart-data/train.csv \
	  -p data_validation.max_out_of_range 0.05 --parallel 2 --report $(DEMO_OUT)/quickstart-gates

lab: $(VENV)/.installed
	@port=$$($(BIN)/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	token=$$($(BIN)/python -c 'import secrets; print(secrets.token_hex(24))'); \
	root_flag=$$([ "$$(id -u)" = 0 ] && echo --allow-root); \
	echo; echo "JupyterLab: http://127.0.0.1:$$port/lab/tree/notebooks/executed/01_quickstart.ipynb?token=$$token"; \
	echo "Open the nbops panel in the left sidebar to see the runs. Stop with Ctrl+C."; echo; \
	exec $(BIN)/jupyter lab --no-browser $$root_flag --ip=127.0.0.1 --port=$$port --ServerApp.port_retries=0 \
	  --IdentityProvider.token=$$token --ServerApp.root_dir=$(CURDIR) --LabApp.news_url=None

## test: the whole suite, exactly what CI runs.
test: $(VENV)/.installed-test chromium postgresql shellcheck podman lint test-oldest
	cd lab_extension && jlpm test
	$(BIN)/python -m pytest --junitxml=test-results/junit.xml

## test-oldest: the lower bounds in pyproject.toml are true. A second venv takes the oldest declared
## version of each direct dependency (requirements/oldest.txt; everything else resolves as a user's
## pip would) and runs a smoke subset on the embedded store. Rebuilt only when those files change.
OLDEST := .venv-oldest
OLDEST_SMOKE := tests/test_tracking.py tests/test_registry.py tests/test_gate.py tests/test_drift.py \
  tests/test_server.py tests/test_widgets.py
$(OLDEST)/.installed: pyproject.toml requirements/oldest.txt $(VENV)/.installed
	rm -rf $(OLDEST)
	$(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet --upgrade pip
	$(OLDEST)/bin/pip install --quiet -c requirements/oldest.txt $(BUILD_DEPS)
	$(OLDEST)/bin/pip install --quiet --no-build-isolation -c requirements/oldest.txt -e ".[test]"
	@touch $@

test-oldest: $(OLDEST)/.installed
	@$(OLDEST)/bin/pip list --format=freeze 2>/dev/null | grep -iE "^($$(sed -n 's/==.*//p' requirements/oldest.txt | paste -sd'|'))==" | paste -sd' '
	NBOPS_TEST_BACKENDS=sqlite $(OLDEST)/bin/python -m pytest -q -p no:cacheprovider $(OLDEST_SMOKE) \
	  --junitxml=test-results/junit-oldest.xml

## constraints: pin the newest versions pyproject.toml allows (then run make test before committing).
constraints:
	rm -rf .venv-constraints
	$(PYTHON) -m venv .venv-constraints
	.venv-constraints/bin/python -m pip install --quiet --upgrade pip
	.venv-constraints/bin/pip install --quiet $(BUILD_DEPS)
	.venv-constraints/bin/pip install --quiet --no-build-isolation -e ".[test]"
	{ sed -n '1,2p' $(CONSTRAINTS); .venv-constraints/bin/pip freeze --exclude-editable | grep -v '^nbops'; } \
	  > $(CONSTRAINTS).new && mv $(CONSTRAINTS).new $(CONSTRAINTS)
	rm -rf .venv-constraints

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd lab_extension && jlpm run lint:check

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	cd lab_extension && jlpm run lint

# Playwright cannot download browsers here: the browser tests use Debian's Chromium.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  echo "Installing Debian's chromium for the browser tests"; \
	  $$sudo apt-get update -qq && $$sudo apt-get install -y -qq chromium >/dev/null; \
	fi

# The store tests also run against a team's set-up: PostgreSQL behind an `mlflow server`. The fixtures
# (tests/backends.py) start and stop both in temporary folders; only Debian's binaries are needed.
postgresql:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  echo "Installing Debian's postgresql for the team-server tests"; \
	  $$sudo apt-get update -qq && $$sudo apt-get install -y -qq postgresql >/dev/null; \
	fi

# actionlint runs shellcheck over the CI templates' scripts (tests/test_ci_templates.py): Debian's binary.
shellcheck:
	@if ! command -v shellcheck >/dev/null 2>&1; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  echo "Installing Debian's shellcheck for the CI template tests"; \
	  $$sudo apt-get update -qq && $$sudo apt-get install -y -qq shellcheck >/dev/null; \
	fi

# The image tests build and run OCI images with Debian's podman (runc, since crun cannot run here) on a
# base image that debootstrap makes locally once (tests/images.py): no Docker daemon or registry needed.
podman:
	@if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1 \
	    || ! command -v debootstrap >/dev/null 2>&1; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  echo "Installing Debian's podman, runc and debootstrap for the image tests"; \
	  $$sudo apt-get update -qq && $$sudo apt-get install -y -qq podman runc debootstrap >/dev/null; \
	fi

clean:
	rm -rf $(VENV) $(OLDEST) python_pkg/nbops/labextension lab_extension/lib lab_extension/node_modules \
	  lab_extension/tsconfig.tsbuildinfo test-results notebooks/executed
