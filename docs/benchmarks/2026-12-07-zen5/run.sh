#!/bin/bash
# The vl2-tiny benchmarks of this directory at HEAD, in the order they ran (models from `dsvl2 synth
# --preset vl2-tiny [--dtype q8|q4]` in /work/models). Run from the repository root. The A/B rounds
# of the decode change (ab-decode-bf16-*.json) are ab.sh against the session's base, see README.md.
set -e
B=${B:-./build/tools/dsvl2}
M=${MODELS:-/work/models}
O=docs/benchmarks/2026-12-07-zen5
for p in high medium; do
  $B bench --model $M/vl2-tiny --matmul-precision $p --vision-tiles 2 --images '' \
    --prompt-lengths 128,512,1024 --batches 1 --decode-steps 4 --format json > $O/vl2-tiny-vision-$p.json
done
for m in vl2-tiny-q8 vl2-tiny-q4; do
  $B bench --model $M/$m --vision-tiles 0 --images '' --prompt-lengths 128,512 --batches 1 \
    --decode-steps 4 --format json > $O/$m-prefill.json
done
for m in vl2-tiny vl2-tiny-q8 vl2-tiny-q4; do
  $B bench --model $M/$m --vision-tiles 0 --images '' --prompt-lengths 16 --batches 1,1 \
    --decode-steps 32 --format json > $O/$m-decode.json
done
$B bench --model $M/vl2-tiny-q8 --vision-tiles 0 --images '' --prompt-lengths 128 \
  --batches 1,16,1,16 --decode-steps 48 --format json > $O/q8-b1-b16.json
for p in high medium; do
  $B bench --model $M/vl2-tiny --matmul-precision $p --vision-tiles 1 --prompt-lengths 128 --batches 1 \
    --decode-steps 4 --format json > $O/vl2-tiny-ttft-$p.json
done
