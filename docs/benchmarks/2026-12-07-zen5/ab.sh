#!/usr/bin/env bash
# Alternated A/B rounds of `dsvl2 bench` between two builds (A: BASE, the commit before this
# session's changes, built in a worktree; B: this checkout), the bench arguments given, written as
# ab-<label>-<A|B>.rN.json. Usage: BASE=/tmp/wt/build ROUNDS=2 ./ab.sh LABEL [extra bench args...]
# (DSVL2_ISA=avx512 in the environment for the table without AMX).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
label="$1"; shift
model="${MODEL:-/work/models/vl2-tiny}"
for r in $(seq 1 "${ROUNDS:-2}"); do
  for side in A B; do
    bin="$here/../../../build/tools/dsvl2"
    [ "$side" = A ] && bin="$BASE/tools/dsvl2"
    "$bin" bench --model "$model" --format json "$@" \
      > "$here/ab-$label-$side.r$r.json"
  done
done
