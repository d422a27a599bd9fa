#!/usr/bin/env bash
# CTest fixture: brings the project's ensemble up before integration tests and down after them.
# With ZKR_TEST_HOSTS set, tests use that ensemble and this does nothing.
# With ZKR_KEEP_ENSEMBLE=1 the ensemble is left running after the tests (faster local iterations).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
controller="$here/../../docker/ensemble"
marker="${ZKR_STATE_DIR:-/tmp/zkrecipes-ensemble}/started-by-ctest"

if [[ -n "${ZKR_TEST_HOSTS:-}" ]]; then
  echo "using the ensemble at ZKR_TEST_HOSTS=$ZKR_TEST_HOSTS"
  exit 0
fi
case "${1:-}" in
  up)
    # status: 0 healthy, 1 running but degraded (up repairs it), anything else: not running.
    rc=0
    "$controller" status >/dev/null 2>&1 || rc=$?
    if ((rc == 0)); then
      echo "ensemble already running; leaving it running afterwards"
      "$controller" status
    elif ((rc == 1)); then
      echo "ensemble running but degraded; repairing it"
      "$controller" up
    else
      "$controller" up
      mkdir -p "$(dirname "$marker")" && touch "$marker"
    fi ;;
  down)
    if [[ -f "$marker" && "${ZKR_KEEP_ENSEMBLE:-0}" != 1 ]]; then
      rm -f "$marker"
      "$controller" down
    else
      echo "leaving the ensemble running"
    fi ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
