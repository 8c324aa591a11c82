#!/usr/bin/env bash
# Everything the tests and examples need on this machine, idempotent and quiet when already done; each step says
# what it does when it has something to do (the first time takes about five minutes).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if ! { [ -S /var/run/docker.sock ] && docker image inspect affinetes/python:3.11-bookworm >/dev/null 2>&1; } then
  echo "[setup] preparing this machine: Docker engine, a local Python base image, the host layer, a local registry and a test sshd (about five minutes the first time)" >&2
fi
"$here/setup-main.sh"  # the engine, the base image and the host layer: all the main job needs
"$here/setup-python.sh"
"$here/setup-registry.sh"
"$here/setup-ssh.sh"
"$here/setup-browser.sh"
