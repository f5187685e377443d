#!/usr/bin/env bash
# Build football-platform:prod and football-platform:dev (`make images`), and the local stack's service images.
#
#   scripts/build_images.sh [prod|dev|local-stack|SERVICE ...]     (default: prod dev)
#
# local-stack: every target of deploy/local/Dockerfile (PostgreSQL, Redis, Prometheus, Alertmanager, the two
# exporters, Caddy from Debian packages), tagged football-local/SERVICE:bookworm, for docker-compose.local.yml;
# always on the local Debian base image.
# Base image: PYTHON_IMAGE when set; else the Dockerfile's python:3.11.14-slim-bookworm when it is present or can
# be pulled; else a Debian bookworm image built here with debootstrap (scripts/build_base_image.sh), for machines
# that reach no image registry. BuildKit builds (only the stages a target needs, layer cache reused between runs):
# `docker build` when the buildx plugin exists, else the engine's own BuildKit through docker.io's 20.10 client.
# Prints one line per image: NAME SIZE_BYTES SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."
DOCKER="${DOCKER:-docker}"
TAG_PREFIX="${FOOTBALL_IMAGE_NAME:-football-platform}"
LOCAL_BASE="${FOOTBALL_LOCAL_BASE:-football-base:bookworm}"
UPSTREAM_BASE="$(sed -n 's/^ARG PYTHON_IMAGE=//p' Dockerfile)"

"$DOCKER" info >/dev/null 2>&1 || { echo "build_images: no Docker engine answers (start dockerd)" >&2; exit 1; }

base="${PYTHON_IMAGE:-}"
if [[ -z "$base" ]]; then
    if "$DOCKER" image inspect "$UPSTREAM_BASE" >/dev/null 2>&1 \
        || timeout 120 "$DOCKER" pull -q "$UPSTREAM_BASE" >/dev/null 2>&1; then
        base="$UPSTREAM_BASE"
    else
        echo "build_images: cannot pull $UPSTREAM_BASE; using the local base image $LOCAL_BASE" >&2
        DOCKER="$DOCKER" scripts/build_base_image.sh "$LOCAL_BASE"
        base="$LOCAL_BASE"
    fi
fi

build() {  # build TARGET TAG
    if "$DOCKER" buildx version >/dev/null 2>&1; then
        DOCKER_BUILDKIT=1 "$DOCKER" build "$@"
    elif [[ -x /usr/bin/docker ]] && /usr/bin/docker version --format '{{.Client.Version}}' 2>/dev/null | grep -q '^20\.'; then
        # Debian's docker.io client: BuildKit without the buildx plugin.
        DOCKER_BUILDKIT=1 /usr/bin/docker build "$@"
    else
        DOCKER_BUILDKIT=1 "$DOCKER" build "$@"
    fi
}

LOCAL_SERVICES=(postgres redis prometheus alertmanager postgres-exporter redis-exporter caddy)
targets=()
for t in "${@:-prod dev}"; do
    for one in $t; do
        if [[ "$one" == local-stack ]]; then targets+=("${LOCAL_SERVICES[@]}"); else targets+=("$one"); fi
    done
done

build_one() {  # build_one TAG ARGS... ; prints TAG SIZE SECONDS
    local tag="$1"; shift
    local start log
    start=$(date +%s)
    log="$(mktemp)"
    if ! build --progress=plain -t "$tag" "$@" >"$log" 2>&1; then
        tail -60 "$log" >&2
        rm -f "$log"
        echo "build_images: docker build of $tag failed (last lines above)" >&2
        exit 1
    fi
    rm -f "$log"
    echo "$tag $("$DOCKER" image inspect --format '{{.Size}}' "$tag") $(( $(date +%s) - start ))"
}

for t in "${targets[@]}"; do
    case "$t" in
        prod) build_one "$TAG_PREFIX:prod" --target production --build-arg "PYTHON_IMAGE=$base" . ;;
        dev) build_one "$TAG_PREFIX:dev" --target development --build-arg "PYTHON_IMAGE=$base" . ;;
        *)
            if [[ " ${LOCAL_SERVICES[*]} " != *" $t "* ]]; then
                echo "build_images: unknown image '$t' (prod, dev, local-stack or one of: ${LOCAL_SERVICES[*]})" >&2
                exit 2
            fi
            DOCKER="$DOCKER" scripts/build_base_image.sh "$LOCAL_BASE"
            build_one "football-local/$t:bookworm" --target "$t" --build-arg "BASE_IMAGE=$LOCAL_BASE" deploy/local ;;
    esac
done
