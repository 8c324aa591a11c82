#!/usr/bin/env bash
# Everything the tests and examples need on this machine, idempotent and quiet when already done.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$here/setup-docker.sh"
"$here/setup-python.sh"
"$here/build-base-images.sh"
"$here/build-host-image.sh"
"$here/setup-registry.sh"
"$here/setup-ssh.sh"
