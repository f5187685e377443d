#!/usr/bin/env bash
# PostgreSQL 15 from Debian's packages, started the way the official postgres image starts it: on an empty
# $PGDATA, initdb with POSTGRES_USER / POSTGRES_PASSWORD (scram-sha-256 over TCP), create POSTGRES_DB, run
# /docker-entrypoint-initdb.d/*.sh once against a socket-only server; then `postgres "$@"`.
set -euo pipefail
: "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=postgres}"
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
export POSTGRES_USER POSTGRES_DB POSTGRES_PASSWORD PGDATA

if [[ "${1:-}" == postgres && "$(id -u)" == 0 ]]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown -R postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    exec runuser -u postgres -- "$0" "$@"
fi

if [[ "${1:-}" == postgres ]]; then
    shift
    if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
        initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
            --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA" >/dev/null
        echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
        echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
        pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
        export PGUSER="$POSTGRES_USER" PGHOST=/var/run/postgresql
        if [[ "$POSTGRES_DB" != postgres ]]; then
            createdb "$POSTGRES_DB"
        fi
        for f in /docker-entrypoint-initdb.d/*; do
            case "$f" in
                *.sh) echo "entrypoint: running $f"; bash "$f" ;;
                *.sql) echo "entrypoint: running $f"; psql -v ON_ERROR_STOP=1 --dbname "$POSTGRES_DB" -f "$f" ;;
            esac
        done
        unset PGUSER PGHOST
        pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
        echo "entrypoint: database cluster initialised"
    fi
    exec postgres -D "$PGDATA" "$@"
fi
exec "$@"
