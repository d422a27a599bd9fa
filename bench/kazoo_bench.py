#!/usr/bin/python3
"""The Kazoo 2.8 worker of bench/run.sh: the same line protocol as zkbench (see bench/README.md),
with kazoo.recipe.lock.Lock for the lock scenarios, kazoo.recipe.counter.Counter for the counter,
ReadLock and Semaphore for the read and semaphore scenarios.

    /usr/bin/python3 kazoo_bench.py HOSTS

Times are time.monotonic_ns() (CLOCK_MONOTONIC), the clock of the other workers. The client's command
retry (which Counter uses after a conflict) is set to 2 ms doubling up to 250 ms with full jitter, the
closest KazooRetry gets to our default policy (Kazoo's own default starts at 100 ms).
"""
import json
import logging
import sys
import threading
import time

from kazoo.client import KazooClient

RETRY = dict(max_tries=-1, delay=0.002, backoff=2, max_jitter=1.0, max_delay=0.25)


def connect(hosts):
    client = KazooClient(hosts=hosts, timeout=10.0, command_retry=RETRY)
    client.start(timeout=30)
    return client


def sid(client):
    cid = client.client_id  # None while (re)connecting
    return "%x" % cid[0] if cid else "0"


def reply(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def sleep_until(ns):
    left = ns - time.monotonic_ns()
    if left > 0:
        time.sleep(left / 1e9)


def read_go():
    words = sys.stdin.readline().split()
    if not words or words[0] != "go":
        raise RuntimeError("expected go, got %r" % words)
    return int(words[1]), int(words[2])


def lock_loop(lock, end, holds):
    now = time.monotonic_ns
    while now() < end:
        lock.acquire()
        acquired = now()
        released = now()
        lock.release()
        holds.append(acquired)
        holds.append(released)


class CountingCounter:
    """A kazoo Counter that counts its write attempts (each _inner_change call is one get + set)."""

    def __init__(self, client, path):
        self.counter = client.Counter(path)
        self.tries = 0
        inner = self.counter._inner_change

        def counted(value):
            self.tries += 1
            return inner(value)

        self.counter._inner_change = counted

    def incr(self):
        before = self.tries
        self.counter += 1
        return self.tries - before


class Worker:
    def __init__(self, hosts):
        self.hosts = hosts
        self.main = connect(hosts)
        self.extra = []

    def sessions(self):
        return [sid(self.main)] + [sid(c) for c in self.extra]

    def drop_extra(self):
        for c in self.extra:
            c.stop()
            c.close()
        self.extra = []

    def cycle(self, path, count):
        lock = self.main.Lock(path)
        lock.acquire()
        lock.release()
        lat = []
        now = time.monotonic_ns
        for _ in range(count):
            t0 = now()
            lock.acquire()
            lock.release()
            lat.append(now() - t0)
        return {"lat": lat}

    def semcycle(self, path, count):  # a semaphore of at most 8 leases: acquire + release
        sem = self.main.Semaphore(path, max_leases=8)
        sem.acquire()
        sem.release()
        lat = []
        now = time.monotonic_ns
        for _ in range(count):
            t0 = now()
            sem.acquire()
            sem.release()
            lat.append(now() - t0)
        return {"lat": lat}

    def incr(self, path, count):
        counter = CountingCounter(self.main, path)
        counter.incr()
        lat, tries = [], 0
        now = time.monotonic_ns
        for _ in range(count):
            t0 = now()
            tries += counter.incr()
            lat.append(now() - t0)
        return {"lat": lat, "tries": tries}

    def contend(self, args):
        kind, path = args[0], args[1]
        self.drop_extra()
        if kind in ("lock", "read"):  # readers: their holds overlap
            lock = self.main.Lock(path) if kind == "lock" else self.main.ReadLock(path)
            reply({"armed": 1, "sessions": self.sessions()})
            start, end = read_go()
            holds = []
            sleep_until(start)
            lock_loop(lock, end, holds)
            return {"holds": holds}
        if kind == "counter":
            counter = CountingCounter(self.main, path)
            reply({"armed": 1, "sessions": self.sessions()})
            start, end = read_go()
            lat, tries = [], 0
            now = time.monotonic_ns
            sleep_until(start)
            while now() < end:
                t0 = now()
                tries += counter.incr()
                lat.append(now() - t0)
            return {"ops": len(lat), "tries": tries, "t_end": now(), "lat": lat}
        if kind == "threads":
            n, pernode = int(args[2]), args[3] == "pernode"
            locks = []
            for _ in range(n):  # a Lock object is not shared by threads: one per thread (one node each)
                client = self.main
                if pernode:
                    client = connect(self.hosts)
                    self.extra.append(client)
                locks.append(client.Lock(path))
            reply({"armed": 1, "sessions": self.sessions()})
            start, end = read_go()
            holds = [[] for _ in range(n)]
            errors = []

            def run(k):
                try:
                    sleep_until(start)
                    lock_loop(locks[k], end, holds[k])
                except Exception as e:  # reported below
                    errors.append(repr(e))

            threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if errors:
                raise RuntimeError(errors[0])
            return {"holds": [x for h in holds for x in h]}
        raise RuntimeError("unsupported contend kind " + kind)

    def command(self, words):
        if words[0] == "cycle":
            return self.cycle(words[1], int(words[2]))
        if words[0] == "semcycle":
            return self.semcycle(words[1], int(words[2]))
        if words[0] == "incr":
            return self.incr(words[1], int(words[2]))
        if words[0] == "contend":
            return self.contend(words[1:])
        raise RuntimeError("unknown command " + words[0])


def main():
    logging.basicConfig(level=logging.ERROR)
    worker = Worker(sys.argv[1])
    reply({"ready": 1, "sessions": worker.sessions()})
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            break
        try:
            reply(worker.command(words))
        except Exception as e:
            reply({"error": repr(e)})
    worker.drop_extra()
    worker.main.stop()
    worker.main.close()


if __name__ == "__main__":
    main()
