#!/usr/bin/env bash
# What the benchmarks need besides the test set-up: wrk (the load generator the original was measured with),
# Debian's FastAPI and uvicorn for the original's baseline server, and Debian's httpx for the original's client
# call path (bench/Affinetes.Bench/original/client.py). Idempotent, quiet when done.
set -euo pipefail
missing=()
[ -x /usr/bin/wrk ] || missing+=(wrk)
/usr/bin/python3 -c "import fastapi, uvicorn" >/dev/null 2>&1 || missing+=(python3-fastapi python3-uvicorn)
/usr/bin/python3 -c "import httpx" >/dev/null 2>&1 || missing+=(python3-httpx)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "[setup-bench] installing ${missing[*]} (one time)" >&2
"$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" "${missing[@]}"
