# Huikuan — the two commands are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help sync run test test-deploy test-unit lint format docs stop infra-dev infra-test bench

ROOT := $(CURDIR)
# The development placeholders (tokens, keys, plain SMTP) are allowed only here: the
# settings refuse them when HUIKUAN_ENV is anything else, unset included.
export HUIKUAN_ENV ?= development
# uv from PATH, else a private copy under .run/tools (installed from PyPI on first use).
UV := $(shell command -v uv 2>/dev/null || echo $(ROOT)/.run/tools/bin/uv)
export UV_LINK_MODE ?= copy

help:
	@echo "make run    start Postgres, Kafka and every service; serve the API with a demo tenant"
	@echo "make test   the whole test suite against real Postgres and Kafka (own ports and data)"
	@echo "make test-deploy  two replicas of everything on hosts made of network namespaces (root)"
	@echo "make lint   ruff, mypy, import contracts, breaking changes, the chart and compose file"
	@echo "make bench  the benchmarks (bench/), each beside its floor; table + bench/results/*.json"
	@echo "make docs   regenerate docs/openapi, docs/events and docs/configuration.md from the code"
	@echo "make stop   stop what make run / make test started"

$(ROOT)/.run/tools/bin/uv:
	@command -v python3 >/dev/null || { echo "error: python3 (3.11+) is needed: install it first" >&2; exit 1; }
	@echo "installing uv into .run/tools ..." >&2
	@python3 -m venv $(ROOT)/.run/tools && $(ROOT)/.run/tools/bin/pip install -q uv

# Bytecode compiled once at install, ours too: with PYTHONDONTWRITEBYTECODE set (as on our
# machines) every process would otherwise compile each module it imports from source at
# every start, about 0.6 s of CPU per service process (tests and the stack start hundreds).
sync: $(if $(findstring .run/tools,$(UV)),$(UV))
	@$(UV) sync --frozen --quiet --compile-bytecode
	@.venv/bin/python -m compileall -q -j 0 libs/*/src services/*/src >/dev/null

# oasdiff judges changes to the public contracts (tools/contract_gate.py); built once from
# the Go module proxy into .run/tools.
OASDIFF := $(ROOT)/.run/tools/bin/oasdiff
OASDIFF_VERSION := v1.39.0
$(OASDIFF):
	@command -v go >/dev/null || { echo "error: go (1.22+) is needed to build oasdiff" >&2; exit 1; }
	@echo "installing oasdiff $(OASDIFF_VERSION) into .run/tools ..." >&2
	@GOBIN=$(ROOT)/.run/tools/bin go install github.com/oasdiff/oasdiff@$(OASDIFF_VERSION)

infra-dev:
	@deploy/infra.sh up dev >/dev/null

infra-test:
	@deploy/infra.sh up test >/dev/null

# Ctrl-C stops the services (the stack runner), then the servers this target started.
run: sync infra-dev
	@trap 'true' INT TERM; \
	  $(UV) run --frozen python -m huikuan_dev.stack run --profile dev --root $(ROOT); \
	  rc=$$?; deploy/infra.sh down dev; exit $$rc

# helm renders the chart in make lint (tools/chart_check.py); built once the same way.
HELM := $(ROOT)/.run/tools/bin/helm
HELM_VERSION := v4.3.2
$(HELM):
	@command -v go >/dev/null || { echo "error: go (1.22+) is needed to build helm" >&2; exit 1; }
	@echo "installing helm $(HELM_VERSION) into .run/tools (a few minutes, once) ..." >&2
	@GOBIN=$(ROOT)/.run/tools/bin go install helm.sh/helm/v4/cmd/helm@$(HELM_VERSION)

# PgBouncer for the test behind a pooler in transaction mode: the machine's, else Debian's
# package unpacked into .run/tools (deploy/pgbouncer.sh).
PGBOUNCER := $(ROOT)/.run/tools/bin/pgbouncer
$(PGBOUNCER):
	@deploy/pgbouncer.sh install

# The Compose specification's JSON schema, as compose-go (what `docker compose` validates
# with) ships it at a pinned version: tools/compose_check.py validates the compose file
# against it. Fetched once from the Go module proxy into .run/tools.
COMPOSE_GO_VERSION := v2.16.2
COMPOSE_SCHEMA := $(ROOT)/.run/tools/compose-spec-$(COMPOSE_GO_VERSION).json
$(COMPOSE_SCHEMA):
	@command -v go >/dev/null || { echo "error: go (1.22+) is needed to fetch the compose schema" >&2; exit 1; }
	@mkdir -p $(dir $@)
	@dir=$$(go mod download -json github.com/compose-spec/compose-go/v2@$(COMPOSE_GO_VERSION) \
	  | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])') \
	  && cp "$$dir/schema/compose-spec.json" $@.tmp && chmod u+w $@.tmp && mv $@.tmp $@

test: sync infra-test $(OASDIFF) $(PGBOUNCER)
	@set -a && source .run/test/infra.env && set +a && \
	  HK_PGBOUNCER=$(PGBOUNCER) HUIKUAN_RUN_DIR=$(ROOT)/.run/test \
	  $(UV) run --frozen pytest $(PYTEST_ARGS)

# Benchmarks on the test profile's servers, each run in a fresh database of its own.
bench: sync infra-test
	@set -a && source .run/test/infra.env && set +a && \
	  $(UV) run --frozen python -m bench $(BENCH_ARGS)

# The distributed shape (issue #12): PostgreSQL, Kafka and two replicas of every process on
# hosts of their own (network namespaces), one host killed mid-run. Root only; servers of
# its own inside the hosts, none on this machine's ports. Prints the figures it measured.
# PostgreSQL and the Kafka jars come as for `make test`; `ip` (iproute2) from apt if missing.
test-deploy: sync
	@command -v ip >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && echo "installing iproute2 with apt-get ..." >&2 && apt-get update -qq >&2 \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >&2; } \
	  || { echo "error: ip (iproute2) is needed; install it" >&2; exit 1; }
	@$(UV) run --frozen pytest -m deploy -s tests/deploy $(PYTEST_ARGS)

test-unit: sync
	@$(UV) run --frozen pytest -m "not integration and not e2e and not deploy" $(PYTEST_ARGS)

lint: sync $(OASDIFF) $(HELM) $(COMPOSE_SCHEMA)
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .
	@$(UV) run --frozen mypy libs services tests bench tools
	@$(UV) run --frozen lint-imports
	@$(UV) run --frozen python -m tools.contract_gate check
	@$(UV) run --frozen python -m tools.config_reference check
	@$(UV) run --frozen python -m tools.chart_check
	@$(UV) run --frozen python -m tools.compose_check $(COMPOSE_SCHEMA)

docs: sync $(OASDIFF)
	@$(UV) run --frozen python -m tools.contract_gate write
	@$(UV) run --frozen python -m tools.config_reference write

format: sync
	@$(UV) run --frozen ruff format .
	@$(UV) run --frozen ruff check --fix .

stop:
	@find .run -name stack.pids 2>/dev/null | while read -r f; do \
	  while read -r pid; do [ -n "$$pid" ] && kill "$$pid" 2>/dev/null || true; done < "$$f"; \
	  rm -f "$$f"; \
	done
	@for p in dev test; do [ -d .run/$$p ] && deploy/infra.sh down $$p || true; done
