#!/usr/bin/env bash
# Bounded soak test (not part of the default test run): mixed traffic (plain and streaming, two models
# with two deployments each) through the proxy, with upstream faults injected at random on 20 % of
# requests (429 with retry-after, 500/502/503, resets, hangs, malformed bodies) and 10 % of clients
# hanging up at a random phase. Reports requests, client-visible errors (target 0 while one deployment
# per model is healthy), p99 latency, requests left in flight (target 0), and the proxy's RSS trend.
#   scripts/soak.sh [--asan] [SECONDS] [CONCURRENCY]
# --asan runs build-asan/switchyard (built by scripts/test-sanitize.sh's settings) with LeakSanitizer:
# the proxy's leak report at exit fails the run and is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--asan" ]]; then
  shift
  # The same configuration as scripts/test-sanitize.sh, so the two share build-asan/ without rebuilding.
  BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo TARGET=switchyard scripts/build.sh -DSWITCHYARD_TESTS=ON \
    -DSWITCHYARD_SANITIZE=ON "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-Og -g1 -DNDEBUG"
  reports=$(mktemp -d)
  export SWITCHYARD_BIN=build-asan/switchyard
  export ASAN_OPTIONS="detect_leaks=1:log_path=$reports/report:halt_on_error=1"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/report"
  status=0
  node tests/soak/soak.mjs "${1:-60}" "${2:-16}" || status=$?
  if compgen -G "$reports/report*" >/dev/null; then
    echo "sanitizer reports:"; cat "$reports"/report*; status=1
  else
    echo "LeakSanitizer: no leaks and no sanitizer report at exit"
  fi
  rm -rf "$reports"
  exit $status
fi
[[ -x build/switchyard ]] || scripts/build.sh
exec node tests/soak/soak.mjs "${1:-60}" "${2:-16}"
