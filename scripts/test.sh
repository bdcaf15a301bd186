#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test; then the same
# suite again under AddressSanitizer and UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
BUILD_DIR=build scripts/build.sh
(cd build && ctest --output-on-failure -j 2)
# The Debian package: build it, then check it with dpkg-deb, the unit's exposure score
# and the packaged config end to end. SAKSI_DEB_ROOT_TEST=1 adds a fresh Debian root.
packaging/test-deb.sh
if [ "${SAKSI_SKIP_SANITIZE:-0}" != 1 ]; then
  BUILD_DIR=build-asan BUILD_TYPE=Debug scripts/build.sh -DSAKSI_SANITIZE=ON
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j 2)
fi
# A short smoke run of every libFuzzer target (docs/fuzzing.md; `tests/fuzz/run.sh 3600`
# is the opt-in long run).
if [ "${SAKSI_SKIP_FUZZ:-0}" != 1 ]; then tests/fuzz/run.sh "${SAKSI_FUZZ_SECONDS:-10}"; fi
