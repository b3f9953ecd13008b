#!/usr/bin/env bash
# Bounded soak test (not part of the default test run): ~60 s of mixed traffic (plain and streaming,
# two models with two deployments each) through the proxy, with upstream faults injected at random on
# 20 % of requests (429 with retry-after, 500/502/503, resets, hangs, malformed bodies). Reports
# requests, client-visible errors (target 0 while one deployment per model is healthy), p99 latency,
# and the proxy's RSS before/after.
#   scripts/soak.sh [SECONDS] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x build/switchyard ]] || scripts/build.sh
exec node tests/soak/soak.mjs "${1:-60}" "${2:-16}"
