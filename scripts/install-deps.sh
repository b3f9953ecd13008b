#!/usr/bin/env bash
# Installs every Debian package Switchyard needs to build, test and benchmark (see DEVELOPERS.md).
# Idempotent: when everything is present it prints one line and touches nothing.
set -euo pipefail

# libhiredis-dev: Redis's protocol codec (shared state). libmimalloc-dev: the allocator the binary links
# (small per-request allocations at less than half of glibc's cost). Test components, all started on 127.0.0.1 by the
# tests themselves: chromium drives the dashboard's browser test (via playwright-core); prometheus scrapes
# /metrics for real (and promtool checks the exposition); redis-server backs the multi-replica tests;
# docker-compose (Debian's 1.29, no Docker engine) validates docker/docker-compose.yml.
PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev nlohmann-json3-dev libspdlog-dev libyaml-cpp-dev libssl-dev ca-certificates
  libre2-dev libgtest-dev libgmock-dev libbenchmark-dev
  libhiredis-dev libmimalloc-dev
  nodejs npm chromium prometheus redis-server
  docker-compose
)
# --bench adds what bench/ needs (nginx for the stub and the floor, wrk for load); --fuzz adds clang 14
# and libFuzzer for the fuzz targets (fuzz/, scripts/fuzz.sh). Both may be given.
for arg in "$@"; do
  case "$arg" in
    --bench) PACKAGES+=(nginx wrk) ;;
    --fuzz) PACKAGES+=(clang libfuzzer-14-dev) ;;
    *) echo "usage: scripts/install-deps.sh [--bench] [--fuzz]" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${PACKAGES[@]}"; do
  # node and npm may come from outside Debian on a developer box; accept the commands.
  if [[ "$p" == nodejs ]] && command -v node >/dev/null 2>&1; then continue; fi
  if [[ "$p" == npm ]] && command -v npm >/dev/null 2>&1; then continue; fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
