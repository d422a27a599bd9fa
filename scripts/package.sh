#!/usr/bin/env bash
# Builds the Debian packages of zkrecipes: libzkrecipes0 (the shared library), libzkrecipes-dev
# (headers, CMake package, zkrecipes.pc) and zkr (the tool and its man page), for /usr.
#
#   scripts/package.sh [BUILD_DIR]      # default build/package; the .debs land in BUILD_DIR/packages
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/package}

cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DCMAKE_INSTALL_PREFIX=/usr \
  -DZKR_WARNINGS_AS_ERRORS=ON -DZKR_BUILD_TESTS=OFF -DZKR_BUILD_EXAMPLES=OFF -DZKR_BUILD_BENCH=OFF \
  >/dev/null
cmake --build "$dir" -j "$(nproc)"
rm -rf "$dir/packages"
(cd "$dir" && cpack -G DEB >/dev/null)
ls "$dir"/packages/*.deb
