#!/usr/bin/env bash
# The Debian packages as a user gets them: scripts/package.sh builds them, then a clean container
# of the ensemble's debootstrap base image (plus a compiler, cached as an image of its own) installs
# them with `apt-get install ./*.deb`, which must pull in the C client by the packages' own
# dependencies. There: zkr runs and has its man page, and tests/consumer builds and runs against
# the installed library with pkg-config alone and with find_package.
#
#   tests/package/deb_install.sh BUILD_DIR
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(realpath -m "${1:?usage: $0 BUILD_DIR}")
cd "$src"

scripts/package.sh "$dir"
version=$(sed -n 's/^project(zkrecipes VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)

base=$(docker/ensemble base)
tools=(g++ make cmake pkgconf)
image=zkrecipes/bookworm-toolchain:latest
want=$(printf '%s\n' "$base" "${tools[@]}" | sha256sum | cut -c1-16)
have=$(docker image inspect -f '{{index .Config.Labels "zkrecipes.src"}}' "$image" 2>/dev/null || true)
if [[ $have != "$want" ]]; then
  echo "deb_install: making $image (${tools[*]} on $base)"
  name=zkr-toolchain-$$
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker run --name "$name" --network host "$base" bash -euc "
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o Acquire::Check-Valid-Until=false update -qq
    apt-get install -y -qq --no-install-recommends ${tools[*]} >/dev/null
    apt-get clean"
  docker commit --change "LABEL zkrecipes.src=$want" "$name" "$image" >/dev/null
  docker rm "$name" >/dev/null
fi

docker run --rm --network host -v "$dir/packages:/debs:ro" -v "$src/tests/consumer:/consumer:ro" \
  -e VERSION="$version" "$image" bash -euxc '
  export DEBIAN_FRONTEND=noninteractive
  test -z "$(dpkg -l | grep -E "zookeeper|zkrecipes" || true)"   # clean: nothing of ours or the C client yet
  apt-get -o Acquire::Check-Valid-Until=false update -qq
  apt-get install -y -qq --no-install-recommends /debs/*.deb >/dev/null
  dpkg -s libzookeeper-mt2 | grep -q "^Status: install ok installed"   # pulled in by libzkrecipes0
  test "$(zkr --version)" = "zkr (zkrecipes) $VERSION"
  man_page=$(dpkg -L zkr | grep "/man1/zkr\.1")
  zcat -f "$man_page" | grep -q "ZK_HOSTS"   # the help text made it into the page
  test "$(pkg-config --modversion zkrecipes)" = "$VERSION"
  g++ -std=c++17 /consumer/main.cpp -o /tmp/pc-consumer $(pkg-config --cflags --libs zkrecipes)
  /tmp/pc-consumer
  cmake -S /consumer -B /tmp/cmake-consumer >/dev/null
  cmake --build /tmp/cmake-consumer >/dev/null
  /tmp/cmake-consumer/consumer
  apt-get remove -y -qq libzkrecipes0 >/dev/null   # takes the -dev package and zkr with it
  test -z "$(dpkg -l | grep -E "^ii +(libzkrecipes|zkr )" || true)"
'
echo "deb_install: the packages install, zkr runs, and the consumer builds with pkg-config and CMake"
