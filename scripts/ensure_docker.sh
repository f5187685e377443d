#!/usr/bin/env bash
# Make sure a Docker engine answers (tests/containers, `make images`): install Debian's docker.io and debootstrap
# (local base images on machines that reach no image registry) when missing, start dockerd when it is not running,
# and wait until it answers. Fails loudly: the container tests never skip.
set -euo pipefail
DOCKER="${DOCKER:-docker}"
LOG="${DOCKERD_LOG:-/var/log/football-dockerd.log}"

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [[ ${#missing[@]} -gt 0 ]]; then
    SUDO=""
    if [[ "$(id -u)" != 0 ]]; then
        command -v sudo >/dev/null 2>&1 || { echo "ensure_docker: run as root or install: ${missing[*]}" >&2; exit 1; }
        SUDO=sudo
    fi
    echo "ensure_docker: installing ${missing[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v "$DOCKER" >/dev/null 2>&1 || DOCKER=/usr/bin/docker

if ! "$DOCKER" info >/dev/null 2>&1; then
    echo "ensure_docker: starting dockerd (log: $LOG)" >&2
    SUDO=""
    [[ "$(id -u)" != 0 ]] && SUDO=sudo
    # overlay2 on this kind of machine (cgroups v1); setsid: the daemon outlives the calling shell.
    $SUDO sh -c "nohup setsid dockerd --storage-driver overlay2 >>'$LOG' 2>&1 </dev/null &"
    for _ in $(seq 1 60); do
        "$DOCKER" info >/dev/null 2>&1 && break
        sleep 1
    done
    "$DOCKER" info >/dev/null 2>&1 || { tail -20 "$LOG" >&2; echo "ensure_docker: dockerd did not answer within 60 s" >&2; exit 1; }
fi
echo "Docker engine $("$DOCKER" version --format '{{.Server.Version}}') is up" >&2
