#!/usr/bin/env bash
# Makes sure a Docker engine answers on /var/run/docker.sock: installs Debian's docker.io when dockerd is
# missing, starts dockerd in the background when it is not running, and waits (bounded) for it.
# Idempotent and silent when the engine already answers.
set -euo pipefail

log() { printf '[setup-docker] %s\n' "$*" >&2; }
wait_seconds=${AFFINETES_DOCKER_WAIT_SECONDS:-60}

if docker info >/dev/null 2>&1; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    log "dockerd is not installed and this is not root: run 'sudo apt-get install -y docker.io' first"
    exit 1
  fi
  log "installing Debian's docker.io (one time)"
  "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" docker.io
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  log "starting dockerd in the background (log: /var/log/affinetes-dockerd.log)"
  nohup dockerd >/var/log/affinetes-dockerd.log 2>&1 </dev/null &
fi

for _ in $(seq 1 "$wait_seconds"); do
  if [ -S /var/run/docker.sock ] && docker info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done

log "the Docker engine did not answer within ${wait_seconds}s; last lines of its log:"
tail -n 20 /var/log/affinetes-dockerd.log >&2 2>/dev/null || true
exit 1
