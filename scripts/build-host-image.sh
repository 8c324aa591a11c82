#!/usr/bin/env bash
# Builds the host-layer image affinetes/host:<version> from Dockerfile.base and the published host. Skipped when
# the image exists and was built from the current publish. Needs the Docker engine (scripts/setup-docker.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/publish-host.sh"
version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$root/Directory.Build.props" | head -n 1)
image="affinetes/host:$version"
stamp="$root/artifacts/host/linux-x64/.published"
published=$(stat -c %Y "$stamp")
existing=$(docker image inspect --format '{{ index .Config.Labels "affinetes.host.published" }}' "$image" 2>/dev/null || true)
if [ "$existing" = "$published" ]; then
  exit 0
fi
previous=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
echo "[host-image] building $image" >&2
if ! out=$(DOCKER_BUILDKIT=0 docker build -q -f "$root/Dockerfile.base" --build-arg "AFFINETES_VERSION=$version" \
  --label "affinetes.host.published=$published" -t "$image" "$root/artifacts/host" 2>&1); then
  printf "%s\n" "$out" >&2
  exit 1
fi
# The image this one replaces is only copied from (COPY --from), never built upon: it can go.
if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect --format '{{.Id}}' "$image")" ]; then
  docker image rm "$previous" >/dev/null 2>&1 || true
fi
