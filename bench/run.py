#!/usr/bin/python3
"""Coordinator of bench/run.sh: starts a pool of worker processes per implementation (raw C client,
our recipes, Curator, Kazoo), runs the scenarios round by round, interleaved (the order of the
implementations rotates every round), after a warm-up round; then the callgrind comparison; then writes
results.json, report.md and the plots (report.py). See bench/README.md."""
import argparse
import json
import os
import platform
import queue
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402
import zkstat  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
IMPLS = ["raw", "ours", "curator", "kazoo"]
MODES = {  # pool: workers per implementation; window: seconds per contention run
    "full": dict(pool=16, contenders=[2, 4, 8, 16], window=1.0, rounds=8, warmup=1, cycle=40, incr=60,
                 probe=(40, 40, 30, 500), cg=(20, 120), procs=8, writers=[2, 4, 8, 16],
                 readers=[1, 4, 8], waiters=100),
    "quick": dict(pool=8, contenders=[2, 8], window=0.4, rounds=2, warmup=1, cycle=20, incr=30,
                  probe=(20, 20, 15, 200), cg=(5, 25), procs=8, writers=[2, 8],
                  readers=[1, 8], waiters=100),
    "smoke": dict(pool=2, contenders=[2], window=0.2, rounds=1, warmup=0, cycle=5, incr=5,
                  probe=(5, 5, 3, 100), cg=None, procs=2, writers=[2], readers=[2], waiters=10),
}


class BenchError(Exception):
    pass


class Worker:
    """One worker process speaking the line protocol; replies are JSON lines."""

    def __init__(self, name, argv, log):
        self.name = name
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                     text=True, bufsize=1)
        self.replies = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            line = line.strip()
            if line.startswith("{"):
                try:
                    self.replies.put(json.loads(line))
                except ValueError:
                    pass
        self.replies.put(None)

    def send(self, line):
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except OSError as e:
            raise BenchError("%s: %s" % (self.name, e))

    def recv(self, timeout):
        try:
            msg = self.replies.get(timeout=timeout)
        except queue.Empty:
            raise BenchError("%s: no reply within %.0f s" % (self.name, timeout))
        if msg is None:
            raise BenchError("%s exited (rc %s)" % (self.name, self.proc.poll()))
        if "error" in msg:
            raise BenchError("%s: %s" % (self.name, msg["error"]))
        return msg

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.wait(timeout=10)
            except (BenchError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


class Bench:
    def __init__(self, args, cfg):
        self.args, self.cfg = args, cfg
        self.hosts = [h for h in args.hosts.split(",") if h]
        self.base = "/zkr-bench/%s-%d" % (time.strftime("%Y%m%d-%H%M%S"), os.getpid())
        self.log = open(os.path.join(args.out, "workers.log"), "a")
        self.impls = [i for i in IMPLS if i in args.impls.split(",")]
        # A variant is another build of ours (e.g. a patched library) run as one more implementation.
        self.variants = dict(v.split("=", 1) for v in args.variant)
        self.impls += list(self.variants)
        self.pools = {}
        self.zk = zkstat.Tree(args.hosts)

    # --- workers --------------------------------------------------------------------------------------
    def argv(self, impl, host):
        if impl in self.variants:
            return [os.path.join(self.variants[impl], "zkbench"), "worker", "ours", host]
        if impl in ("raw", "ours"):
            return [os.path.join(self.args.bin, "zkbench"), "worker", impl, host]
        if impl == "curator":
            return [os.path.join(self.args.bin, "zkbench_curator"), host]
        return ["/usr/bin/python3", os.path.join(HERE, "kazoo_bench.py"), host]

    def start_pool(self, impl):
        # Worker k talks to server k mod 3 only, for every implementation: the single-client scenarios
        # (worker 0) of all of them, and the probe's w and r, use the same server.
        workers = [Worker("%s#%d" % (impl, k), self.argv(impl, self.hosts[k % len(self.hosts)]), self.log)
                   for k in range(self.cfg["pool"])]
        for w in workers:
            w.recv(180)
        self.pools[impl] = workers

    def start_probe(self):
        if getattr(self, "probe_worker", None):
            self.probe_worker.proc.kill()
        self.probe_worker = Worker("probe", [os.path.join(self.args.bin, "zkbench"), "probe",
                                             ",".join(self.hosts)], self.log)
        self.probe_worker.recv(60)

    def restart_pool(self, impl):
        for w in self.pools.get(impl, []):
            w.proc.kill()
        self.start_pool(impl)

    def stop(self):
        for workers in self.pools.values():
            for w in workers:
                w.stop()

    # --- scenarios ------------------------------------------------------------------------------------
    def path(self, impl, name):
        return "%s/%s/%s" % (self.base, impl, name)

    def single(self, impl, cmd, name, count, precreate):
        path = self.path(impl, name)
        if precreate:  # a persistent lock path: the container reaper must not interfere with cycles
            self.zk.ensure(path)
        w = self.pools[impl][0]
        w.send("%s %s %d" % (cmd, path, count))
        return w.recv(60 + count)

    def contend(self, impl, kind, name, n, extra=""):
        path = self.path(impl, name)
        if kind in ("lock", "threads", "read"):
            self.zk.ensure(path)
        workers = self.pools[impl][:1] if kind == "threads" else self.pools[impl][:n]
        for w in workers:
            w.send("contend %s %s %s" % (kind, path, extra))
        armed, failure = [], None
        for w in workers:
            try:
                armed.append((w, w.recv(120)))
            except BenchError as e:
                failure = failure or e
        sids = {s for _, a in armed for s in a["sessions"]}
        before = self.zk.packets(sids)
        start = time.monotonic_ns() + 100_000_000
        end = start + int(self.cfg["window"] * 1e9)
        if failure:
            start = end = time.monotonic_ns()
        for w, _ in armed:
            w.send("go %d %d" % (start, end))
        results = []
        for w, _ in armed:
            try:
                results.append(w.recv(self.cfg["window"] + 120))
            except BenchError as e:
                failure = failure or e
        if failure:
            raise failure
        after = self.zk.packets(sids)
        return report.digest_contention(kind, results, start, end, before, after)

    def probe(self, rnd):
        w, r, n, ceil_ms = self.cfg["probe"]
        self.probe_worker.send("probe %d %d %d %d %s/probe" % (w, r, n, ceil_ms, self.base))
        return self.probe_worker.recv(120)

    def run_round(self, rnd, warmup):
        cfg = self.cfg
        k = rnd % len(self.impls)
        order = self.impls[k:] + self.impls[:k]
        out = {"round": rnd, "warmup": warmup, "order": order, "runs": []}
        out["probe"] = self.guard("probe", "-", lambda: self.probe(rnd))

        def run(scenario, impl, n, fn):
            data = self.guard(scenario, impl, fn)
            out["runs"].append({"scenario": scenario, "impl": impl, "n": n, "data": data})

        tag = "r%d" % rnd
        for impl in order:
            run("cycle", impl, 1, lambda: self.single(impl, "cycle", "cycle-" + tag, cfg["cycle"], True))
        for impl in order:
            run("incr", impl, 1, lambda: self.single(impl, "incr", "incr-" + tag, cfg["incr"], False))
        for n in cfg["contenders"]:
            for impl in order:
                run("lock", impl, n, lambda: self.contend(impl, "lock", "lock-%s-n%d" % (tag, n), n))
        p = cfg["procs"]
        for n in cfg["writers"]:  # closed-loop writer processes on one counter
            for impl in order:
                run("counter", impl, n, lambda: self.contend(impl, "counter", "counter-%s-n%d" % (tag, n), n))
        for impl in order:
            if impl not in ("curator", "kazoo"):
                run("sharded", impl, p, lambda: self.contend(impl, "sharded", "sharded-" + tag, p))
        for impl in order:
            run("threads", impl, p,
                lambda: self.contend(impl, "threads", "threads-" + tag, 1, "%d shared" % p))
            if impl not in ("raw", "curator", "kazoo"):
                run("threads-pernode", impl, p,
                    lambda: self.contend(impl, "threads", "threads-pn-" + tag, 1, "%d pernode" % p))
        # The read-write lock's readers and the semaphore: the raw client has no such recipe.
        peers = [i for i in order if i != "raw"]
        for n in cfg["readers"]:
            for impl in peers:
                run("read", impl, n, lambda: self.contend(impl, "read", "read-%s-n%d" % (tag, n), n))
        for impl in peers:
            run("semcycle", impl, 1, lambda: self.single(impl, "semcycle", "sem-" + tag, cfg["cycle"], False))
        # The lock's asynchronous form against its blocking one (ours and variants only): the
        # uncontended cycle, and W waits pending on one object without threads against W threads.
        w = cfg["waiters"]
        for impl in [i for i in order if i not in ("raw", "curator", "kazoo")]:
            run("acycle", impl, 1, lambda: self.single(impl, "acycle", "acycle-" + tag, cfg["cycle"], True))
            run("waiters-async", impl, w, lambda: self.contend(impl, "async", "wa-" + tag, 1, str(w)))
            run("waiters-threads", impl, w,
                lambda: self.contend(impl, "threads", "wt-" + tag, 1, "%d shared" % w))
        return out

    def guard(self, scenario, impl, fn):
        """Runs one scenario run; a failure (e.g. a connection loss while someone else's test restarts a
        server) restarts the workers concerned and retries once; a second failure is reported."""
        for attempt in (1, 2):
            try:
                return fn()
            except Exception as e:  # one failed run must not end the benchmark
                print("bench: %s/%s failed (attempt %d): %r" % (scenario, impl, attempt, e), file=sys.stderr)
                try:
                    if impl in self.pools:
                        self.restart_pool(impl)
                    if scenario == "probe":
                        self.start_probe()
                except Exception as again:
                    e = again
                    attempt = 2
                if attempt == 2:
                    self.errors.append("%s/%s: %r" % (scenario, impl, e))
                    return None

    def callgrind(self):
        if not self.cfg["cg"] or not shutil.which("valgrind"):
            return None
        n1, n2 = self.cfg["cg"]
        out = {"cycles": [n1, n2]}
        # "raw-rd": the raw client with zoo_set_servers_resolution_delay (see raw_handle.hpp).
        for impl in ["raw", "raw-rd", "ours"] + list(self.variants):
            exe = os.path.join(self.variants.get(impl, self.args.bin), "zkbench")
            kind = "raw" if impl.startswith("raw") else "ours"
            env = dict(os.environ, ZKBENCH_RESOLUTION_DELAY_MS="10000") if impl == "raw-rd" else None
            counts = []
            for n in (n1, n2):
                path = self.path(impl, "cg-%d" % n)
                self.zk.ensure(path)
                f = os.path.join(self.args.out, "callgrind.%s.%d.out" % (impl, n))
                cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + f, exe, "cg", kind,
                       self.hosts[0], path, str(n)]
                subprocess.run(cmd, stdout=self.log, stderr=self.log, check=True, timeout=300, env=env)
                counts.append(report.callgrind_total(f))
            out[impl] = (counts[1] - counts[0]) / (n2 - n1)
        top = os.path.join(self.args.out, "callgrind.ours.top.txt")
        with open(top, "w") as f:
            subprocess.run(["callgrind_annotate", "--inclusive=yes",
                            os.path.join(self.args.out, "callgrind.ours.%d.out" % n2)],
                           stdout=f, stderr=subprocess.DEVNULL)
        return out

    def run(self):
        self.errors = []
        t0 = time.time()
        meta = machine_info(self.args, self.hosts, self.zk, self.impls)
        self.start_probe()
        threads = [threading.Thread(target=self.start_pool, args=(i,)) for i in self.impls]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        missing = [i for i in self.impls if i not in self.pools]
        if missing:
            raise BenchError("workers did not start: %s (see workers.log)" % missing)
        print("bench: %d workers per implementation ready after %.0f s" % (self.cfg["pool"], time.time() - t0),
              file=sys.stderr)
        rounds = []
        total = self.cfg["warmup"] + self.cfg["rounds"]
        for rnd in range(total):
            warm = rnd < self.cfg["warmup"]
            t = time.time()
            rounds.append(self.run_round(rnd, warm))
            print("bench: round %d/%d%s done in %.0f s" % (rnd + 1, total, " (warm-up)" if warm else "",
                                                          time.time() - t), file=sys.stderr)
        self.stop()
        self.probe_worker.stop()
        cg = self.guard("callgrind", "-", self.callgrind) if not self.args.no_callgrind else None
        meta["load_after"] = os.getloadavg()
        meta["duration_s"] = round(time.time() - t0)
        return {"meta": meta, "config": self.cfg, "rounds": rounds, "callgrind": cg, "errors": self.errors}


def machine_info(args, hosts, zk, impls):
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = "%.1f GiB" % (int(f.readline().split()[1]) / 1048576)
    except OSError:
        pass
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "nproc": os.cpu_count(), "memory": mem,
            "cpu": cpu, "kernel": platform.release(), "load_before": os.getloadavg(), "hosts": hosts,
            "modes": zk.modes(), "command": args.command, "mode": args.mode, "impls": impls}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hosts", required=True)
    ap.add_argument("--bin", required=True, help="directory with zkbench and zkbench_curator")
    ap.add_argument("--out", required=True)
    ap.add_argument("--mode", choices=sorted(MODES), default="full")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--impls", default=",".join(IMPLS))
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=BINDIR",
                    help="also run BINDIR/zkbench's recipes as implementation NAME (A/B of a library change)")
    ap.add_argument("--publish", help="also write the report to this markdown file (docs/benchmarks.md)")
    ap.add_argument("--command", default="bench/run.sh")
    args = ap.parse_args()
    cfg = dict(MODES[args.mode])
    if args.rounds:
        cfg["rounds"] = args.rounds
    if not os.path.exists(os.path.join(args.bin, "zkbench_curator")) and "curator" in args.impls:
        print("bench: no Curator worker built; skipping Curator", file=sys.stderr)
        args.impls = ",".join(i for i in args.impls.split(",") if i != "curator")
    os.makedirs(args.out, exist_ok=True)
    bench = Bench(args, cfg)
    try:
        results = bench.run()
    finally:
        bench.stop()
        if getattr(bench, "probe_worker", None):
            bench.probe_worker.stop()
        bench.zk.remove(bench.base)  # every node of this run, whatever happened
        bench.zk.close()
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f)
    text = report.write(results, args.out)
    if args.publish:
        report.publish(text, results, args.out, args.publish)
    print(text)
    print("bench: results in %s" % args.out, file=sys.stderr)
    failed = [r for r in results["errors"]]
    return 1 if failed and args.mode == "smoke" else 0


if __name__ == "__main__":
    sys.exit(main())
