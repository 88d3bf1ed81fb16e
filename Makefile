# SafeCampus: the commands a new user needs. Everything runs on 127.0.0.1.
#   make demo   set up, start Kafka + SecantusDB + the four services and their proxy, run the
#               simulated county
#   make test   set up, start Kafka + SecantusDB, run the whole test suite
#   make bench  set up, start Kafka + SecantusDB's Rust server, run the benchmarks (not tests)
PYTHON_BIN ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INFRA := deploy/local/infra.sh

.PHONY: web-vendor lock setup venv jars secrets promtool chromium kustomize caddy amtool infra-up infra-down infra-status infra-wipe demo test test-unit fuzz toxiproxy chaos bench bench-reports lint fmt clean

setup: venv jars secrets

# The locked dependencies (every version, with the hashes of its files), then the project
# itself without resolving anything again. `make lock` writes the locks from pyproject.toml.
venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml requirements-dev.lock
	test -x $(PY) || $(PYTHON_BIN) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r requirements-dev.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $@

LOCK_VENV := .local/lock-venv
PIP_COMPILE := pip-compile -q --generate-hashes --strip-extras --allow-unsafe --no-emit-find-links \
	--no-emit-index-url --no-emit-trusted-host
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || { $(PYTHON_BIN) -m venv $(LOCK_VENV) && \
	  $(LOCK_VENV)/bin/pip install -q "pip-tools==7.6.2"; }
	$(LOCK_VENV)/bin/$(PIP_COMPILE) -o requirements.lock pyproject.toml
	$(LOCK_VENV)/bin/$(PIP_COMPILE) --extra embedded --extra dev -o requirements-dev.lock pyproject.toml

jars:
	$(INFRA) jars

# a secret added since a machine's file was written is appended to it, the others kept
secrets: .local/secrets.env
	@grep -q '^PII_KEY=' $< || { umask 077; echo "PII_KEY=$$(openssl rand -hex 32)" >> $<; echo "added PII_KEY to $<"; }
.local/secrets.env:
	mkdir -p .local
	umask 077; { echo "JWT_SECRET=$$(openssl rand -hex 32)"; echo "DEVICE_KEY_SEED=$$(openssl rand -hex 32)"; } > $@
	@echo "wrote $@ (random secrets for this machine; never committed)"

# promtool checks the alert rules in the tests; Debian's prometheus package brings it.
promtool:
	@command -v promtool >/dev/null || { \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) >/dev/null 2>&1 \
	  || echo "warning: could not install promtool (the alert-rule tests will be skipped)"; }

# The browser tests drive Debian's chromium through its chromedriver, with Debian's CJK fonts
# (without them every school name is a row of boxes).
chromium:
	@{ command -v chromium >/dev/null && command -v chromedriver >/dev/null && fc-list :lang=zh | grep -q .; } || { \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-noto-cjk) >/dev/null 2>&1 \
	  || echo "warning: could not install chromium and its fonts (the browser tests will be skipped)"; }

# The console's map library, from npm at the version deploy/web/package-lock.json pins, copied
# into the notifications service's static files (committed: no npm or CDN needed to run).
WEB_VENDOR := services/notifications/static/vendor/leaflet
web-vendor:
	npm ci --prefix deploy/web --ignore-scripts --no-audit --no-fund
	mkdir -p $(WEB_VENDOR)
	cp deploy/web/node_modules/leaflet/dist/leaflet.js deploy/web/node_modules/leaflet/dist/leaflet.css \
	  deploy/web/node_modules/leaflet/LICENSE $(WEB_VENDOR)/

infra-up: venv jars
	$(INFRA) start

infra-down:
	$(INFRA) stop

infra-status:
	$(INFRA) status

infra-wipe:
	$(INFRA) wipe

demo: setup promtool caddy infra-up
	$(PY) -m tools.demo

test: setup promtool chromium toxiproxy kustomize caddy amtool infra-up
	$(PY) -m pytest

test-unit: venv kustomize caddy amtool
	$(PY) -m pytest -m unit

# Toxiproxy, the fault suite's TCP fault proxy, built with Go from the Go module proxy.
TOXIPROXY_VERSION := v2.5.0
TOXIPROXY := .local/bin/toxiproxy-server
GO ?= $(shell command -v go || echo /usr/local/go/bin/go)
toxiproxy: $(TOXIPROXY)
$(TOXIPROXY):
	mkdir -p .local/bin/go
	{ GOBIN=$(abspath .local/bin/go) $(GO) install github.com/Shopify/toxiproxy/v2/cmd/server@$(TOXIPROXY_VERSION) \
	  && mv .local/bin/go/server $@; } || echo "warning: could not build toxiproxy (the fault-suite test will be skipped)"

# kustomize renders the Kubernetes manifests that tests/unit/test_kubernetes.py validates.
KUSTOMIZE_VERSION := v5.7.1
KUSTOMIZE := .local/bin/kustomize
kustomize: $(KUSTOMIZE)
$(KUSTOMIZE):
	mkdir -p .local/bin/go
	GOBIN=$(abspath .local/bin/go) $(GO) install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	mv .local/bin/go/kustomize $@

# Caddy, the Compose proxy, checks deploy/proxy/Caddyfile in tests/unit/test_compose.py (the
# version of the image docker-compose.yml runs).
CADDY_VERSION := v2.10.2
CADDY := .local/bin/caddy
caddy: $(CADDY)
$(CADDY):
	mkdir -p .local/bin/go
	GOBIN=$(abspath .local/bin/go) $(GO) install github.com/caddyserver/caddy/v2/cmd/caddy@$(CADDY_VERSION)
	mv .local/bin/go/caddy $@

# amtool, Alertmanager's own, checks deploy/alertmanager/alertmanager.yml and its routes in
# tests/unit/test_compose.py (the version of the image docker-compose.yml runs).
AMTOOL_VERSION := v0.28.1
AMTOOL := .local/bin/amtool
amtool: $(AMTOOL)
$(AMTOOL):
	mkdir -p .local/bin/go
	GOBIN=$(abspath .local/bin/go) $(GO) install github.com/prometheus/alertmanager/cmd/amtool@$(AMTOOL_VERSION)
	mv .local/bin/go/amtool $@

# The fault suite: every fault in turn under load, then the lost/duplicate checker
# (docs/reliability.md). CHAOS_ARGS=--short runs the six faults make test runs.
CHAOS_ARGS ?=
chaos: setup infra-up toxiproxy
	$(PY) -m tools.chaos $(CHAOS_ARGS)

# The API fuzz suite at length (make test runs it with 15 examples per operation and mode).
FUZZ_EXAMPLES ?= 300
fuzz: setup infra-up
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest tests/integration/test_api_fuzz.py

# The benchmarks run on SecantusDB's Rust server, built from crates.io on first use (closer to
# mongod than the Python server the tests use; docs/benchmarks.md). BENCH_DB=python for that one.
BENCH_DB ?= rust
# The broker as production runs it: Kafka's own flushing, durability from replicas (the tests'
# broker fsyncs each message; BENCH_FSYNC=1 for that). A broker already running keeps its
# setting; every run prints which it measured.
BENCH_FSYNC ?= 0
bench: setup
	SECANTUS_SERVER=$(BENCH_DB) KAFKA_FSYNC_EACH=$(BENCH_FSYNC) $(INFRA) start
	$(PY) -m tools.bench --alarms 300 --interval-ms 250
	$(PY) -m tools.bench --alarms 300 --interval-ms 250 --fixes-per-s 1000
	$(PY) -m tools.bench
	$(PY) -m tools.bench --fixes-per-s 1000
	$(PY) -m tools.bench_ha failover
	$(PY) -m tools.bench_ha fanout
	$(PY) -m tools.bench_positions
	$(PY) -m tools.bench_heartbeats

# Every report over a year of a province (15,000 schools), through the reporting API. The year
# is generated once into the bench database (~10 min) and reused; make test runs a short
# version (tests/e2e/test_province_reports.py). PROVINCE_SCALE=0.1 for a tenth of it.
PROVINCE_SCALE ?= 1
bench-reports: setup
	SECANTUS_SERVER=$(BENCH_DB) $(INFRA) start
	$(PY) -m tools.bench_reports --scale $(PROVINCE_SCALE)

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

fmt: venv
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean: infra-down
	rm -rf $(VENV) .local
