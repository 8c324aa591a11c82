#!/usr/bin/env bash
# The in-process host tests embed the machine's CPython: make sure a python3 with a shared libpython is present.
set -euo pipefail
has_shared_libpython() {
  command -v python3 >/dev/null 2>&1 || return 1
  python3 - <<'PY' 2>/dev/null
import os, sys, sysconfig
libdir = sysconfig.get_config_var("LIBDIR") or ""
name = sysconfig.get_config_var("INSTSONAME") or sysconfig.get_config_var("LDLIBRARY") or ""
multiarch = sysconfig.get_config_var("MULTIARCH") or ""
paths = [os.path.join(libdir, name), os.path.join(libdir, multiarch, name)]
sys.exit(0 if any(os.path.isfile(p) for p in paths) else 1)
PY
}
# The original's client call path (tests/ActorHost.Tests/Peers/original_client.py) runs with Debian's httpx.
if ! /usr/bin/python3 -c "import httpx" >/dev/null 2>&1; then
  echo "[setup-python] installing Debian's python3-httpx for the original-client tests (one time)" >&2
  "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" python3-httpx
fi
has_shared_libpython && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "[setup-python] no python3 with a shared libpython: run 'sudo apt-get install -y python3 libpython3-dev'" >&2
  exit 1
fi
echo "[setup-python] installing Debian's python3 and its shared library (one time)" >&2
"$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" python3 libpython3.11
