# Backbeat developer entry points. Both targets set up what they need themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 3000
export SAM_CLI_TELEMETRY := 0

.PHONY: dev stop test system-deps web lint typecheck template unit integration fuzz bench build clean venv

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml packages/client/pyproject.toml packages/ops/pyproject.toml packages/recs/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# after the root project, so that upgrading an old venv (whose root project owned the `backbeat`
	# script) cannot remove the script the ops package installs
	$(BIN)/python -m pip install --quiet -e packages/client -e packages/ops -e packages/recs
	@touch $@

## make dev: the whole local stack in the foreground on http://127.0.0.1:$(PORT); its state is kept in
## .devstack/data between starts, `make dev RESET=1` starts clean; the first start replays demo listening
## (synthetic listeners from Last.fm 2K) in the background once it is ready. After Ctrl-C the search
## engine stays up for KEEP_SEARCH_WARM seconds (0: not at all) so that the next start adopts it
## instead of indexing the catalog again; `make stop` ends it at once
KEEP_SEARCH_WARM ?= 1800
dev: venv web
	exec $(BIN)/python -m devstack --port $(PORT) --demo-listening --keep-search-warm $(KEEP_SEARCH_WARM) \
	  $(if $(RESET),--reset) $(DEVSTACK_ARGS)

## make stop: stop the search engine that `make dev` keeps warm after Ctrl-C
stop:
	@$(BIN)/python -m devstack.warm_engine --stop --data-dir .devstack/data

## make test: lint, type check, template checks and the whole pytest suite
test: venv system-deps web lint typecheck template
	$(BIN)/python -m pytest -q -rs --durations=15 tests

## system packages some tests need (Chromium, ffprobe, Node.js): installed when missing and root
system-deps:
	@bash scripts/system-deps

## make web: the web player's static build in web/dist (served at / by the devstack), made again when
## web/dist is missing or older than its sources or packages; without npm it says so and goes on
WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/index.html web/package.json web/vite.config.ts web/tsconfig.json
web: web/dist/index.html

web/node_modules/.package-lock.json: web/package-lock.json
	@if command -v npm >/dev/null; then cd web && npm ci --no-audit --no-fund; \
	else echo "npm not found: the web player is not built (bash scripts/system-deps installs Node.js)"; fi

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	@if command -v npm >/dev/null; then cd web && npm run build && touch dist/index.html; \
	else echo "npm not found: the web player is not built (bash scripts/system-deps installs Node.js)"; fi

lint: venv
	$(BIN)/ruff check layers packages functions devstack tests bench
	$(BIN)/ruff format --check layers packages functions devstack tests bench

typecheck: venv
	$(BIN)/mypy layers/backbeat/backbeat packages/client/backbeat_client packages/ops/backbeat_ops packages/recs/backbeat_recs functions devstack

template: venv
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint --template template.yaml --region us-east-1

unit: venv
	$(BIN)/python -m pytest -q -rs tests/unit

integration: venv
	$(BIN)/python -m pytest -q -rs --durations=15 tests/integration tests/e2e

## make fuzz: the HTTP API fuzzed from its OpenAPI document at length, on a devstack of its own:
## FUZZ_EXAMPLES cases per operation and FUZZ_SCENARIOS linked scenarios of FUZZ_STEPS calls, from a
## random seed it prints (`make fuzz FUZZ_SEED=<n>` replays a run); `make test` runs a small fixed sample
FUZZ_EXAMPLES  ?= 150
FUZZ_SCENARIOS ?= 60
FUZZ_STEPS     ?= 15
ifndef FUZZ_SEED
FUZZ_SEED := $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
endif
fuzz: venv
	@echo "fuzz seed $(FUZZ_SEED) (replay with: make fuzz FUZZ_SEED=$(FUZZ_SEED))"
	BACKBEAT_FUZZ_SEED=$(FUZZ_SEED) BACKBEAT_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) \
	BACKBEAT_FUZZ_STATEFUL_SCENARIOS=$(FUZZ_SCENARIOS) BACKBEAT_FUZZ_STATEFUL_STEPS=$(FUZZ_STEPS) \
	$(BIN)/python -m pytest -q -rs --durations=10 tests/e2e/test_api_fuzz.py

## make bench: every benchmark at the sizes docs/performance.md quotes (each section names its command)
bench: venv
	$(BIN)/python bench/foundation.py --requests 500
	$(BIN)/python bench/catalog_pages.py --requests 300
	$(BIN)/python bench/search_relevance.py --queries 1000
	$(BIN)/python bench/search_latency.py --requests 300
	$(BIN)/python bench/search_mapping.py
	$(BIN)/python bench/playlists.py --edits 100 --subscribers 50
	$(BIN)/python bench/abr_simulator.py
	$(BIN)/python bench/encode.py
	$(BIN)/python bench/streaming.py --requests 300
	$(BIN)/python bench/listening.py --events 100000 --listeners 40 --probes 50
	$(BIN)/python bench/lake_query.py
	$(BIN)/python bench/devstack_start.py --runs 3
	$(BIN)/python bench/devstack_idle.py
	$(BIN)/python bench/devstack_call_cost.py --calls 200 --rounds 3
	$(BIN)/python bench/recs_offline.py
	$(BIN)/python bench/recs_training.py --scale 0.1
	$(BIN)/python bench/web_player.py

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache

## make build: the deployable artifacts (sam build for arm64; needs python3.11 on PATH)
build: venv
	$(BIN)/sam build --template template.yaml
