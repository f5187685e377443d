#!/usr/bin/env bash
# Creates the platform's databases on first start of the PostgreSQL container
# (mounted into /docker-entrypoint-initdb.d; the official image runs it once, on an empty data directory).
#
#   warehouse       raw.* tables and the dbt marts (dbt-postgres, the API's reads)
#   dagster         Dagster runs, event logs, schedules (dagster-postgres)
#   mlflow          MLflow tracking backend store
#   feast_registry  Feast SQL registry (offline store tables live in `warehouse`)
#
# Idempotent: a database that already exists is left alone, so the same script can be run by hand
# against an existing server (PGHOST/PGPORT/PGUSER as usual) to add a missing one.
# FOOTBALL_INIT_DATABASES overrides the list (tests use it to create throw-away databases).
# FOOTBALL_DB_OWNER (default $POSTGRES_USER) owns the databases and the warehouse schemas: the role
# the platform connects as, which must be able to create tables there.
set -euo pipefail
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

databases="${FOOTBALL_INIT_DATABASES:-warehouse dagster mlflow feast_registry}"
owner="${FOOTBALL_DB_OWNER:-${POSTGRES_USER:-postgres}}"

# Every name is checked before any database is created: a bad list creates nothing.
for db in $databases; do
    if [[ ! "$db" =~ ^[a-z_][a-z0-9_]*$ ]]; then
        echo "init-databases: refusing database name '$db' (lower-case letters, digits and _ only)" >&2
        exit 1
    fi
done

for db in $databases; do
    psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --dbname "${POSTGRES_DB:-postgres}" \
        --set=db="$db" --set=owner="$owner" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db')
\gexec
SQL
    echo "init-databases: database $db ready (owner $owner)"
done

# The warehouse gets its schemas up front so dbt, Feast and the ingestion agree on where tables go.
warehouse_db=""
for db in $databases; do
    case "$db" in warehouse*) warehouse_db="$db" ;; esac
done
if [[ -n "$warehouse_db" ]]; then
    psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --dbname "$warehouse_db" --set=owner="$owner" <<'SQL'
CREATE SCHEMA IF NOT EXISTS raw AUTHORIZATION :"owner";
CREATE SCHEMA IF NOT EXISTS analytics AUTHORIZATION :"owner";
CREATE SCHEMA IF NOT EXISTS feast AUTHORIZATION :"owner";
SQL
    echo "init-databases: schemas raw, analytics, feast ready in $warehouse_db (owner $owner)"
fi
