#!/usr/bin/env bash
# Publishes the ActorHost self-contained for linux-x64 (ReadyToRun, not trimmed: trimming breaks Python.NET) into
# artifacts/host/linux-x64. Images and benchmarks use this output; nothing else is needed in a miner's image.
# Skipped when the output is newer than every source file of the host.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$root/artifacts/host/linux-x64"
stamp="$out/.published"
if [ -f "$stamp" ] && [ -z "$(find "$root/src/ActorHost" "$root/src/Protocol" "$root/Directory.Build.props" "$root/Directory.Packages.props" \
      -newer "$stamp" -type f \( -name '*.cs' -o -name '*.py' -o -name '*.csproj' -o -name '*.props' \) -print -quit)" ]; then
  exit 0
fi
rm -rf "$out"
dotnet publish "$root/src/ActorHost/Affinetes.ActorHost.csproj" -c Release -r linux-x64 --self-contained \
  -p:PublishReadyToRun=true -p:PublishTrimmed=false -o "$out" -nologo -v quiet -clp:ErrorsOnly >&2
touch "$stamp"
