#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer; start them if they do not.
# Order of attempts: already running -> local server binaries -> `docker compose up -d postgres redis`.
# Fails loudly when neither works: the test suite needs the real servers, never mocks.
set -uo pipefail

PG_HOST=${FOOTBALL_TEST_PG_HOST:-127.0.0.1}
PG_PORT=${FOOTBALL_TEST_PG_PORT:-5432}
REDIS_PORT=${FOOTBALL_TEST_REDIS_PORT:-6379}

pg_up() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null || python3 - "$PG_HOST" "$PG_PORT" <<'PY'
import socket, sys
s = socket.socket(); s.settimeout(1)
sys.exit(0 if s.connect_ex((sys.argv[1], int(sys.argv[2]))) == 0 else 1)
PY
}
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; }

wait_for() { for _ in $(seq 1 30); do "$1" && return 0; sleep 1; done; return 1; }

if ! pg_up; then
  echo "PostgreSQL is not answering on $PG_HOST:$PG_PORT; starting it" >&2
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | head -1)" main start || true
  elif command -v docker >/dev/null 2>&1; then
    docker compose up -d postgres || true
  fi
  wait_for pg_up || { echo "FATAL: cannot start PostgreSQL on $PG_HOST:$PG_PORT (no local server, no Docker)" >&2; exit 1; }
fi

if ! redis_up; then
  echo "Redis is not answering on 127.0.0.1:$REDIS_PORT; starting it" >&2
  if command -v redis-server >/dev/null 2>&1; then
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no || true
  elif command -v docker >/dev/null 2>&1; then
    docker compose up -d redis || true
  fi
  wait_for redis_up || { echo "FATAL: cannot start Redis on 127.0.0.1:$REDIS_PORT (no local server, no Docker)" >&2; exit 1; }
fi
echo "PostgreSQL and Redis are up" >&2
