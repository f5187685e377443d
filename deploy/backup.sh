#!/usr/bin/env bash
# Back up the platform's PostgreSQL databases with pg_dump (custom format, compressed).
#
#   deploy/backup.sh [--out DIR] [--keep-days N] [--compose] [DATABASE ...]
#
# Databases default to: warehouse dagster mlflow feast_registry.
# Connection: the usual libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD), or --compose to run
# pg_dump inside the docker-compose `postgres` container (same server version as the data).
# Each dump DIR/<db>-<UTC stamp>.dump gets a <dump>.sha256 beside it; restore.sh checks it.
# Dumps older than --keep-days (default 30, the guide's retention) are deleted after a successful run.
# Scheduled: the compose service `backup` runs this daily at 02:30 UTC (deploy/backup-schedule.sh); on Kubernetes
# the chart's CronJob (backup.enabled) does the same and copies the dumps to S3.
set -euo pipefail

out_dir="./backups"
keep_days=30
use_compose=0
databases=()

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --out) out_dir="$2"; shift 2 ;;
        --keep-days) keep_days="$2"; shift 2 ;;
        --compose) use_compose=1; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "backup: unknown option $1" >&2; usage >&2; exit 2 ;;
        *) databases+=("$1"); shift ;;
    esac
done
if [[ ${#databases[@]} -eq 0 ]]; then
    databases=(warehouse dagster mlflow feast_registry)
fi
if ! [[ "$keep_days" =~ ^[0-9]+$ ]]; then
    echo "backup: --keep-days must be a whole number of days, got '$keep_days'" >&2
    exit 2
fi

mkdir -p "$out_dir"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"

dump() {  # dump DB > stdout
    if [[ $use_compose -eq 1 ]]; then
        # shellcheck disable=SC2016  # $POSTGRES_USER is expanded inside the container
        "${DOCKER:-docker}" compose exec -T postgres sh -c 'pg_dump --username "$POSTGRES_USER" --format=custom --compress=6 --no-owner --no-privileges "$1"' _ "$1"
    else
        pg_dump --format=custom --compress=6 --no-owner --no-privileges --dbname "$1"
    fi
}

for db in "${databases[@]}"; do
    target="$out_dir/$db-$stamp.dump"
    partial="$target.partial"
    # Write to a temporary name first: a dump cut short never looks like a complete backup.
    if ! dump "$db" > "$partial"; then
        rm -f "$partial"
        echo "backup: pg_dump of database '$db' failed; no backup written for it" >&2
        exit 1
    fi
    mv "$partial" "$target"
    (cd "$out_dir" && sha256sum "$(basename "$target")" > "$(basename "$target").sha256")
    echo "backup: $db -> $target ($(wc -c < "$target") bytes)"
done

# Retention: only after every dump of this run succeeded.
find "$out_dir" -maxdepth 1 -type f \( -name '*.dump' -o -name '*.dump.sha256' \) \
    -mtime "+$keep_days" -print -delete | sed 's/^/backup: expired /'
