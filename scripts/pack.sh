#!/usr/bin/env bash
# Packs the libraries and the afs tool into a local NuGet feed (artifacts/feed), with symbols (.snupkg):
#   scripts/pack.sh [--out DIR] [--layer-suffix -x]
# then, in any project:  dotnet add package Affinetes.ValidatorClient --source /path/to/artifacts/feed
# and the tool:          dotnet tool install --global Affinetes.Afs --add-source /path/to/artifacts/feed
# The afs package carries the published ActorHost (about 70 MB packed), so an installed afs builds and evaluates on any
# machine with Docker, without this repository or a registry. Idempotent: packages of this version are replaced.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$root/artifacts/feed" suffix=""
# --layer-suffix names the host layer the afs package carries apart (tests use it to build a layer the engine lacks).
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --layer-suffix) suffix="$2"; shift 2 ;;
    *) echo "pack: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
for project in Protocol ValidatorClient Injector Actors Baseline Afs; do
  echo "[pack] $project" >&2
  dotnet pack "$root/src/$project/Affinetes.$project.csproj" -c Release -o "$out" -nologo -v quiet -clp:ErrorsOnly -p:HostLayerSuffix="$suffix" >&2
done
ls -1 "$out"/*.nupkg
