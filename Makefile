# cardops — every target installs what it needs first, so a fresh clone needs only `make local` or `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
STAGE ?= dev
# the alarm topic's e-mail subscriber (-c alarmEmail); pass it on every deploy of a stage
ALARM_EMAIL ?=
CDK_CONTEXT := -c stage=$(STAGE) $(if $(ALARM_EMAIL),-c alarmEmail=$(ALARM_EMAIL))
PYTEST_WORKERS ?= 2

.PHONY: help install local test unit lint synth deploy bench lock clean browser console-shots

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

install: $(STAMP) $(NODE_STAMP) ## create .venv from the lock files and install the CDK CLI

local: $(STAMP) ## run the local sandbox (Ctrl-C to stop)
	$(BIN)/cardops local

test: lint $(NODE_STAMP) browser ## lint, type-check and run the whole test suite (with the real CLI synth)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup

# The functions run on Lambda's Python 3.14 but are tested on 3.11: ruff and mypy check them for 3.14
# too. PEP 695 type-parameter syntax (UP040/UP046/UP047) is left out: 3.11 cannot parse it.
lint: $(STAMP) ## ruff and mypy only (for 3.11, and the Lambda code for 3.14)
	$(BIN)/ruff check functions infra tests
	$(BIN)/ruff format --check functions infra tests
	$(BIN)/ruff check --target-version py314 --extend-ignore UP040,UP046,UP047 functions
	$(BIN)/mypy
	$(BIN)/mypy --python-version 3.14 --enable-error-code deprecated -p cardops
	$(BIN)/lint-imports --no-cache

synth: $(STAMP) $(NODE_STAMP) ## synthesize the stack into cdk.out/ (offline, no Docker)
	npx cdk synth --quiet $(CDK_CONTEXT)

deploy: $(STAMP) $(NODE_STAMP) ## deploy one stage: make deploy STAGE=prod ALARM_EMAIL=ops@example.com
	npx cdk deploy $(CDK_CONTEXT) --require-approval broadening

# the console's browser tests drive Debian's chromium (never a browser download), with a Japanese font
# for the screenshots; we run as root
browser: ## install Debian's chromium (and a Japanese font) for the console's browser tests when missing
	@command -v chromium >/dev/null && fc-list :lang=ja | grep -q . || { apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-ipafont-gothic; }

console-shots: $(STAMP) browser ## screenshots of every console page, taken through `cardops local`, in reports/console/
	rm -rf reports/console
	CARDOPS_CONSOLE_SHOTS=reports/console $(BIN)/pytest -q -n 0 -p no:randomly tests/e2e/console
	@ls reports/console

bench: $(STAMP) ## run the benchmarks and write reports/benchmarks.md (CARDOPS_BENCH_SCALE=1: the 100k scale runs too)
	$(BIN)/python -m tests.benchmarks

lock: $(STAMP) ## re-resolve requirements.lock and requirements-lambda.lock from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra local --extra dev --python-version 3.11 --generate-hashes -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --python-version 3.14 --python-platform aarch64-manylinux2014 --generate-hashes \
		--no-emit-package boto3 --no-emit-package botocore --no-emit-package s3transfer -o requirements-lambda.lock

clean: ## remove build outputs (keeps .venv)
	rm -rf cdk.out .cardops .cache reports .mypy_cache .ruff_cache .hypothesis
