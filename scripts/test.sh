#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what is missing, builds with warnings as
# errors, brings the 3-node ensemble up (CTest fixture), runs every test, and brings it down again.
#
#   scripts/test.sh                 # everything (unit, integration, faults, examples, consumers,
#                                   # the Debian packages installed in a clean container)
#   scripts/test.sh -L unit         # extra arguments go to ctest
#   ZKR_TEST_HOSTS=h1:2181,... scripts/test.sh   # use your own ensemble instead of starting one
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
preset=${ZKR_PRESET:-ci}
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
# Integration tests kill and pause servers of the shared ensemble, so tests run one at a time.
ctest --preset "$preset" -j1 "$@"
