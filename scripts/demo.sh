#!/usr/bin/env bash
# The demo, from a fresh Debian machine: installs what is missing, builds, starts the 3-node ensemble
# (unless ZK_HOSTS names one), runs the recipes against it, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset dev >/dev/null
cmake --build --preset dev -j "$(nproc)" --target session_basics

started=0
if [[ -z "${ZK_HOSTS:-}" ]]; then
  if ! docker/ensemble status >/dev/null 2>&1; then
    docker/ensemble up
    started=1
  fi
  ZK_HOSTS=$(docker/ensemble hosts)
  export ZK_HOSTS
fi
cleanup() { if ((started)); then docker/ensemble down; fi; }
trap cleanup EXIT

echo "== session_basics against $ZK_HOSTS"
build/dev/examples/session_basics
