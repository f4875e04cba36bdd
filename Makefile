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
INSTALL_INPUTS := pyproject.toml lab_extension/package.json lab_extension/yarn.lock $(wildcard lab_extension/src/*)

.PHONY: demo demo-run demo-gates lab test lint format chromium postgresql clean help

help:
	@echo "make demo   — install, run the example notebooks on the embedded store, start JupyterLab"
	@echo "make test   — install with test tools, lint (ruff, eslint, prettier, stylelint), run tests/ and ui-tests/"
	@echo "make lint | make format | make clean"

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The editable install builds the lab extension (jlpm install + build) through hatch-jupyter-builder;
# `labextension develop` then links that build into the venv so JupyterLab loads it. The link goes
# first: a reinstall would otherwise copy the wheel's shared data through it into the source tree.
LABEXT_LINK := $(VENV)/share/jupyter/labextensions/nbops
define install_nbops
	@if [ -L $(LABEXT_LINK) ]; then rm $(LABEXT_LINK); fi
	$(BIN)/pip install --quiet $(BUILD_DEPS)
	$(BIN)/pip install --quiet --no-build-isolation -e "$(1)"
	$(BIN)/jupyter labextension develop . --overwrite >/dev/null
	@touch $@
endef

$(VENV)/.installed: $(VENV)/bin/python $(INSTALL_INPUTS)
	$(call install_nbops,.)

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
test: $(VENV)/.installed-test chromium postgresql lint
	$(BIN)/python -m pytest --junitxml=test-results/junit.xml

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

clean:
	rm -rf $(VENV) python_pkg/nbops/labextension lab_extension/lib lab_extension/node_modules \
	  lab_extension/tsconfig.tsbuildinfo test-results notebooks/executed
