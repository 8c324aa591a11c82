#!/usr/bin/env bash
# Runs a benchmark: scripts/bench.sh host [--duration 10] [--no-original] | client [--calls 5000] | ready [--replicas 4] [--runs 5]
#   | eval [--tasks 20000] [--concurrency 64] [--no-docker]
# Results print as a table and are written to artifacts/bench/<name>.json.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
scripts/setup-bench.sh
scripts/publish-host.sh
dotnet build bench/Affinetes.Bench -c Release -nologo -v quiet -clp:ErrorsOnly >&2
scenario=${1:-host}
shift || true
bench=(dotnet bench/Affinetes.Bench/bin/Release/net10.0/Affinetes.Bench.dll "$scenario" --output "artifacts/bench/$scenario.json")
case "$scenario" in
  host) exec "${bench[@]}" --host-binary "$root/artifacts/host/linux-x64/affinetes-host" "$@" ;;
  client|eval) scripts/setup-machine.sh; exec "${bench[@]}" --host-binary "$root/artifacts/host/linux-x64/affinetes-host" "$@" ;;
  *) scripts/setup-machine.sh; exec "${bench[@]}" "$@" ;;
esac
