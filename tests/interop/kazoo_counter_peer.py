#!/usr/bin/python3
"""Interop peer for the counter tests: Kazoo's Counter (Debian's python3-kazoo 2.8, default ascii
encoding) on the same znode as zk::DistributedCounter with the ascii codec.

  kazoo_counter_peer.py get HOSTS PATH               -> prints "VALUE v" (Kazoo's reading)
  kazoo_counter_peer.py get_curator HOSTS PATH       -> the same with support_curator=True (int32)
  kazoo_counter_peer.py increment HOSTS PATH N GO    -> prints READY once watching GO; after GO
                                                        exists, N increments, then "VALUES v1 ..."
                                                        and "RESULT ok=N elapsed_ms=T"
Run it with /usr/bin/python3 (the interpreter that has Debian's kazoo).
"""
import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.retry import KazooRetry


def main(argv):
    if len(argv) < 4:
        print("usage: get|get_curator HOSTS PATH | increment HOSTS PATH N GO",
              file=sys.stderr)
        return 2
    mode, hosts, path = argv[1], argv[2], argv[3]
    # Kazoo's default command retry sleeps 0.1 s doubling: under contention with fast writers it
    # would starve. Retry forever (Counter raises on bad_version to be retried) with short delays.
    retry = KazooRetry(max_tries=-1, delay=0.002, backoff=2, max_jitter=0.5, max_delay=0.1)
    client = KazooClient(hosts=hosts, timeout=10.0, command_retry=retry)
    client.start(timeout=30)
    try:
        counter = client.Counter(path, support_curator=(mode == "get_curator"))
        if mode in ("get", "get_curator"):
            print("VALUE %d" % counter.value, flush=True)
            return 0
        count, go = int(argv[4]), argv[5]
        started = threading.Event()
        if client.exists(go, watch=lambda event: started.set()) is not None:
            started.set()
        print("READY", flush=True)
        if not started.wait(120):
            print("peer: start node never appeared", file=sys.stderr)
            return 4
        begin = time.monotonic()
        values = []
        for _ in range(count):
            counter += 1
            values.append(counter.post_value)
        ms = int((time.monotonic() - begin) * 1000)
        print("VALUES " + " ".join(str(v) for v in values), flush=True)
        print("RESULT ok=%d elapsed_ms=%d" % (count, ms), flush=True)
        return 0
    finally:
        client.stop()
        client.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
