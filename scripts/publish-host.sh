#!/usr/bin/env bash
# Publishes the ActorHost for linux-x64 into artifacts/host/linux-x64: the native host (compiled ahead of time: the
# Python and sidecar runtimes) as affinetes-host, and the managed host (self-contained, composite ReadyToRun, not
# trimmed: trimming breaks the C# runtime's Roslyn and reflection binding) under managed/, which serves C# actors.
# Writes its content id (.content-id: the first 12 hex digits of a SHA-256 over every
# file's path and bytes), which names the host-layer image affinetes/host:<version>-<content id>. Images and benchmarks
# use this output; nothing else is needed in a miner's image. Skipped when the output is newer than every source file.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$root/artifacts/host/linux-x64"
stamp="$out/.published"
# Only sources count: what a build writes under obj/ and bin/ (generated .cs files among it) must not make it stale.
if [ -f "$stamp" ] && [ -f "$out/.content-id" ] && [ -z "$(find "$root/src/ActorHost" "$root/src/Protocol" "$root/Directory.Build.props" "$root/Directory.Packages.props" \
      "$root/scripts/publish-host.sh" \( -name obj -o -name bin -o -name obj-native -o -name bin-native \) -prune -o -newer "$stamp" -type f \( -name '*.cs' -o -name '*.py' -o -name '*.csproj' \
      -o -name '*.props' -o -name 'publish-host.sh' -o -name '*.html' -o -name '*.js' -o -name '*.css' \) -print -quit)" ]; then
  exit 0
fi
echo "[host] publishing the ActorHost: native and managed (about two minutes the first time)" >&2
# The stamp takes the time the publish started: a source saved while it ran leaves the output stale, as it is.
started=$(mktemp)
# A clean publish into a directory of its own, put in place at the end: ReadyToRun intermediates left by a publish with
# other settings can yield a host that aborts, and a build reading the published host meanwhile (afs build, a test)
# must find the old one whole or the new one whole, never half of either.
next="$out.next-$$"
trap 'rm -rf "$next" "$next.native" "$started"' EXIT
rm -rf "$next" "$root/src/ActorHost/obj/Release/net10.0/linux-x64"
# Composite ReadyToRun compiles the framework and the host together: generic code shared across them (collections,
# async state machines over the host's types) is precompiled instead of jitted at start-up, which
# saves ~55 ms of CPU per container start (scripts/bench.sh ready) for ~20 MB more in the host layer.
dotnet publish "$root/src/ActorHost/Affinetes.ActorHost.csproj" -c Release -r linux-x64 --self-contained \
  -p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true -p:PublishTrimmed=false -o "$next/managed" -nologo -v quiet -clp:ErrorsOnly >&2
# The native host starts in a fraction of the managed one's time and CPU (no runtime to load, nothing to jit): what a
# Python or sidecar container runs. It builds apart (obj-native/, bin-native/), so it can run beside other builds.
# Native compilation links with the C compiler (clang, else gcc) and the C library's development files.
if ! command -v clang >/dev/null && ! command -v gcc >/dev/null || [ ! -e /usr/include/stdio.h ]; then
  "$root/scripts/apt-install.sh" gcc libc6-dev
fi
dotnet publish "$root/src/ActorHost/Affinetes.ActorHost.csproj" -c Release -r linux-x64 -p:NativeHost=true \
  -o "$next.native" -nologo -v quiet -clp:ErrorsOnly >&2
mv "$next.native/affinetes-host" "$next.native/python" "$next/"
rm -rf "$next.native"
(cd "$next" && find . -type f ! -name '.published' ! -name '.content-id' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) \
  | sha256sum | cut -c1-12 > "$next/.content-id"
touch -r "$started" "$next/.published"
old="$out.old-$$"
if [ -d "$out" ]; then mv "$out" "$old"; fi
mv "$next" "$out"
rm -rf "$old"
