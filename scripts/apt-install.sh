#!/usr/bin/env bash
# Installs Debian packages quietly for the set-up scripts: output goes to /var/log/affinetes-apt.log and is shown
# only when the install fails. Usage: scripts/apt-install.sh PACKAGE...
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "[apt] installing $* needs root: run 'sudo apt-get install -y $*'" >&2
  exit 1
fi
log=/var/log/affinetes-apt.log
export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=l NEEDRESTART_SUSPEND=1
if ! { apt-get update -qq && apt-get install -y -qq "$@"; } >"$log" 2>&1; then
  echo "[apt] installing $* failed; last lines of $log:" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
