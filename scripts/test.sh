#!/usr/bin/env bash
# The one test command: prepares the machine (Docker engine, local base images), builds warnings-free, runs every
# test project, and ends with one line "N passed, M failed". Extra arguments go to `dotnet test`, e.g.
#   scripts/test.sh --filter "Tier!=Docker"
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

scripts/setup-machine.sh || { echo "0 passed, 1 failed"; exit 1; }

if ! dotnet build Affinetes.sln -c Release -nologo -v quiet -clp:ErrorsOnly >artifacts-build.log 2>&1; then
  cat artifacts-build.log
  rm -f artifacts-build.log
  echo "0 passed, 1 failed"
  exit 1
fi
rm -f artifacts-build.log

results="$root/artifacts/test-results"
rm -rf "$results"
# A test that hangs is stopped after 10 minutes (its assembly reports it and ends) instead of stalling CI.
dotnet test Affinetes.sln -c Release --no-build --nologo -v quiet -m:1 \
  --blame-hang-timeout 10m --blame-hang-dump-type none \
  --logger "trx" --logger "console;verbosity=minimal" --results-directory "$results" "$@"
status=$?
# Images the tests built are removed by tag; one still used by a container at that moment (or the same content built
# twice) can stay behind untagged. Only untagged images built by the Injector (their source-digest label) go.
docker image prune -f --filter label=affinetes.source.digest >/dev/null 2>&1 || true

passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  e=$(sed -n 's/.* error="\([0-9]*\)".*/\1/p' <<<"$counters")
  n=$(sed -n 's/.* notExecuted="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${e:-0})); skipped=$((skipped + ${n:-0}))
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # the runner failed outside any test (crash, build or discovery error)
fi
if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
