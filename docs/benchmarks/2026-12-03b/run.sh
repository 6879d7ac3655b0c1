#!/bin/bash
# The vl2-tiny benchmarks of this directory, in the order they ran (models from `dsvl2 synth
# --preset vl2-tiny [--dtype q8|q4]` in /work/models). Run from the repository root; BASE is a
# build of the commit before the AVX2 few-row kernel (6d1ead8), NEW this one.
set -e
BASE=${BASE:-/tmp/wt/build}
NEW=${NEW:-./build}
M=${MODELS:-/work/models}
O=docs/benchmarks/2026-12-03b
# A/B, alternated: ab-prefill-decode-{base,new}.r{1,2,3}.json (SKIP_AB=1: skip this part)
for r in $([ -n "$SKIP_AB" ] || echo 1 2 3); do
  for v in base new; do
    D=$NEW; [ $v = base ] && D=$BASE
    $D/tools/dsvl2 bench --model $M/vl2-tiny --vision-tiles 0 --images '' --prompt-lengths 128,512 \
      --batches 1 --decode-steps 16 --format json > $O/ab-prefill-decode-$v.r$r.json
  done
done
# A/B of the expert pieces over cold weights: moe_experts_bench-{base,new}.r{1,2}.txt
for r in 1 2; do
  for v in base new; do
    D=$NEW; [ $v = base ] && D=$BASE
    $D/bench/moe_experts_bench --rows 1,4,8,12,16,24,32,48 > $O/moe_experts_bench-$v.r$r.txt
  done
done
# The new binary's numbers.
for r in 1 2; do
  $NEW/tools/dsvl2 bench --model $M/vl2-tiny --vision-tiles 2 --images '' \
    --prompt-lengths 128,512,1024 --batches 1 --decode-steps 4 --format json > $O/vl2-tiny-vision-prefill.r$r.json
done
for r in 1 2; do
  for m in vl2-tiny vl2-tiny-q8 vl2-tiny-q4; do
    $NEW/tools/dsvl2 bench --model $M/$m --vision-tiles 0 --images '' --prompt-lengths 16 --batches 1,1 \
      --decode-steps 32 --format json > $O/$m-decode.r$r.json
  done
done
for r in 1 2; do
  $NEW/tools/dsvl2 bench --model $M/vl2-tiny-q8 --vision-tiles 0 --images '' --prompt-lengths 128 \
    --batches 1,16,1,16 --decode-steps 48 --format json > $O/q8-b1-b16.r$r.json
done
$NEW/tools/dsvl2 bench --model $M/vl2-tiny-q8 --vision-tiles 1 --prompt-lengths 128 \
  --batches 1 --decode-steps 4 --format json > $O/vl2-tiny-q8-ttft.json
