#!/usr/bin/env bash
# Restore one database from a dump written by deploy/backup.sh.
#
#   deploy/restore.sh DUMP_FILE TARGET_DATABASE [--create] [--force]
#
# The dump's .sha256 must match (a damaged or partial file is refused before anything changes).
# --create  create TARGET_DATABASE first (it must not exist)
# --force   restore into an existing database that already has tables (objects are replaced)
# Without --force an existing, non-empty target is refused, so a typo cannot overwrite production.
# The restore runs in one transaction: on any error the target is left as it was.
# Connection: the usual libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD).
set -euo pipefail

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }

create=0
force=0
positional=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --create) create=1; shift ;;
        --force) force=1; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "restore: unknown option $1" >&2; usage >&2; exit 2 ;;
        *) positional+=("$1"); shift ;;
    esac
done
if [[ ${#positional[@]} -ne 2 ]]; then
    usage >&2
    exit 2
fi
dump_file="${positional[0]}"
target="${positional[1]}"

if [[ ! "$target" =~ ^[a-z_][a-z0-9_]*$ ]]; then
    echo "restore: refusing database name '$target' (lower-case letters, digits and _ only)" >&2
    exit 2
fi
if [[ ! -f "$dump_file" ]]; then
    echo "restore: no such dump file: $dump_file" >&2
    exit 1
fi
if [[ ! -f "$dump_file.sha256" ]]; then
    echo "restore: $dump_file has no $dump_file.sha256 beside it; refusing an unverified dump" >&2
    exit 1
fi
if ! (cd "$(dirname "$dump_file")" && sha256sum --check --status "$(basename "$dump_file").sha256"); then
    echo "restore: checksum mismatch for $dump_file (damaged or partial dump); nothing restored" >&2
    exit 1
fi

# psql interpolates :'db' (quoted literal) only in commands read from stdin, not in -c.
exists="$(psql --no-psqlrc -tAq -v ON_ERROR_STOP=1 --dbname postgres --set=db="$target" <<'SQL'
SELECT count(*) FROM pg_database WHERE datname = :'db';
SQL
)"

if [[ $create -eq 1 ]]; then
    if [[ "$exists" == "1" ]]; then
        echo "restore: database '$target' already exists; drop it or restore without --create" >&2
        exit 1
    fi
    createdb "$target"
    echo "restore: created database $target"
elif [[ "$exists" != "1" ]]; then
    echo "restore: database '$target' does not exist (use --create)" >&2
    exit 1
fi

tables="$(psql --no-psqlrc -tAq --dbname "$target" -c \
    "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")"
if [[ "$tables" != "0" && $force -eq 0 ]]; then
    echo "restore: database '$target' already holds $tables tables; use --force to replace them" >&2
    exit 1
fi

clean_args=()
if [[ $force -eq 1 ]]; then
    clean_args=(--clean --if-exists)
fi
pg_restore --no-owner --no-privileges --exit-on-error --single-transaction \
    "${clean_args[@]}" --dbname "$target" "$dump_file"
echo "restore: $dump_file -> $target done"
