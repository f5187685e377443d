#!/usr/bin/env bash
# Debian packages the tests and tools call: promtool and the two exporters (monitoring tests start them for real),
# pg_dump/psql (backup/restore), logrotate (its config is validated), redis-cli/pg_isready (service checks),
# wrk (benchmarks/serving.py).
# Installs what is missing when run as root (or with sudo); otherwise says what to install and fails.
set -euo pipefail
PACKAGES=(postgresql-client redis-tools prometheus prometheus-postgres-exporter prometheus-redis-exporter logrotate wrk)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing system packages (install them with your package manager): ${missing[*]}" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  command -v sudo >/dev/null 2>&1 || { echo "run as root or install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "installing system packages: ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
