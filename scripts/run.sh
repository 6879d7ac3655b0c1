#!/usr/bin/env bash
# Build and run the main job: `dsvl2 run`. Without arguments it uses the bundled demo model
# (random weights) and demo image; arguments are passed to `dsvl2 run`, e.g.
#   ./scripts/run.sh --model /path/to/deepseek-vl2-tiny --image photo.jpg --prompt "What is this?"
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh >&2
exec build/tools/dsvl2 run "$@"
