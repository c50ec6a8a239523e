# cdc-sync — every target installs what it needs first (idempotent).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
CLI := $(VENV)/bin/cdc-sync
STACK := ops/stack.sh
# Point cdc-sync at the native stack (ports and roles from ops/stack.env).
STACK_ENV = set -a; eval "$$($(STACK) env)"; set +a

.PHONY: help deps demo test unit integration lint audit-deps bench bench-peer chaos fuzz stack-up stack-down stack-status clean

help:
	@echo "make demo | test | bench | bench-peer | chaos | fuzz | lint | stack-up | stack-down | stack-status"

$(VENV)/.installed: pyproject.toml
	@command -v python3 >/dev/null || { echo "python3 (>= 3.11) is required" >&2; exit 1; }
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench,report]'
	@touch $@

deps: $(VENV)/.installed

stack-up: deps
	$(STACK) up
	$(STACK_ENV); $(CLI) db migrate && $(CLI) db grant && $(CLI) connectors apply

stack-down:
	$(STACK) down

stack-status:
	@$(STACK) status

demo: stack-up
	$(STACK_ENV); ops/demo.sh

lint: deps
	$(VENV)/bin/ruff check cdc_sync tests bench ops/demo.py
	$(VENV)/bin/ruff format --check cdc_sync tests bench ops/demo.py
	$(VENV)/bin/mypy cdc_sync tests bench ops/demo.py

# Known-vulnerable packages in the installed environment (PyPI's advisory data, through
# pip-audit): fails on a finding and, with --strict, on a package it could not check. Not part of
# `lint` while the build machines cannot reach a vulnerability database (see README, Security).
audit-deps: deps
	$(PY) -m pip install -q 'pip-audit>=2.7'
	$(PY) -m pip freeze --exclude-editable | grep -v '^pip-audit' > $(VENV)/requirements.lock
	$(VENV)/bin/pip-audit --strict --no-deps --disable-pip -s pypi -r $(VENV)/requirements.lock

unit: deps
	$(PY) -m pytest tests/unit tests/ops

integration: deps
	$(STACK) install
	$(PY) -m pytest tests/integration

test: lint
	$(STACK) install
	$(PY) -m pytest

bench: stack-up
	$(STACK_ENV); $(PY) -m bench

# cdc-sync's webhook destination beside Debezium Server's HTTP sink (ops/peer/) on the same changes.
bench-peer: stack-up
	$(STACK_ENV); $(PY) -m bench.peer

# Faults on the real stack (kill -9, part restarts, vendor outage, poison, slot loss); CHAOS_SCALE=0.05 for a quick run.
chaos: stack-up
	$(STACK_ENV); $(PY) -m bench.chaos $(SCENARIOS)

# Hostile webhooks (every source) and Kafka records / registry answers (the decoder); not part of
# `make test`. FUZZ_BUDGET inputs in all (default 100000), FUZZ_SEED, FUZZ_TARGETS=erp,envelope,...
fuzz: stack-up
	$(STACK_ENV); $(PY) -m bench.fuzz

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
