#!/usr/bin/env bash
# The demo, from a fresh Debian machine: installs what is missing, builds, starts the 3-node ensemble
# (unless ZK_HOSTS names one), then shows the recipes at work and a summary you can check at a glance:
#   1. a session (examples/session_basics),
#   2. four `zkr lock` processes appending to one shared file under one distributed lock,
#   3. four processes incrementing one distributed counter.
# It stops what it started. Exit status 0 only if the summary holds.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ZKR_DEMO_ROUNDS:-5}        # lock acquisitions per process
INCREMENTS=${ZKR_DEMO_INCREMENTS:-50} # increments per process

scripts/install-deps.sh
cmake --preset dev >/dev/null
cmake --build --preset dev -j "$(nproc)" --target zkr session_basics >/dev/null
zkr=$PWD/build/dev/tools/zkr/zkr

started=0
if [[ -z "${ZK_HOSTS:-}" ]]; then
  rc=0
  docker/ensemble status >/dev/null 2>&1 || rc=$?
  if ((rc != 0)); then
    docker/ensemble up >&2
    ((rc == 1)) || started=1 # 1: it was running, degraded; `up` repaired it
  fi
  ZK_HOSTS=$(docker/ensemble hosts)
fi
export ZK_HOSTS
work=$(mktemp -d)
root=/zkrecipes-demo/run-$$-$RANDOM
cleanup() {
  rm -rf "$work"
  if ((started)); then docker/ensemble down; fi
}
trap cleanup EXIT

echo
echo "== 1. a session against $ZK_HOSTS"
build/dev/examples/session_basics

echo
echo "== 2. four zkr lock processes, $ROUNDS rounds each, appending to one file under $root/lock"
for p in 1 2 3 4; do
  (for _ in $(seq "$ROUNDS"); do
     "$zkr" lock "$root/lock" -- sh -c \
       'echo "begin $0 $ZKR_FENCING_TOKEN" >> "$1"; sleep 0.02; echo "end $0" >> "$1"' "p$p" "$work/shared.log"
   done) 2> "$work/lock-$p.err" &
done
wait
head -n 6 "$work/shared.log" | sed 's/^/   /'
echo "   ..."

echo
echo "== 3. four processes, $INCREMENTS increments each, on one counter $root/counter"
for p in 1 2 3 4; do
  (for _ in $(seq "$INCREMENTS"); do "$zkr" counter incr "$root/counter" >/dev/null; done) &
done
wait
count=$("$zkr" counter get "$root/counter")

# The summary: every begin is followed by its own end (no interleaving), tokens strictly increase.
read -r sections overlaps increasing < <(awk '
  $1 == "begin" { n++; if (open) bad++; open = 1; who = $2; if ($3 <= last) inc = "no"; last = $3 }
  $1 == "end"   { if (!open || $2 != who) bad++; open = 0 }
  END { print n + 0, bad + 0, (inc == "" ? "yes" : inc) }' "$work/shared.log")
expected_sections=$((4 * ROUNDS))
expected_count=$((4 * INCREMENTS))
echo
echo "== summary"
printf '   critical sections      %d (expected %d)\n' "$sections" "$expected_sections"
printf '   overlapping sections   %d\n' "$overlaps"
printf '   fencing tokens rising  %s\n' "$increasing"
printf '   counter value          %s (expected %d)\n' "$count" "$expected_count"
/usr/bin/python3 - "$root" <<'PY' || true
import os, sys
from kazoo.client import KazooClient
zk = KazooClient(hosts=os.environ["ZK_HOSTS"]); zk.start(timeout=15)
zk.delete(sys.argv[1], recursive=True)
zk.stop()
PY
if [[ $sections -eq $expected_sections && $overlaps -eq 0 && $increasing == yes && $count == "$expected_count" ]]; then
  echo "   OK"
else
  echo "   MISMATCH" >&2
  exit 1
fi
