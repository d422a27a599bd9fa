#!/usr/bin/python3
"""A Kazoo Election participant for the leader-election interop tests.

  kazoo_election_peer.py HOSTS PATH ID STATE_PATH TERMS WRITES

Runs client.Election(PATH, ID).run(term) TERMS times (0: until killed). Prints "READY" once connected,
starts on a line from stdin (a common start), and prints "DONE" at the end. A term, whose token is the
czxid of the lock node the Election holds (PATH/election.lock.node, named "<32 hex>__lock__<seq>"):
  TERM_BEGIN <token> <pid> <ns>
  WRITES transactions check(our node, -1) + set_data(STATE_PATH, "<token> <pid> <i>") (WRITES 0: until
  one is not committed or the session is not connected):
    WRITE <token> <mzxid of the set_data> <pid>   committed
    REFUSED <token> <pid>                         failed with an error result (e.g. our node is gone)
    UNKNOWN <token> <pid>                         outcome unknown (connection loss, session expiry):
                                                  the term stops writing
  TERM_END <token> <pid> <ns>                     just before the Election releases its lock
Times are time.monotonic_ns() (CLOCK_MONOTONIC), the clock of the other peers. Kazoo's Election uses a
plain Lock: it only counts "__lock__" nodes as contenders, not Curator's. Run it with /usr/bin/python3.
"""
import itertools
import os
import sys
import time

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import ConnectionLoss, OperationTimeoutError, SessionExpiredError


def main():
    if len(sys.argv) != 7:
        sys.stderr.write(__doc__)
        return 2
    hosts, path, ident, state_path = sys.argv[1:5]
    terms, writes = int(sys.argv[5]), int(sys.argv[6])
    pid = os.getpid()
    # ZKR_PEER_SESSION_MS: the benchmark's failover runs give every participant the same timeout.
    client = KazooClient(hosts=hosts, timeout=int(os.environ.get("ZKR_PEER_SESSION_MS", "6000")) / 1000)
    client.start(timeout=30)
    election = client.Election(path, ident)

    def term():
        node = path + "/" + election.lock.node  # Lock.node: our node's name while held (None after release)
        stat = client.exists(node)
        token = stat.czxid if stat else 0  # 0: our node is already gone
        print("TERM_BEGIN %d %d %d" % (token, pid, time.monotonic_ns()), flush=True)
        for i in itertools.count() if writes == 0 else range(writes):
            if i:
                time.sleep(0.002)
                if writes == 0 and client.state != KazooState.CONNECTED:
                    break
            tx = client.transaction()
            tx.check(node, -1)
            tx.set_data(state_path, ("%d %d %d" % (token, pid, i)).encode())
            try:
                results = tx.commit()  # [True, ZnodeStat], or exception instances on failure
            except (ConnectionLoss, SessionExpiredError, OperationTimeoutError):
                print("UNKNOWN %d %d" % (token, pid), flush=True)
                break
            if any(isinstance(r, Exception) for r in results):
                print("REFUSED %d %d" % (token, pid), flush=True)
                if writes == 0:
                    break
            else:
                print("WRITE %d %d %d" % (token, results[1].mzxid, pid), flush=True)
        print("TERM_END %d %d %d" % (token, pid, time.monotonic_ns()), flush=True)

    print("READY", flush=True)
    sys.stdin.readline()
    for _ in itertools.count() if terms == 0 else range(terms):
        election.run(term)
    print("DONE", flush=True)
    client.stop()
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
