#!/bin/bash
for r in $(seq 1 8); do for v in old new; do for m in 1 4 16; do DSVL2_ISA=avx2 ./qmb_$v $m 2>&1 | grep q8_0 | grep -v lm_head | awk -v v=$v -v m=$m '{printf "%s m=%s %s_%s best %s\n",v,m,$1,$2,$6}'; done; done; done
