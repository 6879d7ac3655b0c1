#!/usr/bin/env bash
# vl2-small q4 / q8 and vl2-base q4 (models from `dsvl2 synth --preset vl2-small|vl2-base --dtype
# q4|q8` in /work/models). Run from the repository root.
set -u
B=${B:-./build/tools/dsvl2}
M=${MODELS:-/work/models}
O=docs/benchmarks/2026-12-02c
$B bench --model $M/vl2-small-q4 --vision-tiles 0 --images '' --prompt-lengths 64 --batches 1,4,1 \
  --decode-steps 16 --format json > $O/vl2-small-q4.json
$B bench --model $M/vl2-small-q8 --vision-tiles 0 --images '' --prompt-lengths 64 --batches 1,4,1 \
  --decode-steps 16 --format json > $O/vl2-small-q8.json
$B bench --model $M/vl2-base-q4 --vision-tiles 0 --images '' --prompt-lengths 32 --batches 1,1,4 \
  --decode-steps 16 --format json > $O/vl2-base-q4.json
