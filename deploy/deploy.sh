#!/usr/bin/env bash
# Deploy the docker-compose stack on this host: validate, build or pull, start, wait, health-check.
#
#   deploy/deploy.sh ENV [--dry-run]
#
# ENV  dev   docker-compose.yml, image built here from the Dockerfile
#      prod  docker-compose.yml + docker-compose.prod.yml, image pulled (FOOTBALL_IMAGE in .env)
# Steps: check .env has every secret -> `docker compose config` -> build (dev) / pull (prod) ->
#        up -d --wait (every service healthy or one-shot done) -> GET $API_URL/health until 200.
# Environment: DOCKER (docker binary), API_URL (default http://127.0.0.1:8000),
#              HEALTH_TIMEOUT seconds (default 300), ENV_FILE (default .env).
# Exit status is non-zero, with the failing step named, if any step fails.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }

env_name="${1:-}"
dry_run=0
if [[ "${2:-}" == "--dry-run" ]]; then dry_run=1; fi
case "$env_name" in
    dev) compose_files=(-f docker-compose.yml) ;;
    prod) compose_files=(-f docker-compose.yml -f docker-compose.prod.yml) ;;
    -h|--help) usage; exit 0 ;;
    *) echo "deploy: ENV must be dev or prod, got '${env_name}'" >&2; usage >&2; exit 2 ;;
esac

docker_bin="${DOCKER:-docker}"
api_url="${API_URL:-http://127.0.0.1:8000}"
health_timeout="${HEALTH_TIMEOUT:-300}"
env_file="${ENV_FILE:-.env}"
# ALERTMANAGER_WEBHOOK_URL: where alerts are delivered (compose refuses to start without it, like the passwords).
required_secrets=(POSTGRES_PASSWORD REDIS_PASSWORD MINIO_ROOT_PASSWORD GRAFANA_ADMIN_PASSWORD ALERTMANAGER_WEBHOOK_URL)

step() { echo "deploy[$env_name]: $*"; }
fail() { echo "deploy[$env_name]: FAILED at $*" >&2; exit 1; }
run() {
    if [[ $dry_run -eq 1 ]]; then
        echo "+ $*"
    else
        "$@"
    fi
}
compose() { run "$docker_bin" compose --env-file "$env_file" "${compose_files[@]}" "$@"; }

step "checking $env_file"
[[ -f "$env_file" ]] || fail "env file: $env_file is missing (cp .env.example .env and fill in the secrets)"
for name in "${required_secrets[@]}"; do
    value="$(grep -E "^${name}=" "$env_file" | tail -n 1 | cut -d= -f2- || true)"
    [[ -n "$value" ]] || fail "env file: $name is empty in $env_file"
done
if [[ "$env_name" == "prod" ]]; then
    keys="$(grep -E '^FOOTBALL_API_KEYS=' "$env_file" | tail -n 1 | cut -d= -f2- || true)"
    [[ -n "$keys" ]] || fail "env file: FOOTBALL_API_KEYS is empty; prod never serves an open API"
fi

step "validating compose files"
compose config --quiet || fail "compose config"

if [[ "$env_name" == "dev" ]]; then
    step "building the image"
    compose build || fail "build"
else
    step "pulling images"
    compose pull --quiet || fail "pull"
fi

step "starting services and waiting until they are healthy"
compose up -d --remove-orphans --wait --wait-timeout "$health_timeout" || fail "up (see: docker compose ps; docker compose logs)"

step "health check $api_url/health"
if [[ $dry_run -eq 1 ]]; then
    echo "+ curl -fsS $api_url/health"
    exit 0
fi
deadline=$(( $(date +%s) + health_timeout ))
until body="$(curl -fsS --max-time 5 "$api_url/health" 2>/dev/null)"; do
    if (( $(date +%s) >= deadline )); then
        fail "health check: $api_url/health did not answer 200 within ${health_timeout}s"
    fi
    sleep 3
done
step "healthy: $body"
step "done"
