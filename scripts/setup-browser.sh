#!/usr/bin/env bash
# Headless Chromium and its WebDriver (Debian's chromium + chromium-driver) for the browser tests of /docs and
# `afs view`. Idempotent: does nothing when both are installed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
echo "[setup] installing Debian's chromium and chromium-driver for the browser tests" >&2
"$here/apt-install.sh" chromium chromium-driver
