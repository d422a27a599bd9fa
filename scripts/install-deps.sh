#!/usr/bin/env bash
# Install the Debian (bookworm) packages zkrecipes needs to build, test and benchmark. Idempotent:
# packages already installed are left alone, and `apt-get update` runs once, only if something is missing.
# Uses the machine's own apt sources. Run as root.
set -euo pipefail

PKGS=(
  cmake g++ make                 # build
  pkgconf                        # tests/consumer: a program built with pkg-config --cflags --libs
  dpkg-dev help2man              # scripts/package.sh: Debian packages (dpkg-shlibdeps), zkr.1
  doxygen                        # the docs target: API reference of the public headers
  libasio-dev                    # standalone Asio: tests of zkrecipes/asio.hpp, examples/asio_service
  clang-format clang-tidy        # .ci/run: formatting and lint (clang 14)
  clang libclang-rt-14-dev       # scripts/fuzz.sh: clang 14 with libFuzzer and the sanitizer runtimes
  libzookeeper-mt-dev            # ZooKeeper C client 3.8 (headers + libzookeeper_mt)
  zookeeper                      # server jars in /usr/share/java (jvm backend of docker/ensemble)
  openjdk-17-jdk-headless        # java + javac for the server and the Curator comparison programs
  libcurator-recipes-java        # Apache Curator 5.4 (interop tests, benchmarks)
  python3-kazoo                  # Kazoo 2.8 (interop tests, benchmarks)
  python3-matplotlib             # PNG plots of bench/run.sh (latency distributions, throughput)
  valgrind                       # bench/run.sh: client instructions per lock cycle (callgrind)
  docker.io docker-compose       # docker backend of docker/ensemble
  debootstrap                    # local base image (no image registry is reachable)
  iptables                       # partition faults on loopback (docker/ensemble isolate)
  procps util-linux coreutils    # ps/kill, setpriv/setsid, timeout
)

say() { printf 'install-deps: %s\n' "$*"; }

# No pipe into grep -q: it stops reading at the match, and pipefail would turn the writer's SIGPIPE
# into "not installed" (it did for docker.io's long description).
installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }

missing=()
for p in "${PKGS[@]}"; do
  installed "$p" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  say "all ${#PKGS[@]} packages present"
  exit 0
fi

if ((EUID != 0)); then
  say "missing: ${missing[*]}; run as root to install them" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp /tmp/install-deps.XXXXXX.log)
run() { # run CMD...: quiet, but show the tail of the log if it fails
  if ! "$@" >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    say "failed: $* (full log: $log)" >&2
    exit 1
  fi
}

say "apt-get update"
run apt-get update -q
say "installing ${missing[*]}"
run apt-get install -y -q --no-install-recommends "${missing[@]}"
rm -f "$log"
say "done"
