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
# The host's publish (compiling, on the CPU) runs beside the engine's install and the base image's debootstrap
# (mostly downloads and unpacking): on a fresh machine they overlap instead of adding up. Its output is shown when it
# is done, so the lines of the three do not interleave.
publish_log=$(mktemp)
trap 'kill "$publish_pid" 2>/dev/null || true; rm -f "$publish_log" "$publish_log.took"' EXIT
(
  publish_started=$SECONDS
  "$here/publish-host.sh" >"$publish_log" 2>&1
  echo $((SECONDS - publish_started)) >"$publish_log.took"
) &
publish_pid=$!
step "docker engine" "$here/setup-docker.sh"
step "python base image" "$here/build-base-images.sh"
publish_failed=0
wait "$publish_pid" || publish_failed=1
cat "$publish_log" >&2
if [ "$publish_failed" = 1 ]; then
  echo "[setup] publishing the ActorHost failed (above)" >&2
  exit 1
fi
took=$(cat "$publish_log.took")
[ "$took" -ge 2 ] && timings+=("host publish ${took} s (beside the two above)")
step "host layer image" "$here/build-host-image.sh"
if [ ${#timings[@]} -gt 0 ]; then
  summary=$(printf '%s, ' "${timings[@]}")
  echo "[setup] ready in $((SECONDS - started)) s: ${summary%, }" >&2
fi
