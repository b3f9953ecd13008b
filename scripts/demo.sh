#!/usr/bin/env bash
# One command: install what is needed, build, and run Switchyard on the demo config (mock models, no
# API keys) at http://127.0.0.1:8080. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
TARGET=switchyard scripts/build.sh -DSWITCHYARD_TESTS=OFF
exec build/switchyard --config config/demo.yaml
