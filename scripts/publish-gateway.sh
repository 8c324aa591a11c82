#!/usr/bin/env bash
# Publishes the LLM gateway self-contained for linux-x64 (ReadyToRun) into artifacts/gateway/linux-x64: one directory
# with the executable `affinetes-llm-gateway`, needing no .NET on the machine. Skipped when the output is newer than
# every source file of the gateway (generated files under obj/ do not count).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$root/artifacts/gateway/linux-x64"
stamp="$out/.published"
if [ -f "$stamp" ] && [ -z "$(find "$root/src/LlmGateway" "$root/src/Protocol" "$root/Directory.Build.props" "$root/Directory.Packages.props" \
      "$root/scripts/publish-gateway.sh" -newer "$stamp" -type f -not -path '*/obj/*' -not -path '*/bin/*' \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.sh' \) -print -quit)" ]; then
  exit 0
fi
rm -rf "$out" "$root/src/LlmGateway/obj/Release/net10.0/linux-x64"
dotnet publish "$root/src/LlmGateway/Affinetes.LlmGateway.csproj" -c Release -r linux-x64 --self-contained \
  -p:PublishReadyToRun=true -o "$out" -nologo -v quiet -clp:ErrorsOnly >&2
touch "$stamp"
