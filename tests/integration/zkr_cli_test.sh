#!/usr/bin/env bash
# zkr as an operator uses it: four shells serialise a command, --try answers at once, a killed holder lets
# the next one in, a lost lock terminates the command, four leaders run a command one at a time, bad
# data and unreachable ensembles give one line.
# Usage: zkr_cli_test.sh ZKR_BINARY CASE
set -uo pipefail
zkr=$1
case_name=$2
export ZK_HOSTS=${ZKR_TEST_HOSTS:-127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181}
work=$(mktemp -d)
root=/zkrt/cli-$RANDOM$RANDOM
pids=()
cleanup() {
  # A holder runs its command in a process group of its own: kill its whole session too.
  for p in "${pids[@]}"; do pkill -KILL -s "$p" 2>/dev/null; kill -9 -- "-$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
kazoo() { /usr/bin/python3 - "$@" <<PY
import sys
from kazoo.client import KazooClient
zk = KazooClient(hosts="$ZK_HOSTS"); zk.start(timeout=15)
$KAZOO
zk.stop()
PY
}
now_ms() { date +%s%3N; }

case "$case_name" in
serialises)
  # 4 shells at once, 5 rounds each; every critical section writes begin, sleeps, writes end.
  for s in 1 2 3 4; do
    (for r in 1 2 3 4 5; do
       "$zkr" lock "$root/l" -- sh -c 'echo "begin $$ $ZKR_FENCING_TOKEN" >> "$0"; sleep 0.05; echo "end $$" >> "$0"' "$work/log" || exit 1
     done) &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || fail "a shell's zkr lock failed"; done
  pids=()
  [[ $(wc -l < "$work/log") -eq 40 ]] || fail "expected 40 lines, got $(wc -l < "$work/log")"
  awk 'NR%2==1 { if ($1!="begin") bad=1; pid=$2; tok=$3; if (tok<=last) bad=2; last=tok }
       NR%2==0 { if ($1!="end" || $2!=pid) bad=3 }
       END { exit bad }' "$work/log" || fail "critical sections interleaved or tokens not increasing: $(cat "$work/log")"
  ;;
rwlock)
  # Two --read commands run at once; --write --try meanwhile exits 75; --write runs after both.
  # The readers read until $work/go exists (created once the checks below are done).
  for s in 1 2; do
    "$zkr" lock --read "$root/rw" -- sh -c 'echo "begin $$" >> "$0"; while [ ! -e "$1" ]; do sleep 0.05; done; echo "end $$" >> "$0"' "$work/log" "$work/go" &
    pids+=($!)
  done
  for _ in $(seq 100); do [[ $(grep -c begin "$work/log" 2>/dev/null) -eq 2 ]] && break; sleep 0.05; done
  [[ $(grep -c begin "$work/log") -eq 2 ]] || fail "the two readers did not read at once: $(cat "$work/log")"
  [[ $(grep -c end "$work/log") -eq 0 ]] || fail "a reader ended before the other began: $(cat "$work/log")"
  holders=$("$zkr" holders "$root/rw") || fail "zkr holders failed on a read-write lock"
  [[ $(grep -c '^\* .*__READ__' <<< "$holders") -eq 2 ]] || fail "zkr holders did not mark both readers: $holders"
  "$zkr" lock --write --try "$root/rw" -- echo should-not-run > "$work/out" 2> "$work/err"
  rc=$?
  [[ $rc -eq 75 ]] || fail "--write --try while reading exited $rc, expected 75"
  [[ ! -s $work/out ]] || fail "the writer ran while reading"
  grep -q "held by" "$work/err" || fail "no holder named: $(cat "$work/err")"
  touch "$work/go"
  "$zkr" lock --write "$root/rw" -- sh -c 'echo write >> "$0"' "$work/log" || fail "the writer failed"
  for p in "${pids[@]}"; do wait "$p" || fail "a reader's zkr lock failed"; done
  pids=()
  [[ $(tail -1 "$work/log") == write ]] || fail "the writer ran while reading: $(cat "$work/log")"
  "$zkr" lock --read --write "$root/rw" -- true 2> /dev/null
  rc=$?
  [[ $rc -eq 64 ]] || fail "--read --write exited $rc, expected 64"
  ;;
semaphore)
  # N=2: two commands run at once, a third --try exits 75 meanwhile, a waiting one runs after them.
  # The holders hold until $work/go exists (created once the checks below are done).
  for s in 1 2; do
    "$zkr" semaphore "$root/pool" 2 -- sh -c 'echo "begin $$" >> "$0"; while [ ! -e "$1" ]; do sleep 0.05; done; echo "end $$" >> "$0"' "$work/log" "$work/go" &
    pids+=($!)
  done
  for _ in $(seq 100); do [[ $(grep -c begin "$work/log" 2>/dev/null) -eq 2 ]] && break; sleep 0.05; done
  [[ $(grep -c begin "$work/log") -eq 2 ]] || fail "two leases of two were not held at once: $(cat "$work/log")"
  holders=$("$zkr" holders "$root/pool") || fail "zkr holders failed on a semaphore"
  [[ $(grep -c -- '-lease-' <<< "$holders") -eq 2 ]] || fail "zkr holders did not list both leases: $holders"
  "$zkr" semaphore --try "$root/pool" 2 -- echo should-not-run > "$work/out" 2> "$work/err"
  rc=$?
  [[ $rc -eq 75 ]] || fail "semaphore --try with every lease held exited $rc, expected 75"
  [[ ! -s $work/out ]] || fail "a third command ran with two leases of two held"
  grep -q "held by" "$work/err" || fail "no holder named: $(cat "$work/err")"
  touch "$work/go"
  "$zkr" semaphore "$root/pool" 2 -- sh -c 'echo third >> "$0"' "$work/log" || fail "the waiting command failed"
  for p in "${pids[@]}"; do wait "$p" || fail "a holder's zkr semaphore failed"; done
  pids=()
  [[ $(sed -n 3p "$work/log") == end* ]] || fail "the third command ran beside two others: $(cat "$work/log")"
  "$zkr" semaphore "$root/pool" 0 -- true 2> /dev/null
  rc=$?
  [[ $rc -eq 64 ]] || fail "semaphore N=0 exited $rc, expected 64"
  ;;
try)
  setsid "$zkr" lock "$root/l" -- sh -c 'echo held > "$0"; sleep 30' "$work/held" &
  pids+=($!)
  for _ in $(seq 100); do [[ -s $work/held ]] && break; sleep 0.1; done
  [[ -s $work/held ]] || fail "the first holder never got the lock"
  start=$(now_ms)
  "$zkr" lock --try "$root/l" -- echo should-not-run > "$work/out" 2> "$work/err"
  rc=$?
  took=$(( $(now_ms) - start ))
  [[ $rc -eq 75 ]] || fail "--try on a held lock exited $rc, expected 75"
  [[ ! -s $work/out ]] || fail "the command ran without the lock"
  grep -q "not acquired, held by" "$work/err" || fail "no holder named: $(cat "$work/err")"
  [[ $(wc -l < "$work/err") -eq 1 ]] || fail "more than one line on stderr: $(cat "$work/err")"
  (( took < 3000 )) || fail "--try took ${took} ms"
  ;;
killed-holder)
  # The holder's zkr and its command are killed with SIGKILL: its session times out (2 s) and the waiter
  # gets in within the session timeout + 1 s (plus the time to notice).
  setsid "$zkr" --session-timeout 2 lock "$root/l" -- sh -c 'echo held > "$0"; sleep 60' "$work/held" &
  holder=$!
  pids+=($holder)
  for _ in $(seq 100); do [[ -s $work/held ]] && break; sleep 0.1; done
  [[ -s $work/held ]] || fail "the first holder never got the lock"
  "$zkr" lock "$root/l" -- sh -c 'date +%s%3N > "$0"' "$work/second" 2> "$work/err" &
  waiter=$!
  pids+=($waiter)
  for _ in $(seq 50); do grep -q "waiting for" "$work/err" && break; sleep 0.1; done
  grep -q "waiting for $root/l, held by" "$work/err" || fail "the waiter did not say whom it waits for"
  killed=$(now_ms)
  kill -9 -- "-$holder"
  wait "$waiter" || fail "the waiter failed"
  got=$(cat "$work/second")
  (( got - killed < 2000 + 1000 + 1500 )) || fail "handover took $((got - killed)) ms"
  ;;
lost)
  # Someone deletes our lock node: the command is terminated and zkr exits 76.
  "$zkr" lock --grace 1 "$root/l" -- sh -c 'trap "echo term > $0; exit 0" TERM; echo held > "$0.held"; while :; do sleep 0.1; done' "$work/term" 2> "$work/err" &
  holder=$!
  pids+=($holder)
  for _ in $(seq 100); do [[ -s $work/term.held ]] && break; sleep 0.1; done
  [[ -s $work/term.held ]] || fail "never held"
  KAZOO="[zk.delete('$root/l/' + c) for c in zk.get_children('$root/l')]" kazoo
  wait "$holder"
  rc=$?
  [[ $rc -eq 76 ]] || fail "expected exit 76 after the lock was lost, got $rc: $(cat "$work/err")"
  [[ $(cat "$work/term") == term ]] || fail "the command did not get SIGTERM"
  grep -q "lost while the command ran" "$work/err" || fail "no loss message: $(cat "$work/err")"
  ;;
group)
  # The command is a shell whose own children do the work (the nightly-job.sh pattern): losing the
  # lock, or SIGTERM to zkr, must stop them too, not only the shell; and a background job the command
  # leaves behind must not outlive the lock.
  worker='sleep 300 & echo $! > "$0.pid"; echo held > "$0.held"; wait'
  for how in lost sigterm leftover; do
    rm -f "$work/g".*
    if [[ $how == leftover ]]; then
      "$zkr" lock --grace 1 "$root/l" -- sh -c 'sleep 300 & echo $! > "$0.pid"; echo held > "$0.held"' "$work/g" 2> "$work/err" &
    else
      "$zkr" lock --grace 1 "$root/l" -- sh -c "$worker" "$work/g" 2> "$work/err" &
    fi
    holder=$!
    pids+=($holder)
    for _ in $(seq 100); do [[ -s $work/g.held && -s $work/g.pid ]] && break; sleep 0.1; done
    [[ -s $work/g.held ]] || fail "$how: never held"
    grandchild=$(cat "$work/g.pid")
    case $how in
    lost) KAZOO="[zk.delete('$root/l/' + c) for c in zk.get_children('$root/l')]" kazoo ;;
    sigterm) kill -TERM "$holder" ;;
    esac
    wait "$holder"
    rc=$?
    case $how in
    lost) [[ $rc -eq 76 ]] || fail "lost: expected exit 76, got $rc: $(cat "$work/err")" ;;
    sigterm) [[ $rc -eq 143 ]] || fail "sigterm: expected 143 (the shell died of SIGTERM), got $rc" ;;
    leftover) grep -q "terminated before the lock was released" "$work/err" || fail "leftover: not reported: $(cat "$work/err")" ;;
    esac
    # zkr has returned: the command's child must be gone already, not merely on its way.
    if kill -0 "$grandchild" 2>/dev/null; then
      kill -9 "$grandchild"
      fail "$how: the command's child $grandchild outlived zkr (reparented, running without the lock)"
    fi
  done
  [[ -z $(KAZOO="print(','.join(zk.get_children('$root/l')) if zk.exists('$root/l') else '')" kazoo) ]] ||
    fail "a lock node was left behind"
  ;;
leader)
  # Four machines in miniature run `zkr leader --requeue`: the command runs on exactly one at a time,
  # each term with a larger ZKR_LEADER_TERM; kill -9 of the leading machine hands over within the
  # session timeout + 1 s (plus the time to notice); SIGTERM ends them all and leaves no node.
  job='echo "begin $0 $ZKR_LEADER_TERM" >> "$1"; sleep 0.2; echo "end $0" >> "$1"'
  declare -A machine
  for m in m1 m2 m3 m4; do
    setsid "$zkr" --session-timeout 2 leader --requeue --id "$m" "$root/e" -- sh -c "$job" "$m" "$work/log" 2>> "$work/err" &
    machine[$m]=$!
    pids+=($!)
  done
  for _ in $(seq 200); do (( $(grep -c begin "$work/log" 2>/dev/null || echo 0) >= 8 )) && break; sleep 0.1; done
  (( $(grep -c begin "$work/log") >= 8 )) || fail "fewer than 8 terms in 20 s: $(cat "$work/log" "$work/err")"
  "$zkr" leader --show "$root/e" > "$work/show" || fail "--show failed"
  # One machine may be between leaving and joining again (one round trip per term): 3 or 4.
  n=$(grep -c . "$work/show")
  [[ $n -ge 3 && $n -le 4 && $(grep -c '^\*' "$work/show") -le 1 ]] || fail "--show: $(cat "$work/show")"
  # Kill the machine that is running the command right now.
  for _ in $(seq 100); do last=$(tail -n 1 "$work/log"); [[ $last == begin* ]] && break; sleep 0.02; done
  [[ $last == begin* ]] || fail "no running term to kill"
  victim=$(awk '{print $2}' <<< "$last")
  before=$(grep -c begin "$work/log")
  killed=$(now_ms)
  pkill -KILL -s "${machine[$victim]}"
  wait "${machine[$victim]}" 2>/dev/null
  for _ in $(seq 100); do (( $(grep -c begin "$work/log") > before )) && break; sleep 0.05; done
  took=$(( $(now_ms) - killed ))
  (( $(grep -c begin "$work/log") > before )) || fail "no new leader after the leader was killed"
  (( took < 2000 + 1000 + 1500 )) || fail "handover took $took ms"
  for m in "${!machine[@]}"; do [[ $m == "$victim" ]] || kill -TERM "${machine[$m]}"; done
  for m in "${!machine[@]}"; do [[ $m == "$victim" ]] || wait "${machine[$m]}"; done
  pids=()
  # Terms never overlap (only the killed one has no end) and their tokens increase.
  awk -v victim="$victim" '
    $1=="begin" { if (open != "" && open != victim) bad=1; if ($3 <= last) bad=2; last=$3; open=$2 }
    $1=="end"   { if ($2 != open) bad=3; open="" }
    END { exit bad }' "$work/log" || fail "two machines ran the command at once, or terms did not increase: $(cat "$work/log")"
  # The victim may have been killed while queued, not leading: its node goes when its session
  # expires (2 s); every other machine deleted its own before exiting.
  for _ in $(seq 12); do
    left=$(KAZOO="print(','.join(zk.get_children('$root/e')) if zk.exists('$root/e') else '')" kazoo)
    [[ -z $left ]] && break
    sleep 0.5
  done
  [[ -z $left ]] || fail "an election node was left behind: $left"
  ;;
leader-lost)
  # Someone deletes the leader's node: the command is terminated and zkr exits 76.
  "$zkr" leader --grace 1 "$root/e" -- sh -c 'trap "echo term > $0; exit 0" TERM; echo "$ZKR_LEADER_TERM" > "$0.held"; while :; do sleep 0.1; done' "$work/term" 2> "$work/err" &
  leader=$!
  pids+=($leader)
  for _ in $(seq 100); do [[ -s $work/term.held ]] && break; sleep 0.1; done
  [[ -s $work/term.held ]] || fail "never led"
  (( $(cat "$work/term.held") > 0 )) || fail "no ZKR_LEADER_TERM"
  KAZOO="[zk.delete('$root/e/' + c) for c in zk.get_children('$root/e')]" kazoo
  wait "$leader"
  rc=$?
  [[ $rc -eq 76 ]] || fail "expected exit 76 after leadership was lost, got $rc: $(cat "$work/err")"
  [[ $(cat "$work/term") == term ]] || fail "the command did not get SIGTERM"
  grep -q "leadership of $root/e lost while the command ran" "$work/err" || fail "no loss message: $(cat "$work/err")"
  "$zkr" leader "$root/e" 2> "$work/err"; [[ $? -eq 64 ]] || fail "zkr leader without a command did not exit 64"
  ;;
counter)
  for i in 1 2 3 4; do (for _ in $(seq 10); do "$zkr" counter incr "$root/c" > /dev/null || exit 1; done) & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || fail "an increment failed"; done
  pids=()
  [[ $("$zkr" counter get "$root/c") == 40 ]] || fail "count is $("$zkr" counter get "$root/c"), expected 40"
  "$zkr" counter cas 40 100 "$root/c" > /dev/null || fail "cas 40->100 refused"
  "$zkr" counter cas 40 0 "$root/c" > /dev/null; [[ $? -eq 1 ]] || fail "a stale cas did not exit 1"
  [[ $("$zkr" counter --codec ascii add -5 "$root/a") == -5 ]] || fail "ascii add"
  "$zkr" counter set 9223372036854775807 "$root/max" > /dev/null || fail "set INT64_MAX"
  "$zkr" counter incr "$root/max" > /dev/null 2> "$work/err"
  rc=$?
  [[ $rc -eq 65 ]] || fail "an overflowing increment exited $rc, expected 65: $(cat "$work/err")"
  [[ $("$zkr" counter get "$root/max") == 9223372036854775807 ]] || fail "the overflow changed the value"
  KAZOO="zk.create('$root/g', b'hello', makepath=True)" kazoo
  "$zkr" counter incr "$root/g" > "$work/out" 2> "$work/err"
  rc=$?
  [[ $rc -eq 65 ]] || fail "garbage data exited $rc, expected 65"
  [[ $(wc -l < "$work/err") -eq 1 ]] && grep -q "$root/g" "$work/err" || fail "not one line naming the path: $(cat "$work/err")"
  KAZOO="assert zk.get('$root/g')[0] == b'hello', 'garbage overwritten'" kazoo || fail "the garbage was overwritten"
  ;;
unreachable)
  start=$(now_ms)
  "$zkr" --hosts 127.0.0.1:9 --connect-timeout 1 counter get /x 2> "$work/err"
  rc=$?
  [[ $rc -eq 69 ]] || fail "unreachable ensemble exited $rc, expected 69"
  [[ $(wc -l < "$work/err") -eq 1 ]] || fail "not one line: $(cat "$work/err")"
  (( $(now_ms) - start < 5000 )) || fail "took too long"
  "$zkr" lock 2> "$work/err"; [[ $? -eq 64 ]] || fail "bad arguments did not exit 64"
  for hosts in garbage 127.0.0.1:abc 127.0.0.1:99999 ,; do
    "$zkr" --hosts "$hosts" counter get /x 2> "$work/err"
    rc=$?
    [[ $rc -eq 64 ]] || fail "--hosts $hosts exited $rc, expected 64: $(cat "$work/err")"
    [[ $(wc -l < "$work/err") -eq 1 ]] || fail "--hosts $hosts: not one line: $(cat "$work/err")"
  done
  ;;
*) fail "unknown case $case_name" ;;
esac
KAZOO="zk.delete('$root', recursive=True) if zk.exists('$root') else None" kazoo
echo "PASS: $case_name"
