#!/usr/bin/env bash
# Build a Debian bookworm base image locally when no image registry can be reached.
#
#   scripts/build_base_image.sh NAME [EXTRA_PACKAGES,...]
#
# debootstrap (minbase) from the Debian mirror that this machine's own apt sources name, with python3, venv,
# pip and ca-certificates (plus EXTRA_PACKAGES, comma separated), then `docker import`. The host's system CA
# bundle is copied in at build time so that HTTPS to the package registries works from inside the container
# on machines whose egress re-signs TLS; it never enters the repository. Debian's pip is externally managed:
# PIP_BREAK_SYSTEM_PACKAGES=1 lets the Dockerfile's `pip install uv` run (the app itself lives in a venv).
# A no-op when NAME already exists (docker image inspect); FORCE=1 rebuilds.
set -euo pipefail
name="${1:?usage: build_base_image.sh NAME [EXTRA_PACKAGES]}"
extra="${2:-}"
DOCKER="${DOCKER:-docker}"
if [[ "${FORCE:-0}" != 1 ]] && "$DOCKER" image inspect "$name" >/dev/null 2>&1; then
    echo "base image $name exists" >&2
    exit 0
fi
command -v debootstrap >/dev/null || { echo "build_base_image: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }

mirror="${DEBIAN_MIRROR:-}"
if [[ -z "$mirror" ]]; then
    # The machine's own Debian mirror: the first non-security source whose suites include bookworm, in deb822
    # (.sources: URIs/Suites fields of one stanza) or one-line format (deb URI bookworm ...). An Ubuntu host's
    # sources name no bookworm suite and fall through to deb.debian.org.
    mirror="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
        /^URIs:/ {uri = $2} /^Suites:/ {suites = $0}
        /^$/ {if (suites ~ / bookworm( |$)/ && uri !~ /security/) {print uri; exit} uri = ""; suites = ""}
        END {if (suites ~ / bookworm( |$)/ && uri !~ /security/) print uri}' | head -1 || true)"
fi
if [[ -z "$mirror" ]]; then
    mirror="$(grep -hE '^deb .* bookworm( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
        | awk '{for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' | grep -v security | head -1 || true)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

packages="python3,python3-venv,python3-pip,python-is-python3,ca-certificates${extra:+,$extra}"
root="$(mktemp -d /tmp/base-image.XXXXXX)"
trap 'rm -rf "$root"' EXIT
echo "debootstrap bookworm from $mirror with $packages" >&2
debootstrap --variant=minbase --include="$packages" bookworm "$root" "$mirror" >"$root.log" 2>&1 \
    || { tail -30 "$root.log" >&2; rm -f "$root.log"; echo "build_base_image: debootstrap failed" >&2; exit 1; }
rm -f "$root.log"
# The same mirror inside the image (apt-get in the Dockerfile), no apt caches, and the host's trust store.
echo "deb $mirror bookworm main" > "$root/etc/apt/sources.list"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
tar -C "$root" -c . | "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PIP_BREAK_SYSTEM_PACKAGES=1' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["/bin/bash"]' \
    - "$name" >/dev/null
echo "base image $name built" >&2
