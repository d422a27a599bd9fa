#!/usr/bin/python3
"""A Kazoo Lock contender for the lock interop tests (tests/integration/lock_interop_test.cpp).

  kazoo_lock_peer.py HOSTS PATH contend COUNT HOLD_US  acquire/release COUNT times; one line per hold:
                                                      "hold <czxid> <pid> 0 <enter ns> <exit ns>"
  kazoo_lock_peer.py HOSTS PATH hold                   acquire, print "HELD <czxid>", release on a stdin line
  kazoo_lock_peer.py HOSTS PATH try MILLIS             print "ACQUIRED <czxid>" (then release) or "TIMEOUT"

extra_lock_patterns=["-lock-"] makes Kazoo count Curator-form nodes (ours) as contenders. Times are
time.monotonic_ns() (CLOCK_MONOTONIC), the clock of the other peers' records. Prints "READY" once
connected; `contend` then starts on a line from stdin. Run it with /usr/bin/python3 (Debian's python3-kazoo).
"""
import os
import sys
import time

from kazoo.client import KazooClient
from kazoo.exceptions import LockTimeout


def main():
    if len(sys.argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    hosts, path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    client = KazooClient(hosts=hosts, timeout=6.0)
    client.start(timeout=30)
    lock = client.Lock(path, "kazoo:%d" % os.getpid(), extra_lock_patterns=["-lock-"])

    def token():
        return client.exists(path + "/" + lock.node).czxid

    print("READY", flush=True)
    if mode == "contend":
        count, hold_ns = int(sys.argv[4]), int(sys.argv[5]) * 1000
        sys.stdin.readline()  # a common start with the other contenders
        lines = []
        for _ in range(count):
            lock.acquire()
            enter = time.monotonic_ns()
            czxid = token()
            while time.monotonic_ns() - enter < hold_ns:
                pass
            leave = time.monotonic_ns()
            lock.release()
            lines.append("hold %d %d 0 %d %d\n" % (czxid, os.getpid(), enter, leave))
        sys.stdout.write("".join(lines))
    elif mode == "hold":
        lock.acquire()
        print("HELD %d" % token(), flush=True)
        sys.stdin.readline()
        lock.release()
        print("RELEASED", flush=True)
    elif mode == "try":
        try:
            acquired = lock.acquire(timeout=int(sys.argv[4]) / 1000.0)
        except LockTimeout:  # Kazoo 2.8 raises instead of returning False
            acquired = False
        if acquired:
            print("ACQUIRED %d" % token(), flush=True)
            lock.release()
        else:
            print("TIMEOUT", flush=True)
    else:
        sys.stderr.write("unknown mode %s\n" % mode)
        return 2
    print("DONE", flush=True)
    client.stop()
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
