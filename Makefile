# The two commands a newcomer runs (README): `make demo` and `make test`.
# Both set up what they need first; nothing here assumes a prepared machine.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
REQUIREMENTS := $(wildcard constraints.txt requirements.txt requirements-dev.txt backupper/requirements.txt backupper/requirements-dev.txt backupper/pyproject.toml policy/requirements.txt)

.PHONY: demo test venv tools lint unit e2e clean-venv

## demo: set up, build the local tools if missing, run the whole stack on a local control plane, print its outputs
demo: venv
	$(PY) -m e2e.harness.demo

## test: set up, build the local tools if missing, lint, and run every test tier (random order, each e2e module alone)
test: venv tools lint
	$(PY) -m tools.test_suite

## venv: the project's virtualenv with every pinned dependency (re-installed when a requirements file changes)
venv: $(STAMP)

$(STAMP): $(REQUIREMENTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -r requirements-dev.txt -r backupper/requirements-dev.txt $(if $(wildcard policy/requirements.txt),-r policy/requirements.txt)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e backupper
	@touch $(STAMP)

## tools: the Pulumi CLI, providers and Kubernetes control plane built from Go modules (cached outside the repo)
tools:
	e2e/build_tools.sh

## lint: ruff and mypy over everything we wrote
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy components tools tests backupper/scone_backupper backupper/tests e2e bench policy __main__.py

## unit: the tiers that need no built tools
unit: venv
	$(PY) -m tools.test_suite --no-e2e

clean-venv:
	rm -rf $(VENV)
