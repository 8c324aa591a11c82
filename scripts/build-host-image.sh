#!/usr/bin/env bash
# Builds the host-layer image affinetes/host:<version>-<content id> from Dockerfile.base and the published host
# (scripts/publish-host.sh). The tag names the content, so two checkouts (or two afs versions) on one machine never
# replace each other's layer; skipped when the image exists. `afs build` builds the same image by itself when it is
# missing; this script only prepares it ahead (the tests' set-up). Needs the Docker engine (scripts/setup-docker.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/publish-host.sh"
version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$root/Directory.Build.props" | head -n 1)
content=$(cat "$root/artifacts/host/linux-x64/.content-id")
image="affinetes/host:$version-$content"
if docker image inspect "$image" >/dev/null 2>&1; then
  exit 0
fi
checkout=$(printf '%s' "$root" | sha256sum | cut -c1-12)
previous=$(docker image ls -q --filter "label=affinetes.host.checkout=$checkout" | sort -u)
echo "[host-image] building $image" >&2
if ! out=$(DOCKER_BUILDKIT=0 docker build -q -f "$root/Dockerfile.base" --build-arg "AFFINETES_VERSION=$version" \
  --label "affinetes.host.content=$content" --label "affinetes.host.checkout=$checkout" -t "$image" "$root/artifacts/host" 2>&1); then
  printf "%s\n" "$out" >&2
  exit 1
fi
# Layers this checkout built before are only copied from (COPY --from), never built upon: they can go. Another
# checkout's (another label) stay.
for id in $previous; do
  docker image rm -f "$id" >/dev/null 2>&1 || true
done
