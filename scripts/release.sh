#!/usr/bin/env bash
# The release step: publishes the host layer to a registry and packs afs as a .NET tool that knows where it is, so
# that an installed afs builds environments on a machine without this repository (it pulls the layer once).
#   scripts/release.sh --registry 127.0.0.1:5000 [--out artifacts/nupkg] [--layer-suffix -rc1]
# --layer-suffix tags the layer under another name (tests use it to pull a layer the engine does not have yet).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
registry="" out="$root/artifacts/nupkg" suffix=""
while [ $# -gt 0 ]; do
  case "$1" in
    --registry) registry="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --layer-suffix) suffix="$2"; shift 2 ;;
    *) echo "release: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
[ -n "$registry" ] || { echo "release: give --registry HOST:PORT, the registry the host layer is pushed to" >&2; exit 2; }
"$root/scripts/build-host-image.sh"
version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$root/Directory.Build.props" | head -n 1)
content=$(cat "$root/artifacts/host/linux-x64/.content-id")
id="$content$suffix"
remote="$registry/affinetes/host:$version-$id"
echo "[release] pushing the host layer as $remote" >&2
docker tag "affinetes/host:$version-$content" "$remote"
docker push -q "$remote" >/dev/null
docker image rm "$remote" >/dev/null
echo "[release] packing afs $version (host layer $version-$id from $registry) into $out" >&2
# The released tool carries no host: it pulls the layer it names (scripts/pack.sh makes the tool that carries one).
dotnet pack "$root/src/Afs/Affinetes.Afs.csproj" -c Release -o "$out" -nologo -v quiet -clp:ErrorsOnly \
  -p:HostLayerId="$id" -p:HostLayerRegistry="$registry" -p:CarryHostLayer=false >&2
echo "$out/Affinetes.Afs.$version.nupkg"
