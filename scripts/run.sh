#!/usr/bin/env bash
# Build and run the main job. Without arguments: the bundled demo model and image.
# With arguments: they are passed to `dsvl2 run` (e.g. --model DIR --image a.jpg --prompt "...").
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
exec build/tools/dsvl2 inspect --model tests/data/fixtures/tiny-mha "$@"
