#!/usr/bin/env bash
# Builds Tern's libFuzzer targets (kafka/fuzz/, broker/group/fuzz/) with clang, ASan and UBSan
# in ./build-fuzz and runs each for SECONDS (default 60). The corpus starts from bodies that
# Apache Kafka's own client library encoded (tests/schema/KafkaMessageVectors.java; every
# fuzzer gets them, though only request_fuzzer reads them as such) and keeps what each finds
# in build-fuzz/fuzz/corpus/<fuzzer>. Exits non-zero if a fuzzer crashes; the input that did it
# is left in build-fuzz/fuzz/artifacts/ (replay: build-fuzz/<its folder>/<fuzzer> <file>).
#
# Usage: scripts/fuzz.sh [SECONDS]    needs clang and libclang-rt-14-dev (scripts/setup.sh)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

duration=${1:-60}
[[ $duration =~ ^[0-9]+$ ]] || die "usage: scripts/fuzz.sh [SECONDS]"
command -v clang++ >/dev/null || die "clang++ is missing: run scripts/setup.sh"
build=${TERN_FUZZ_BUILD:-$TERN_ROOT/build-fuzz}
work=$build/fuzz
fuzzers=()
declare -A fuzzer_dir  # fuzzer -> its folder, under the source tree and the build folder alike
for source in "$TERN_ROOT"/kafka/fuzz/*_fuzzer.cc "$TERN_ROOT"/broker/group/fuzz/*_fuzzer.cc; do
  name=$(basename "$source" .cc)
  fuzzers+=("$name")
  dir=$(dirname "$source")
  fuzzer_dir[$name]=${dir#"$TERN_ROOT"/}
done

if [ ! -f "$build/build.ninja" ]; then
  say "configuring $build (clang, -DTERN_FUZZ=ON)"
  CC=clang CXX=clang++ cmake -S "$TERN_ROOT" -B "$build" -G Ninja -DTERN_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
say "building ${fuzzers[*]} in $build"
cmake --build "$build" --target "${fuzzers[@]}" kafka_codec_roundtrip

say "seeding the corpus from Kafka-encoded message bodies"
seeds=$work/seeds
rm -rf "$seeds"
mkdir -p "$seeds" "$work/artifacts"
checker=$build/kafka/kafka_codec_roundtrip
mapfile -t ranges < <("$checker" --list)
java -cp "$TERN_KAFKA_LIBS/*" "$TERN_ROOT/tests/schema/KafkaMessageVectors.java" \
  "$work/vectors.txt" 1 "${ranges[@]}" 2>"$work/vectors.log" ||
  { cat "$work/vectors.log" >&2; die "KafkaMessageVectors.java failed"; }
"$checker" --corpus "$work/vectors.txt" "$seeds"

failed=()
for fuzzer in "${fuzzers[@]}"; do
  corpus=$work/corpus/$fuzzer
  mkdir -p "$corpus"
  say "running $fuzzer for ${duration}s"
  if ! "$build/${fuzzer_dir[$fuzzer]}/$fuzzer" -max_total_time="$duration" -timeout=10 \
      -print_final_stats=1 -artifact_prefix="$work/artifacts/$fuzzer-" "$corpus" "$seeds" \
      2>"$work/$fuzzer.log"; then
    failed+=("$fuzzer")
    tail -n 40 "$work/$fuzzer.log" >&2
  fi
  grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' \
    "$work/$fuzzer.log" >&2 || true
done

if [ ${#failed[@]} -gt 0 ]; then
  die "crashed: ${failed[*]} (inputs in $work/artifacts/, logs in $work/)"
fi
say "no crashes in ${fuzzers[*]} (${duration}s each)"
