#!/usr/bin/env bash
# What the main job (`./afs eval environments/python-arith ...`) needs and nothing more: a Docker engine, the local
# Python base image and the host-layer image. The tests' extras (a local registry, a test sshd, chromium) are
# scripts/setup-machine.sh's. Idempotent: a second run finds everything in place and prints nothing. When a step
# had work to do, the time of each is printed at the end, so a first run says where its time went.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
timings=()
step() {
  local name=$1
  shift
  local started=$SECONDS
  "$@"
  local took=$((SECONDS - started))
  [ "$took" -ge 2 ] && timings+=("$name ${took} s")
  return 0
}
started=$SECONDS
step "docker engine" "$here/setup-docker.sh"
step "python base image" "$here/build-base-images.sh"
step "host layer (publish + image)" "$here/build-host-image.sh"
if [ ${#timings[@]} -gt 0 ]; then
  summary=$(printf '%s, ' "${timings[@]}")
  echo "[setup] ready in $((SECONDS - started)) s: ${summary%, }" >&2
fi
