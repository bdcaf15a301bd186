#!/usr/bin/env bash
# Builds saksi (scripts/build.sh) and its Debian package with CPack; prints the path of
# the .deb on stdout, the only thing it prints there. Refuses a sanitizer build dir:
# ASan binaries must never be packaged. Extra args go to cmake (via scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BUILD_DIR:-build}
if [ -f "$dir/CMakeCache.txt" ] && grep -q '^SAKSI_SANITIZE:BOOL=ON' "$dir/CMakeCache.txt"; then
  echo "build-deb: $dir is a sanitizer build; use another BUILD_DIR" >&2
  exit 2
fi
BUILD_DIR=$dir scripts/build.sh -DSAKSI_SANITIZE=OFF "$@" >&2
for t in saksid saksi; do
  [ -x "$dir/$t" ] || echo "build-deb: warning: $dir/$t was not built; the package lacks it" >&2
done
log=$dir/cpack-deb.log
if ! (cd "$dir" && cpack -G DEB) >"$log" 2>&1; then
  cat "$log" >&2
  echo "build-deb: cpack failed (log: $log)" >&2
  exit 2
fi
deb=$(sed -n 's/^CPack: - package: \(.*\.deb\) generated\.$/\1/p' "$log" | tail -n 1)
if [ -z "$deb" ] || [ ! -f "$deb" ]; then
  cat "$log" >&2
  echo "build-deb: cpack named no .deb" >&2
  exit 2
fi
echo "$deb"
