#!/usr/bin/env bash
# The whole test suite (unit and integration) under ASan+UBSan, in build-asan/ (never build/): any
# sanitizer report fails, including one from the binary the integration tests start (its reports go to
# build-asan/sanitizer-reports/, checked by the last ctest test, `sanitizer_reports`). scripts/test.sh
# runs this after the Release pass; alone it expects scripts/test.sh's dependencies to be installed.
#   scripts/test-sanitize.sh [ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."
# -Og -g1: with ASan+UBSan a file takes 2.4x its Release compile time at -O1, 1.3x at -Og (as at -O0,
# but -Og runs faster), so this build costs about what the Release one does; -g1 gives file:line in the
# reports. NDEBUG as in Release: the code we ship.
BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo scripts/build.sh -DSWITCHYARD_TESTS=ON -DSWITCHYARD_SANITIZE=ON \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-Og -g1 -DNDEBUG"
[[ -d tests/integration/node_modules ]] || npm ci --prefix tests/integration --no-audit --no-fund --loglevel=error
cd build-asan
ctest --output-on-failure -j"${JOBS:-$(nproc)}" "$@"
