#!/usr/bin/env bash
# A local image registry (Debian's docker-registry) on 127.0.0.1:5000 for push/pull tests; the engine treats
# loopback registries as insecure, so plain HTTP works. Idempotent, quiet when it already answers.
set -euo pipefail
address=${AFFINETES_TEST_REGISTRY:-127.0.0.1:5000}
answers() { curl -fsS -o /dev/null "http://$address/v2/" 2>/dev/null; }
answers && exit 0
if ! command -v docker-registry >/dev/null 2>&1; then
  echo "[registry] installing Debian's docker-registry (one time)" >&2
  "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" docker-registry
fi
# Our own configuration: Debian's default one requires htpasswd authentication.
mkdir -p /var/lib/affinetes-registry/storage
cat >/var/lib/affinetes-registry/config.yml <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /var/lib/affinetes-registry/storage
  delete:
    enabled: true
http:
  addr: $address
YAML
nohup docker-registry serve /var/lib/affinetes-registry/config.yml >/var/log/affinetes-registry.log 2>&1 </dev/null &
for _ in $(seq 1 30); do
  answers && exit 0
  sleep 0.5
done
echo "[registry] the registry did not answer on $address; last lines of its log:" >&2
tail -n 20 /var/log/affinetes-registry.log >&2 || true
exit 1
