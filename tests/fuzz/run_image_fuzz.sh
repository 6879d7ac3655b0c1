#!/usr/bin/env bash
# Builds the libFuzzer target tests/fuzz/image_decode_fuzz.cc with clang++
# (-fsanitize=fuzzer,address,undefined), compiling the decoder sources directly (not through the
# main build), seeds it with the fixture PNGs plus tiny files of every format
# (make_image_seeds.cc), and fuzzes for a bounded time.
#
# Usage: run_image_fuzz.sh [work dir]       (default: $TMPDIR/dsvl2_image_fuzz)
# Environment: FUZZ_MAX_TIME (seconds, default 30), FUZZ_JOBS (parallel workers, default 1),
#              CLANGXX (default clang++), FUZZ_EXTRA_ARGS (more libFuzzer flags).
# Exit status: 0 when no crash was found, 77 (CTest "skipped") when clang++ is missing, otherwise
# the fuzzer's status; crash inputs are left in the work dir.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=${1:-${TMPDIR:-/tmp}/dsvl2_image_fuzz}
MAX_TIME=${FUZZ_MAX_TIME:-30}
JOBS=${FUZZ_JOBS:-1}
CLANGXX=${CLANGXX:-clang++}

if ! command -v "$CLANGXX" >/dev/null 2>&1; then
  echo "run_image_fuzz: $CLANGXX not found (scripts/setup.sh installs clang); skipping" >&2
  exit 77
fi

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
SRCS=("$ROOT"/src/io/image.cc "$ROOT"/src/io/image_*.cc "$ROOT"/src/io/mapped_file.cc
      "$ROOT"/src/vision/preprocess.cc "$ROOT"/src/vision/resample.cc)
LIBS=(-lpng -ljpeg -lwebp -lgif)
INC=(-I"$ROOT"/src -I"$ROOT"/tests)

echo "run_image_fuzz: building $WORK/image_decode_fuzz"
"$CLANGXX" -std=c++20 -O1 -g -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  "${INC[@]}" "$ROOT"/tests/fuzz/image_decode_fuzz.cc "${SRCS[@]}" "${LIBS[@]}" \
  -o "$WORK/image_decode_fuzz"
"$CLANGXX" -std=c++20 -O1 "${INC[@]}" "$ROOT"/tests/fuzz/make_image_seeds.cc "${LIBS[@]}" \
  -o "$WORK/make_image_seeds"

# Fresh seeds every run; the corpus of interesting inputs found so far is kept between runs.
rm -rf "$WORK/seeds"
mkdir -p "$WORK/seeds" "$WORK/corpus" "$WORK/artifacts"
"$WORK/make_image_seeds" "$WORK/seeds"
for f in "$ROOT"/tests/data/fixtures/*/images/*.png; do
  [ -e "$f" ] && cp "$f" "$WORK/seeds/$(basename "$(dirname "$(dirname "$f")")")_$(basename "$f")"
done

echo "run_image_fuzz: fuzzing for ${MAX_TIME}s"
PARALLEL=()
if [ "$JOBS" -gt 1 ]; then PARALLEL=(-jobs="$JOBS" -workers="$JOBS"); fi
cd "$WORK"  # libFuzzer writes fuzz-N.log files here in parallel mode
status=0
# shellcheck disable=SC2086  # FUZZ_EXTRA_ARGS is a list of flags
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1} \
  ./image_decode_fuzz -max_total_time="$MAX_TIME" -timeout=20 -rss_limit_mb=2560 \
  -max_len=65536 -print_final_stats=1 -artifact_prefix="$WORK/artifacts/" \
  "${PARALLEL[@]}" ${FUZZ_EXTRA_ARGS:-} corpus seeds || status=$?
if [ "$status" -ne 0 ]; then
  [ "$JOBS" -gt 1 ] && tail -n 40 fuzz-*.log >&2
  echo "run_image_fuzz: FAILED (status $status); inputs in $WORK/artifacts:" >&2
  ls -l "$WORK/artifacts" >&2
  exit "$status"
fi
echo "run_image_fuzz: no crash in ${MAX_TIME}s"
