# finsent: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Test processes: most tests wait on brokers, workers and timers, so two beat one even on
# two cores (2026-12-06, 2 shared cores: 15.6 min against 32.8 min in one process).
# make test TEST_JOBS=1 runs them in one process.
TEST_JOBS ?= 2
# The system programs some tests run, as `program[|alternative...]:debian-package`; the
# same table as PROGRAMS in tests/system_programs.py, which skips a test when one is missing.
TEST_PROGRAMS := chromium|chromium-browser|google-chrome:chromium chromedriver:chromium-driver \
	prometheus-alertmanager|alertmanager:prometheus-alertmanager promtool:prometheus

# the browser test checks that Chinese headlines are drawn as glyphs, not boxes
CJK_FONT := fonts-wqy-microhei

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

# torch and its CUDA libraries (PyPI's build, about 4.5 GB installed) go in a pip run of
# their own: without pip's cache (a short disk) a run keeps all its downloaded wheels
# until it ends, so the second run starts with torch's already deleted.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt torch
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install finsent with its dev tools (pinned by constraints.txt)

run: $(STAMP) ## Run the product on its embedded defaults with the demo replay: finsent up --demo
	$(BIN)/finsent up --demo

test-deps: ## Install the system programs the tests use: Chromium + ChromeDriver, Alertmanager, promtool, a CJK font for the browser (apt-get, as root)
	@missing=; for spec in $(foreach p,$(TEST_PROGRAMS),'$(p)'); do \
		found=; for program in $$(tr '|' ' ' <<< "$${spec%%:*}"); do \
			command -v "$$program" >/dev/null && found=1; \
		done; \
		[ -n "$$found" ] || missing="$$missing $${spec#*:}"; \
	done; \
	fc-list :lang=zh 2>/dev/null | grep -q . || missing="$$missing $(CJK_FONT)"; \
	if [ -z "$$missing" ]; then echo "test-deps: all present"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
		echo "test-deps: needs root and apt-get to install:$$missing" >&2; exit 1; \
	fi; \
	echo "test-deps: apt-get install$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -qq || echo "test-deps: apt-get update failed; trying the lists at hand" >&2; \
	apt-get install -y -qq$$missing >/dev/null

test: $(STAMP) ## Run every test (unit, integration, e2e) against real PostgreSQL and the embedded broker; runs test-deps first as root
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		$(MAKE) --no-print-directory test-deps || echo "test: test-deps failed; going on (tests that need a missing program skip, or fail under CI=true)"; \
	else \
		echo "test: not root (or no apt-get): no test-deps; tests that need a missing program skip, or fail under CI=true"; \
	fi
	$(BIN)/pytest -n $(TEST_JOBS)

chaos: $(STAMP) ## Faults mid-stream at full size: a three-node Apache Kafka cluster, workers killed, PostgreSQL cut off (about 10 min); prints the figures
	FINSENT_CHAOS_SIZE=full $(BIN)/pytest -m 'chaos or faults' tests/chaos tests/e2e/test_pipeline_faults.py

lint: $(STAMP) ## ruff and mypy over the packages and benchmarks; the layers contract (lint-imports)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench-storage: $(STAMP) ## Batched vs per-row storage writes (PostgreSQL)
	$(BIN)/python bench/storage.py

bench-pipeline: $(STAMP) ## Model alone vs the whole pipeline (needs a trained model: MODEL=dir)
	$(BIN)/python bench/pipeline.py --model $${MODEL:-$$($(BIN)/finsent config --json | $(BIN)/python -c 'import json,sys; print(json.load(sys.stdin)["derived"]["model path in use"])')}

bench-dashboard: $(STAMP) ## Every dashboard page on 1,000,000 seeded articles (PostgreSQL)
	$(BIN)/python bench/dashboard.py

bench-brokers: $(STAMP) ## The two local brokers side by side: start, memory, download, restart
	$(BIN)/python bench/brokers.py

bench-sources: $(STAMP) ## Feed parse + normalise + dedup, near-dup check at 100k titles, vs naive
	$(BIN)/python bench/sources.py

bench-novelty: $(STAMP) ## Novelty per company at persist time: the title index vs every stored title
	$(BIN)/python bench/novelty.py

compose-smoke: ## Docker: build the images, run the compose stack with the demo (fresh project), check its alert and stored count, down -v (deploy/compose-smoke.sh; ~30 min, ~14 with SMOKE_MODEL=dir)
	sh deploy/compose-smoke.sh

.PHONY: compose-smoke

lock: ## Re-pin constraints.txt from the current .venv
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^finsent' > constraints.txt

clean: ## Remove caches and test artifacts (keeps .venv)
	rm -rf .pytest_cache .mypy_cache .ruff_cache test-artifacts bench/out
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

.PHONY: help install run test-deps test chaos lint bench-storage bench-pipeline bench-dashboard bench-brokers bench-sources bench-novelty lock clean
