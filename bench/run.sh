#!/usr/bin/env bash
# The benchmark in one command: builds Switchyard (Release) and the streaming stub/client, then runs
# bench/run.mjs, which prints the table and writes the JSON. See bench/README.md.
#
#   bench/run.sh [--rev REV] [run.mjs options: --only a,d --soak --quick --json FILE ...]
#
#   --rev REV            benchmark a committed revision (git archive into $BUILD_DIR-src, built in
#                        $BUILD_DIR-rev) instead of the working tree; for a shared checkout and A/B runs
#   --peer portkey       also drive Portkey's gateway (npm, pinned in bench/peers/) in scenario a
#   SWITCHYARD_BIN=PATH  use this binary and build nothing of Switchyard
#   BENCH_BUILD_DIR=DIR  build directory (default build-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${BENCH_BUILD_DIR:-build-bench}

REV=""
ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rev) REV=${2:?--rev needs a revision}; shift 2 ;;
    *) ARGS+=("$1"); shift ;;
  esac
done

for cmd in nginx wrk taskset node g++ getconf redis-server; do
  command -v "$cmd" >/dev/null 2>&1 || { echo "bench: '$cmd' not found; run scripts/install-deps.sh --bench" >&2; exit 1; }
done
if [[ $(nproc) -lt 2 ]]; then echo "bench: needs 2 CPUs (proxy on one, load on the other)" >&2; exit 1; fi

if [[ -z "${SWITCHYARD_BIN:-}" ]]; then
  if [[ -n "$REV" ]]; then
    # The revision's tree goes to $BUILD_DIR-src (only changed files are rewritten, so the build in
    # $BUILD_DIR-rev stays incremental); resolved once, so a moving HEAD does not change the label.
    SHA=$(git -C "$ROOT" rev-parse --short "$REV^{commit}")
    SRC="$ROOT/$BUILD_DIR-src"
    STAGE="$ROOT/$BUILD_DIR-src.new"
    rm -rf "$STAGE" && mkdir -p "$STAGE" "$SRC"
    git -C "$ROOT" archive "$SHA" | tar -x -C "$STAGE"
    (cd "$STAGE" && find . -type f) | while read -r f; do
      cmp -s "$STAGE/$f" "$SRC/$f" || { mkdir -p "$(dirname "$SRC/$f")"; cp "$STAGE/$f" "$SRC/$f"; }
    done
    (cd "$SRC" && find . -type f) | while read -r f; do [[ -e "$STAGE/$f" ]] || rm -f "$SRC/$f"; done
    rm -rf "$STAGE"
    echo "bench: building $SHA in $BUILD_DIR-rev" >&2
    (cd "$SRC" && BUILD_DIR="$ROOT/$BUILD_DIR-rev" TARGET=switchyard scripts/build.sh -DSWITCHYARD_TESTS=OFF >&2)
    SWITCHYARD_BIN="$ROOT/$BUILD_DIR-rev/switchyard"
    BIN_LABEL="$SHA (--rev $REV)"
  else
    echo "bench: building the working tree in $BUILD_DIR" >&2
    BUILD_DIR="$BUILD_DIR" TARGET=switchyard scripts/build.sh -DSWITCHYARD_TESTS=OFF >&2
    SWITCHYARD_BIN="$ROOT/$BUILD_DIR/switchyard"
    BIN_LABEL="$(git -C "$ROOT" describe --always --dirty) (working tree)"
  fi
else
  BIN_LABEL="$SWITCHYARD_BIN (SWITCHYARD_BIN)"
fi
[[ -x "$SWITCHYARD_BIN" ]] || { echo "bench: $SWITCHYARD_BIN is not an executable" >&2; exit 1; }

# The stub and the client are plain POSIX C++: one g++ call each, rebuilt when their source changes.
TOOLS="$ROOT/$BUILD_DIR/bench-tools"
mkdir -p "$TOOLS"
for t in sse_stub sse_client; do
  if [[ ! -x "$TOOLS/$t" || "bench/tools/$t.cpp" -nt "$TOOLS/$t" ]]; then
    g++ -std=c++20 -O2 -Wall -Wextra -pthread "bench/tools/$t.cpp" -o "$TOOLS/$t"
  fi
done

# 1,000 client connections plus as many upstream ones per target: raise the open-files limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [[ $(ulimit -n) != unlimited && $(ulimit -n) -lt 4096 ]]; then
  echo "bench: open-files limit $(ulimit -n) < 4096; scenario e (1,000 connections) will fail" >&2
fi

# A peer gateway asked for (--peer NAME) is installed from npm, pinned by bench/peers/package-lock.json.
if [[ " ${ARGS[*]} " == *" --peer "* ]]; then
  npm ci --prefix bench/peers --no-audit --no-fund --loglevel=error >&2
fi

# run.mjs stops everything it started on exit and on SIGINT/SIGTERM; this trap makes sure it gets one.
BENCH_REV="$REV" node bench/run.mjs --bin "$SWITCHYARD_BIN" --bin-label "$BIN_LABEL" --tools "$TOOLS" "${ARGS[@]}" &
NODE_PID=$!
trap 'kill -TERM $NODE_PID 2>/dev/null || true; wait $NODE_PID 2>/dev/null || true' EXIT INT TERM
STATUS=0
wait $NODE_PID || STATUS=$?
trap - EXIT INT TERM
exit $STATUS
