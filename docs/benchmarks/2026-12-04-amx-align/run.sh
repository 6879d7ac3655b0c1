#!/bin/bash
# The vl2-tiny benchmarks of this directory at HEAD, in the order they ran (models from `dsvl2 synth
# --preset vl2-tiny [--dtype q8|q4]` in /work/models), then the session-level A/B rounds against
# 60e1f04 (the session's base, built in a worktree at $BASE). Run from the repository root. The
# per-change A/B rounds (ab-<change>-*.json) are ab.sh, see README.md.
set -e
B=${B:-./build/tools/dsvl2}
M=${MODELS:-/work/models}
O=docs/benchmarks/2026-12-04-amx-align
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
for p in high medium; do
  $B bench --model $M/vl2-tiny --matmul-precision $p --vision-tiles 1 --prompt-lengths 128 --batches 1 \
    --decode-steps 4 --format json > $O/vl2-tiny-ttft-$p.json
done
# Session level: the AVX-512 table without AMX (DSVL2_ISA=avx512), base then HEAD.
for side in A B; do
  bin=$B; [ "$side" = A ] && bin=${BASE:-/tmp/wt/build}/tools/dsvl2
  DSVL2_ISA=avx512 $bin bench --model $M/vl2-tiny --vision-tiles 2 --images '' --prompt-lengths 512 \
    --batches 1 --decode-steps 2 --format json > $O/session-avx512-$side.json
done
