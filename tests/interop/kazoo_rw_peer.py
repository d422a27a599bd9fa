#!/usr/bin/python3
"""A Kazoo WriteLock/ReadLock contender for the read-write lock interop tests
(tests/integration/rwlock_interop_test.cpp).

  kazoo_rw_peer.py HOSTS PATH contend COUNT HOLD_US   COUNT writes (WriteLock); one line per hold:
                                                     "hold <czxid> <pid> 0 <enter ns> <exit ns>"
  kazoo_rw_peer.py HOSTS PATH try-write MILLIS        print "ACQUIRED <czxid>" (then release) or "TIMEOUT"
  kazoo_rw_peer.py HOSTS PATH hold-read               ReadLock, print "HELD <czxid>", release on a stdin line

Kazoo 2.8's ReadLock waits for the highest writer of the path, also a later one (kazoo#649): a
reader queued while a later writer waits for it deadlocks. The contend mode therefore only writes,
and hold-read is used where no writer is queued. Times are time.monotonic_ns() (CLOCK_MONOTONIC).
Prints "READY" once connected; `contend` then starts on a line from stdin. Run it with
/usr/bin/python3 (Debian's python3-kazoo).
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
    ident = "kazoo:%d" % os.getpid()
    writer = client.WriteLock(path, ident)
    reader = client.ReadLock(path, ident)

    def token(lock):
        return client.exists(path + "/" + lock.node).czxid

    print("READY", flush=True)
    if mode == "contend":
        count, hold_ns = int(sys.argv[4]), int(sys.argv[5]) * 1000
        sys.stdin.readline()
        lines = []
        for _ in range(count):
            writer.acquire()
            enter = time.monotonic_ns()
            czxid = token(writer)
            while time.monotonic_ns() - enter < hold_ns:
                pass
            leave = time.monotonic_ns()
            writer.release()
            lines.append("hold %d %d 0 %d %d\n" % (czxid, os.getpid(), enter, leave))
        sys.stdout.write("".join(lines))
    elif mode == "try-write":
        try:
            acquired = writer.acquire(timeout=int(sys.argv[4]) / 1000.0)
        except LockTimeout:  # Kazoo 2.8 raises instead of returning False
            acquired = False
        if acquired:
            print("ACQUIRED %d" % token(writer), flush=True)
            writer.release()
        else:
            print("TIMEOUT", flush=True)
    elif mode == "hold-read":
        reader.acquire()
        print("HELD %d" % token(reader), flush=True)
        sys.stdin.readline()
        reader.release()
        print("RELEASED", flush=True)
    else:
        sys.stderr.write("unknown mode %s\n" % mode)
        return 2
    print("DONE", flush=True)
    client.stop()
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
