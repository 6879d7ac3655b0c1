#!/bin/bash
# The vl2-tiny benchmarks of this directory at HEAD, in the order they ran (models from `dsvl2 synth
# --preset vl2-tiny [--dtype q8|q4]` in /work/models). Run from the repository root. The A/B rounds
# against the session's base commit are ab.sh (see README.md).
set -e
B=${B:-./build/tools/dsvl2}
M=${MODELS:-/work/models}
O=docs/benchmarks/2026-12-04
for r in 1 2; do
  for p in high medium; do
    $B bench --model $M/vl2-tiny --matmul-precision $p --vision-tiles 2 --images '' \
      --prompt-lengths 128,512,1024 --batches 1 --decode-steps 4 --format json > $O/vl2-tiny-vision-$p.r$r.json
  done
done
for r in 1 2; do
  for m in vl2-tiny vl2-tiny-q8 vl2-tiny-q4; do
    $B bench --model $M/$m --vision-tiles 0 --images '' --prompt-lengths 16 --batches 1,1 \
      --decode-steps 32 --format json > $O/$m-decode.r$r.json
  done
done
$B bench --model $M/vl2-tiny-q8 --vision-tiles 0 --images '' --prompt-lengths 128 \
  --batches 1,16,1,16 --decode-steps 48 --format json > $O/q8-b1-b16.json
$B bench --model $M/vl2-tiny --vision-tiles 1 --prompt-lengths 128 --batches 1 --decode-steps 4 \
  --format json > $O/vl2-tiny-ttft.json
DSVL2_ISA=avx512 ./build/bench/moe_experts_bench --rows 1,4,8,12,16,24,32,48,64 > $O/moe_experts_bench-avx512.txt
