# Everything a developer or CI runs. Each target installs what is missing first.
SHELL := /bin/bash
ENV ?= dev
# The hosted zone of a profile's domain, when the profile does not name it (prod: docs/operations.md,
# "Production's domain"): make synth ENV=prod HOSTED_ZONE_ID=Z0123456789ABC
HOSTED_ZONE_ID ?=
CONTEXT = -c env=$(ENV) $(if $(HOSTED_ZONE_ID),-c hosted_zone_id=$(HOSTED_ZONE_ID))
VENV := .venv
PYTHON ?= python3

# The pinned Node (node_modules/.bin/node) runs both the CDK CLI and jsii.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
# mypy's cache of aws-cdk-lib's stubs is valid across clones and saves minutes
# per fresh checkout on the same machine; a cold cache only costs time.
export MYPY_CACHE_DIR ?= $(or $(HOME),/tmp)/.cache/davidshaevel-platform/mypy

.PHONY: help install tools synth test test-unit lint typecheck snapshots diff cost bench bench-services diagram images check-service clean

## help: list the targets, with what each does
help:
	@sed -n 's/^## \([a-z-]*\): \(.*\)/\1\t\2/p' $(MAKEFILE_LIST) | \
	  awk -F '\t' '{ printf "  make %-14s %s\n", $$1, $$2 }'

# Checked while the Makefile is read, so a missing TAG stops before installing anything.
ifneq ($(filter images,$(MAKECMDGOALS)),)
ifeq ($(TAG),)
$(error TAG is required: make images ENV=$(ENV) TAG=sha-<commit> (TAG=initial for a first deploy))
endif
endif

# The reference services' own dependencies, which the tests run them with.
SERVICE_PACKAGES := $(wildcard services/*/package.json)
SERVICE_MODULES := $(SERVICE_PACKAGES:%/package.json=%/node_modules/.installed)

install: $(VENV)/.installed node_modules/.installed $(SERVICE_MODULES)

# Debian packages the suite runs for real: promtool, PostgreSQL and pgaudit.
tools:
	@tools/install-system-packages.sh

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@echo "Installing the Python packages into $(VENV) (about a minute the first time)..."
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -qq --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	@echo "Installing the pinned CDK CLI and Node into node_modules..."
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

services/%/node_modules/.installed: services/%/package.json services/%/package-lock.json node_modules/.installed
	@echo "Installing services/$*'s own dependencies..."
	cd services/$* && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## synth: synthesize every stack of a profile into cdk.out (make synth ENV=prod HOSTED_ZONE_ID=Z...)
synth: install
	rm -rf cdk.out
	cdk synth --quiet $(CONTEXT)
	@echo "Synthesized $(ENV) into cdk.out: $$(cd cdk.out && ls *.template.json | tr '\n' ' ')"

## test: lint, type checks and the whole test suite
test: install tools lint typecheck
	python -m pytest -q

## test-unit: the unit tests only (tests/unit: no synth, no services), for the edit loop
test-unit: install
	python -m pytest -q tests/unit

lint: install
	ruff check .
	ruff format --check .

typecheck: install
	@[ -d "$(MYPY_CACHE_DIR)" ] || echo "Type-checking without a cache: about a minute the first time..."
	mypy

## snapshots: rewrite every snapshot (templates, the release definition, Prometheus's configuration); review them with git diff before committing
snapshots: install
	python -m pytest -q tests/synth -m snapshot --snapshot-update

## diff: cdk diff of every stack against BASE (default: the merge base with main), no AWS credentials needed; fails when a stateful resource would be replaced or removed
BASE ?= $(shell git merge-base HEAD origin/main 2>/dev/null || git merge-base HEAD main 2>/dev/null || echo HEAD)
diff: install
	@git rev-parse --verify --quiet "$(BASE)^{commit}" >/dev/null || \
	  { echo "make diff: BASE=$(BASE) names no commit, branch or tag here (try BASE=HEAD~1 or BASE=origin/main)" >&2; exit 2; }
	rm -rf base.out .base
	git worktree add --detach --force .base $(BASE) >/dev/null
	ln -s $(CURDIR)/.venv .base/.venv && ln -s $(CURDIR)/node_modules .base/node_modules
	cd .base && cdk synth --quiet $(CONTEXT) -o $(CURDIR)/base.out >/dev/null; status=$$?; \
	  cd $(CURDIR) && git worktree remove --force .base; exit $$status
	rm -rf cdk.out && cdk synth --quiet $(CONTEXT) >/dev/null
	@for template in cdk.out/*.template.json; do \
	  stack=$$(basename $$template .template.json); \
	  if [ -f base.out/$$stack.template.json ]; then \
	    cdk diff --app cdk.out --exclusively --template base.out/$$stack.template.json $$stack 2>&1; \
	  else echo "Stack $$stack: new (not in $(BASE))"; fi; \
	done
	@echo "Released images (a deploy keeps them; python -m tools.release show --env $(ENV) prints the deployed tags):"
	python -m tools.release parameters cdk.out --env $(ENV)
	python -m tools.state_guard base.out cdk.out

## images: build every service's image from services/ and push it with TAG (make images ENV=dev TAG=sha-4f2a9c1; DRY_RUN=1 prints the commands)
images: install
	python -m tools.images --env $(ENV) --tag '$(TAG)' $(if $(SERVICES),--service $(SERVICES)) $(if $(DRY_RUN),--dry-run)

## check-service: run a service's image as its task would, against a local PostgreSQL, and check each point of the image contract (make check-service SERVICE=backend [ENV=dev] [DIR=path/to/checkout]; docs/image-contract.md)
check-service: install tools
	@[ -n "$(SERVICE)" ] || { echo "SERVICE is required: make check-service SERVICE=<name> [ENV=dev] [DIR=path/to/checkout]" >&2; exit 2; }
	python -m tools.check_service '$(SERVICE)' --env '$(ENV)' $(if $(DIR),--dir '$(DIR)')

## cost: the profile's fixed monthly cost at list prices (make cost ENV=prod HOSTED_ZONE_ID=Z...)
cost: synth
	python -m tools.cost cdk.out --env $(ENV)

## bench: where a dev synth's time goes; then a dev synth against the minimal app's (best of 5 each; fails over 1.8 times) and the test suite
bench: install tools
	python bench/profile_synth.py
	python bench/run.py

## bench-services: the reference services under a fixed load, beside a bare Node server and with their instrumentation off, and a suggested scale_at_requests_per_task (BENCH_ARGS='--duration 10 --json figures.json'; docs/benchmarks.md)
bench-services: install tools
	python -m bench.services $(BENCH_ARGS)

## diagram: redraw docs/architecture.svg from a fresh synth of the dev profile
diagram: install
	@command -v dot >/dev/null || { \
	  if [ "$$(id -u)" != 0 ]; then echo "Graphviz is missing: apt-get install graphviz (as root)"; exit 1; fi; \
	  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends graphviz >/dev/null; }
	rm -rf cdk.out && cdk synth --quiet -c env=dev >/dev/null
	mkdir -p docs
	python -m tools.diagram cdk.out > docs/architecture.dot
	dot -Tsvg docs/architecture.dot > docs/architecture.svg
	python -c "import sys; from pathlib import Path; from tools.diagram import source_marker; \
	  svg = Path('docs/architecture.svg'); svg.write_text(svg.read_text() + source_marker(Path('docs/architecture.dot').read_text()) + '\n')"
	@echo "Redrew docs/architecture.svg"

clean:
	rm -rf cdk.out base.out .base .pytest_cache .mypy_cache .ruff_cache
