#!/usr/bin/env bash
# The runs behind README.md (models from `dsvl2 synth --preset P [--dtype q8|q4]` in $MODELS).
set -u
B=${DSVL2:-../../../build/tools/dsvl2}
M=${MODELS:-/work/models}
OUT=${OUT:-.}
r=${ROUND:-r1}
common="--format json"
for m in vl2-tiny vl2-tiny-q8 vl2-tiny-q4; do
  $B bench --model $M/$m --vision-tiles 0 --images '' --prompt-lengths 128,512 --batches 1,4,16 \
    --decode-steps 32 $common > $OUT/$m.$r.json
done
$B bench --model $M/vl2-tiny-q8 --vision-tiles 0 --images '' --prompt-lengths 128 --batches 1,16,1,16 \
  --decode-steps 48 $common > $OUT/q8-b1-b16.$r.json
for p in high medium; do
  $B bench --model $M/vl2-tiny --matmul-precision $p --vision-tiles 2 --images '' --prompt-lengths 512 \
    --batches 1 --decode-steps 4 $common > $OUT/vl2-tiny-vision-$p.$r.json
done
DSVL2_ISA=avx512 $B bench --model $M/vl2-tiny --vision-tiles 2 --images '' --prompt-lengths 512 \
  --batches 1 --decode-steps 4 $common > $OUT/vl2-tiny-vision-avx512.$r.json
for p in high medium; do
  $B bench --model $M/vl2-tiny-q8 --matmul-precision $p --vision-tiles 1 --prompt-lengths 128 \
    --batches 1 --decode-steps 4 $common > $OUT/vl2-tiny-q8-ttft-$p.$r.json
done
