#!/usr/bin/env bash
# Runs a benchmark: scripts/bench.sh host [--duration 10] [--no-original] | runtimes [--duration 10] | client [--calls 20000] | ready [--replicas 4] [--runs 5]
#                   | gateway [--duration 10] [--connections 64] | eval [--tasks 20000] [--concurrency 64] [--no-docker]
#                   | basilica [--tasks 200] [--concurrency 20] [--api-rate 0.75] [--probe-period-ms 50] | network [--runs 5] [--calls 300] | view [--results 100000] [--rounds 30]
#                   | episodes [--episodes 200] [--steps 10] [--concurrency 64] [--rounds 21] [--no-deadlines]
# Results print as a table and are written to artifacts/bench/<name>.json.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
[ "${1:-host}" = view ] || scripts/setup-bench.sh
case "${1:-host}" in gateway|view) ;; *) scripts/publish-host.sh ;; esac
dotnet build bench/Affinetes.Bench -c Release -nologo -v quiet -clp:ErrorsOnly >&2
scenario=${1:-host}
shift || true
bench=(dotnet bench/Affinetes.Bench/bin/Release/net10.0/Affinetes.Bench.dll "$scenario" --output "artifacts/bench/$scenario.json")
case "$scenario" in
  host|runtimes) exec "${bench[@]}" --host-binary "$root/artifacts/host/linux-x64/affinetes-host" "$@" ;;
  gateway) scripts/publish-gateway.sh; exec "${bench[@]}" --gateway-binary "$root/artifacts/gateway/linux-x64/affinetes-llm-gateway" "$@" ;;
  episodes) exec "${bench[@]}" --host-binary "$root/artifacts/host/linux-x64/affinetes-host" "$@" ;;
  client|eval) scripts/setup-main.sh; exec "${bench[@]}" --host-binary "$root/artifacts/host/linux-x64/affinetes-host" "$@" ;;
  network) scripts/setup-machine.sh; scripts/publish-gateway.sh; exec "${bench[@]}" "$@" ;;
  view) exec "${bench[@]}" "$@" ;;
  *) scripts/setup-machine.sh; exec "${bench[@]}" "$@" ;;
esac
