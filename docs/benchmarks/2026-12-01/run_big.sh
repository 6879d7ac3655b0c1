#!/usr/bin/env bash
# vl2-small q4 and vl2-base q4 (README.md).
set -u
B=${DSVL2:-../../../build/tools/dsvl2}
M=${MODELS:-/work/models}
OUT=${OUT:-.}
$B bench --model $M/vl2-small-q4 --vision-tiles 0 --images '' --prompt-lengths 64 --batches 1,4,1 \
  --decode-steps 16 --format json > $OUT/vl2-small-q4.json
$B bench --model $M/vl2-base-q4 --vision-tiles 0 --images '' --prompt-lengths 32 --batches 1,1,4 \
  --decode-steps 16 --format json > $OUT/vl2-base-q4.json
