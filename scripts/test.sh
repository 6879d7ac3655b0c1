#!/usr/bin/env bash
# Build everything and run all tests (CTest; labels: unit, golden, fuzz, tool, server).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
cd build
ctest --output-on-failure -j"$(nproc)" "$@"
