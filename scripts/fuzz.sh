#!/usr/bin/env bash
# Runs every libFuzzer target (tests/fuzz) for a bounded time under ASan+UBSan, from its seed corpus
# in the repository. New inputs go to build/fuzz/corpus/<target> (never into the repository); a
# finding stops the run with the crashing input in build/fuzz/findings/.
#
#   scripts/fuzz.sh                 # 60 s per target
#   scripts/fuzz.sh 600             # longer
#   scripts/fuzz.sh 60 -runs=10000000 -max_total_time=0   # extra arguments go to libFuzzer
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true

scripts/install-deps.sh
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"
mkdir -p build/fuzz/findings
for dir in tests/fuzz/corpus/*/; do
  target=$(basename "$dir")
  mkdir -p "build/fuzz/corpus/$target"
  echo "== $target (${seconds} s)"
  rc=0
  "build/fuzz/tests/fuzz/$target" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="build/fuzz/findings/$target-" "$@" \
    "build/fuzz/corpus/$target" "$dir" >"build/fuzz/$target.log" 2>&1 || rc=$?
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)' "build/fuzz/$target.log" || true
  if ((rc != 0)); then
    tail -n 40 "build/fuzz/$target.log"
    echo "fuzz: $target failed (exit $rc); inputs in build/fuzz/findings/, log build/fuzz/$target.log"
    exit 1
  fi
done
echo "== fuzzing passed"
