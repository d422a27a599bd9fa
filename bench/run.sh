#!/usr/bin/env bash
# bench/run.sh — our recipes against the raw C client, Curator 5.4 and Kazoo 2.8, interleaved round by
# round on one ensemble. See bench/README.md.
#
#   bench/run.sh [--quick | --smoke] [--hosts H] [--build-dir DIR] [--out DIR] [--rounds N]
#                [--impls raw,ours,curator,kazoo] [--variant NAME=BINDIR] [--no-callgrind] [--publish]
#
#   (default)    full run, ≤ ~10 minutes
#   --quick      ≤ ~1 minute: fewer rounds, contenders 2/4/8, short windows
#   --smoke      a few seconds, tiny counts, no warm-up, no callgrind: keeps everything compiling and
#                working (the CTest test bench.smoke, label `bench`)
#   --hosts H    use the ensemble at H (else ZKR_TEST_HOSTS, else `docker/ensemble up` and its hosts)
#   --build-dir  use this build tree as it is (default: configure and build build/bench, Release)
#   --out DIR    results folder (default results/bench-<timestamp>)
#   --publish    also write the report to docs/benchmarks.md
#   --variant    also run another build's zkbench (BINDIR, e.g. a patched library) as implementation
#                NAME, interleaved with the others: an A/B test of a change to the recipes
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
command="bench/run.sh${*:+ $*}"

mode=full hosts=${ZKR_TEST_HOSTS:-} build_dir= out= publish=() pass=()
while (($#)); do
  case "$1" in
    --quick) mode=quick ;;
    --smoke) mode=smoke ;;
    --hosts) hosts=$2; shift ;;
    --build-dir) build_dir=$2; shift ;;
    --out) out=$2; shift ;;
    --publish) publish=(--publish "$root/docs/benchmarks.md") ;;
    --rounds | --impls | --variant) pass+=("$1" "$2"); shift ;;
    --no-callgrind) pass+=("$1") ;;
    -h | --help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

py=/usr/bin/python3 # Debian's python: it has Kazoo (the python3 first on PATH may not)
"$py" -c 'import kazoo' 2>/dev/null || { echo "bench: $py cannot import kazoo: run scripts/install-deps.sh" >&2; exit 1; }

if [[ -z "$build_dir" ]]; then
  build_dir=$root/build/bench
  echo "bench: building zkbench and the Curator worker in $build_dir" >&2
  log=$(mktemp /tmp/bench-build.XXXXXX.log)
  if ! { cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release &&
         cmake --build "$build_dir" -j"$(nproc)" --target zkbench zkbench_curator election_peer \
           CuratorLeaderPeer; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "bench: build failed (full log: $log)" >&2
    exit 1
  fi
  rm -f "$log"
fi
bin=$build_dir/bench
[[ -x "$bin/zkbench" ]] || { echo "bench: $bin/zkbench is missing (build the zkbench target)" >&2; exit 1; }

if [[ -z "$hosts" ]]; then
  "$root/docker/ensemble" up >&2
  hosts=$("$root/docker/ensemble" hosts)
fi
[[ -n "$out" ]] || out=$root/results/bench-$(date +%Y%m%d-%H%M%S)

echo "bench: mode $mode, ensemble $hosts, results in $out; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
rc=0
"$py" "$here/run.py" --mode "$mode" --hosts "$hosts" --bin "$bin" --out "$out" \
  --command "$command" "${publish[@]}" "${pass[@]}" || rc=$?
# Leader-election failover (bench/election.py), ours beside Curator and Kazoo.
case $mode in
  smoke) changes=4 ;;
  quick) changes=20 ;;
  *) changes=200 ;;
esac
"$py" "$here/election.py" --hosts "$hosts" --bin "$build_dir/bin" --changes "$changes" --out "$out" \
  "${publish[@]}" || rc=$?
exit $rc
