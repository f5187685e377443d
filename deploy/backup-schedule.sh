#!/usr/bin/env bash
# The compose service `backup`: runs deploy/backup.sh once a day, at BACKUP_AT (HH:MM, UTC; default 02:30), with
# BACKUP_KEEP_DAYS of retention (default 30) into /backups, against the `postgres` service (PGHOST/PGUSER/
# PGPASSWORD from the environment). BACKUP_ON_START=1 also dumps once at start (the local stack's restore drill).
# A failed run is logged and retried the next day.
#   backup-schedule.sh --check   the container's healthcheck: fails when no complete dump is younger than 26 hours
#                                although the scheduler has run for longer than that (a missed or failed daily run).
set -uo pipefail
at="${BACKUP_AT:-02:30}"
keep="${BACKUP_KEEP_DAYS:-30}"
out="${BACKUP_DIR:-/backups}"
here="$(cd "$(dirname "$0")" && pwd)"
started_file=/tmp/backup-schedule.started

if [[ "${1:-}" == --check ]]; then
    [[ -e "$started_file" ]] || exit 1
    find "$out" -maxdepth 1 -name '*.dump' -mmin -1560 | grep -q . && exit 0
    # Nothing recent: healthy only while the scheduler is younger than 26 hours (first run not due yet).
    [[ -n "$(find "$started_file" -mmin -1560)" ]] && exit 0
    echo "no complete dump in $out younger than 26 hours" >&2
    exit 1
fi

run_backup() {
    echo "backup-schedule: starting backup at $(date -u +%FT%TZ)"
    if "$here/backup.sh" --out "$out" --keep-days "$keep"; then
        echo "backup-schedule: backup complete"
    else
        echo "backup-schedule: BACKUP FAILED (exit $?); next attempt at $at UTC tomorrow" >&2
    fi
}

if ! [[ "$at" =~ ^([01][0-9]|2[0-3]):[0-5][0-9]$ ]]; then
    echo "backup-schedule: BACKUP_AT must be HH:MM (UTC), got '$at'" >&2
    exit 2
fi
touch "$started_file"
# Wait for the server first: the stack starts this service together with PostgreSQL.
for _ in $(seq 1 60); do pg_isready -q && break; sleep 2; done
[[ "${BACKUP_ON_START:-0}" == 1 ]] && run_backup
while true; do
    now=$(date -u +%s)
    next=$(date -u -d "today $at" +%s)
    (( next <= now )) && next=$(date -u -d "tomorrow $at" +%s)
    echo "backup-schedule: next backup at $(date -u -d "@$next" +%FT%TZ)"
    sleep $(( next - now ))
    run_backup
done
