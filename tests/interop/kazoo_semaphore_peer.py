#!/usr/bin/python3
"""A Kazoo Semaphore contender for the semaphore interop tests
(tests/integration/semaphore_interop_test.cpp).

  kazoo_semaphore_peer.py HOSTS PATH MAX contend COUNT HOLD_US   COUNT leases; one line per lease:
                                                  "hold <czxid> <pid> 0 <enter ns> <exit ns>"
  kazoo_semaphore_peer.py HOSTS PATH MAX hold     take a lease, print "HELD <czxid>", release on a
                                                  stdin line, print "RELEASED"
  kazoo_semaphore_peer.py HOSTS PATH MAX try MILLIS   print "ACQUIRED <czxid>" (then release),
                                                      "TIMEOUT", or "REFUSED <why>" (ValueError)

Times are time.monotonic_ns() (CLOCK_MONOTONIC). Prints "READY" once connected; `contend` then
starts on a line from stdin. Run it with /usr/bin/python3 (Debian's python3-kazoo).
"""
import os
import sys
import time

from kazoo.client import KazooClient
from kazoo.exceptions import LockTimeout


def main():
    if len(sys.argv) < 5:
        sys.stderr.write(__doc__)
        return 2
    hosts, path, max_leases, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    client = KazooClient(hosts=hosts, timeout=6.0)
    client.start(timeout=30)
    semaphore = client.Semaphore(path, "kazoo:%d" % os.getpid(), max_leases=max_leases)

    def token():
        return client.exists(semaphore.create_path).czxid

    print("READY", flush=True)
    if mode == "contend":
        count, hold_ns = int(sys.argv[5]), int(sys.argv[6]) * 1000
        sys.stdin.readline()
        lines = []
        for _ in range(count):
            semaphore.acquire()
            enter = time.monotonic_ns()
            czxid = token()
            while time.monotonic_ns() - enter < hold_ns:
                pass
            leave = time.monotonic_ns()
            semaphore.release()
            lines.append("hold %d %d 0 %d %d\n" % (czxid, os.getpid(), enter, leave))
        sys.stdout.write("".join(lines))
    elif mode == "hold":
        semaphore.acquire()
        print("HELD %d" % token(), flush=True)
        sys.stdin.readline()
        semaphore.release()
        print("RELEASED", flush=True)
    elif mode == "try":
        try:
            acquired = semaphore.acquire(timeout=int(sys.argv[5]) / 1000.0)
        except LockTimeout:
            acquired = False
        except ValueError as e:  # another maximum stored on the path
            print("REFUSED %s" % e, flush=True)
            acquired = None
        if acquired:
            print("ACQUIRED %d" % token(), flush=True)
            semaphore.release()
        elif acquired is False:
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
