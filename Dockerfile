# football_platform image: one image for the Dagster code location, webserver, daemon and the API.
#   docker build --target production  -t football-platform:prod .
#   docker build --target development -t football-platform:dev  .
#   make images   # both, on a machine that can reach no image registry too (scripts/build_images.sh)
# No `# syntax=` line: BuildKit's built-in frontend builds this file, so a build needs no registry at all.
# Stages: base (runtime libs) → deps (pinned venv from requirements.lock) → development (editable source)
#         deps → build (install the package, dbt manifest, Feast registry) → production (non-root, minimal)

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
# libpq5: psycopg; libgomp1: CatBoost's OpenMP runtime; tini: PID 1 that reaps and forwards signals.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5=15.* libgomp1=12.* tini=0.19.* \
    && rm -rf /var/lib/apt/lists/*

FROM base AS deps
WORKDIR /build
COPY requirements.lock ./
# uv installs the exact pins of the lock (same versions as `make install`); no resolver run here.
RUN pip install --no-cache-dir uv==0.13.9 \
    && uv venv --python "$(command -v python)" /opt/venv \
    && uv pip sync --python /opt/venv/bin/python --no-cache requirements.lock

# ---------------------------------------------------------------------------------------------------
# development: the local profile (DuckDB, SQLite, embedded Dagster instance) out of the box; the source can be
# bind-mounted at /app over the copy (installed editable). docker-compose.yml sets FOOTBALL_ENV=prod and
# DAGSTER_HOME=/opt/dagster/dagster_home (the PostgreSQL instance), so the same image also runs the prod stack.
FROM deps AS development
WORKDIR /app
COPY . .
# dbt parse: Dagster's dbt assets need the manifest before definitions load (.dockerignore keeps the host's
# dbt_project/target out, which may be stale or absent). The local instance (SQLite, repository dagster.yaml) in
# /opt/dagster/local_home needs no DAGSTER_PG_*; the prod instance config sits in /opt/dagster/dagster_home.
RUN uv pip install --python /opt/venv/bin/python --no-cache --no-deps -e . \
    && dbt parse --project-dir dbt_project --profiles-dir dbt_project --target local --quiet \
    && test -s dbt_project/target/manifest.json \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin football \
    && mkdir -p /opt/dagster/dagster_home/compute_logs /opt/dagster/local_home /app/.football \
    && cp deploy/dagster/dagster.yaml deploy/dagster/workspace.yaml /opt/dagster/dagster_home/ \
    && cp dagster.yaml /opt/dagster/local_home/dagster.yaml \
    && chown -R football:football /app /opt/dagster
ENV FOOTBALL_ENV=local \
    DAGSTER_HOME=/opt/dagster/local_home \
    FOOTBALL_STATE_DIR=/app/.football
USER 10001:10001
EXPOSE 8000 3000 4000
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["football-platform", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "1"]

# ---------------------------------------------------------------------------------------------------
# build: install the package non-editable and prepare everything that would otherwise happen at
# start-up: the dbt manifest (Dagster's dbt assets need it before definitions load) and the Feast
# registry of the feature definitions.
FROM deps AS build
WORKDIR /app
COPY . .
# dbt parse never connects; the prod profile's env_var() calls only need some value at parse time.
ARG DBT_TARGET=prod
# Editable on purpose: settings.py finds dbt_project/ and feature_repo/ next to the package (/app), which
# a site-packages install would break; the production stage keeps the same /app and /opt/venv paths.
RUN uv pip install --python /opt/venv/bin/python --no-cache --no-deps -e . \
    && if [ -f dbt_project/packages.yml ]; then dbt deps --project-dir dbt_project --profiles-dir dbt_project; fi \
    && FOOTBALL_PG_HOST=build FOOTBALL_PG_PORT=5432 FOOTBALL_PG_USER=build FOOTBALL_PG_PASSWORD=build \
       FOOTBALL_PG_DBNAME=warehouse \
       dbt parse --project-dir dbt_project --profiles-dir dbt_project --target "${DBT_TARGET}" \
    && test -s dbt_project/target/manifest.json
# Feast: `feast apply` with the local profile writes a file registry (no database needed) that the
# image carries as the reference copy of the feature definitions; prod applies the same definitions
# to its SQL registry with `deploy/deploy.sh` (`feast apply` as a one-off migration step).
# feature_store.yaml names ../.football/feast/: .dockerignore keeps the host's .football out, so create it.
RUN mkdir -p /app/.football/feast \
    && FOOTBALL_ENV=local FOOTBALL_STATE_DIR=/app/.football feast --chdir feature_repo apply \
    && rm -rf /app/.football/dagster_home

# ---------------------------------------------------------------------------------------------------
FROM base AS production
LABEL org.opencontainers.image.title="football-platform" \
      org.opencontainers.image.description="Dagster code location, webserver, daemon and prediction API" \
      org.opencontainers.image.licenses="MIT"
RUN groupadd --gid 10001 football \
    && useradd --uid 10001 --gid football --no-create-home --shell /usr/sbin/nologin football \
    && mkdir -p /opt/dagster/dagster_home/compute_logs \
    && chown -R football:football /opt/dagster
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --from=build --chown=root:root /app /app
COPY --chown=root:root deploy/dagster/dagster.yaml deploy/dagster/workspace.yaml /opt/dagster/dagster_home/
# Written at run time: the state dir, and dbt's target/ and logs/ (each dbt invocation writes its own
# run results next to the build-time manifest). The code itself stays root-owned and read-only.
RUN mkdir -p /app/.football /app/dbt_project/target /app/dbt_project/logs \
    && chown -R football:football /app/.football /app/dbt_project/target /app/dbt_project/logs
ENV FOOTBALL_ENV=prod \
    FOOTBALL_STATE_DIR=/app/.football \
    DAGSTER_HOME=/opt/dagster/dagster_home
# The source tree is owned by root and read-only for the service user; only state dirs are writable.
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["football-platform", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
