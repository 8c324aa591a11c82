#!/usr/bin/env bash
# Builds the local Python base image with debootstrap (nothing can be pulled on this machine) and imports it into
# the Docker engine. Skipped when the image already exists. Tags:
#   affinetes/python:3.11-bookworm   the image itself (label affinetes.base.local=true)
#   python:3.11-slim, python:3.11-slim-bookworm, python:3.11
#                                     aliases so a miner's unmodified `FROM python:3.11-slim` builds offline; an
#                                     existing image of that name that we did not build is never overwritten.
set -euo pipefail

log() { printf '[base-images] %s\n' "$*" >&2; }
image=${AFFINETES_BASE_IMAGE:-affinetes/python:3.11-bookworm}
aliases=(python:3.11-slim python:3.11-slim-bookworm python:3.11)
# python3 and its shared library, pip (offline here, but Dockerfiles call it), and the few Debian Python
# packages the example environments and tests use.
packages=python3,libpython3.11,python3-pip,python-is-python3,ca-certificates,python3-pydantic,procps

tag_aliases() {
  for alias in "${aliases[@]}"; do
    existing=$(docker image inspect --format '{{ index .Config.Labels "affinetes.base.local" }}' "$alias" 2>/dev/null || true)
    if docker image inspect "$alias" >/dev/null 2>&1 && [ "$existing" != "true" ]; then
      continue # a real image of that name is here: leave it alone
    fi
    docker tag "$image" "$alias"
  done
}

if docker image inspect "$image" >/dev/null 2>&1; then
  tag_aliases
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap (one time)"
  "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" debootstrap
fi

mirror=$(grep -hoE '^(URIs:|deb) +[^ ]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
  | awk '{print $2}' | grep -v security | head -n 1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
rootfs=$(mktemp -d /tmp/affinetes-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT

log "building $image with debootstrap from $mirror (about 90 s, one time)"
started=$(date +%s)
if ! debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1; then
  log "debootstrap failed; last lines:"
  tail -n 20 "$rootfs.log" >&2
  exit 1
fi
rm -f "$rootfs.log"
# Behave like the official image: pip may install into the system interpreter, apt lists are not shipped.
rm -f "$rootfs"/usr/lib/python3.11/EXTERNALLY-MANAGED
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb

tar -C "$rootfs" -c . | docker import \
  --change 'LABEL affinetes.base.local=true' \
  --change 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["python3"]' \
  - "$image" >/dev/null
tag_aliases
log "built $image in $(( $(date +%s) - started )) s"
