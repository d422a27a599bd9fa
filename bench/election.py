#!/usr/bin/python3
"""Leader-election failover: our participants beside Curator's and Kazoo's, on one ensemble.

  bench/election.py --hosts H --bin BUILD/bin [--changes N] [--kill-share F] [--out DIR]
                    [--publish docs/benchmarks.md]

Three elections, one path each, one after another: 4 of our LeaderLatch processes + 1 Curator
LeaderLatch; 4 of our LeaderSelector processes + 1 Curator LeaderSelector; 4 of our Kazoo-profile
LeaderSelector processes + 1 Kazoo Election. Every participant is a peer program speaking one
protocol (tests/interop: election_peer, CuratorLeaderPeer, kazoo_election_peer.py), with the same
session timeout. On each path, N leadership changes:

* forced by close: every term makes a few fenced writes and gives leadership up (the latch leaves
  and joins again, the selector's function returns); failover = the previous term's end -> the next
  term's start (both stamped by the participants, CLOCK_MONOTONIC);
* forced by kill -9 (a share F of the changes): the participants keep their terms until killed; the
  driver kills the leading process and starts a replacement of the same kind; failover = the kill
  -> the next term's start, which includes the session timeout (the server must expire the dead
  leader's session first).

Failover is reported by the kind of the new leader (whose watch and reaction it measures), p50 and
p99, with every path's checks: accepted fenced writes (in the server's mzxid order) never go back to
an older term and each term's writes come from one process (no two leaders' writes interleave),
terms strictly increase, and no node is left once the participants' sessions are gone.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SESSION_MS = 2000
BEGIN = "<!-- election failover: written by bench/election.py --publish -->"
END = "<!-- end of election failover -->"


class Peer:
    """One participant process; its output lines are collected with the driver's receive time."""

    def __init__(self, name, kind, argv):
        self.name, self.kind = name, kind
        env = dict(os.environ, ZKR_PEER_SESSION_MS=str(SESSION_MS))
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, bufsize=1, env=env)
        self.lines = []
        self.cv = threading.Condition()
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self):
        for line in self.proc.stdout:
            with self.cv:
                self.lines.append(line.split())
                self.cv.notify_all()
        with self.cv:
            self.lines.append(["EOF"])
            self.cv.notify_all()

    def wait_for(self, tag, timeout):
        deadline = time.monotonic() + timeout
        with self.cv:
            while not any(l and l[0] == tag for l in self.lines):
                left = deadline - time.monotonic()
                if left <= 0 or (self.lines and self.lines[-1] == ["EOF"]):
                    raise RuntimeError("%s: no %s" % (self.name, tag))
                self.cv.wait(left)

    def go(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


class Election:
    """One path: its peers, the events they printed, and the changes the driver forced."""

    def __init__(self, args, label, path, kinds):
        self.args, self.label, self.path, self.kinds = args, label, path, kinds
        self.peers = []
        self.kills = []  # (kill ns, victim name)
        self.serial = 0

    def argv(self, kind, writes):
        name = "%s-%d" % (kind, self.serial)
        self.serial += 1
        state = self.path + "-state"
        if kind.startswith("ours-"):
            mode = kind[len("ours-"):]
            return name, [os.path.join(self.args.bin, "election_peer"), mode, self.args.hosts,
                          self.path, name, state, str(SESSION_MS), "0", str(writes)]
        if kind.startswith("curator-"):
            return name, [os.path.join(self.args.bin, "CuratorLeaderPeer"), self.args.hosts,
                          self.path, kind[len("curator-"):], name, state, "0", str(writes)]
        return name, ["/usr/bin/python3", os.path.join(ROOT, "tests/interop/kazoo_election_peer.py"),
                      self.args.hosts, self.path, name, state, "0", str(writes)]

    def start(self, kind, writes):
        name, argv = self.argv(kind, writes)
        p = Peer(name, kind, argv)
        p.wait_for("READY", 60)
        p.go()
        self.peers.append(p)
        return p

    def events(self):
        """Every TERM_BEGIN / TERM_END / WRITE of every peer so far: (tag, token, ns or mzxid, peer)."""
        out = []
        for p in self.peers:
            with p.cv:
                lines = list(p.lines)
            for l in lines:
                if l[0] in ("TERM_BEGIN", "TERM_END") and len(l) >= 4:
                    out.append((l[0], int(l[1]), int(l[3]), p))
                elif l[0] == "WRITE" and len(l) >= 4:
                    out.append((l[0], int(l[1]), int(l[2]), p))
        return out

    def begins(self):
        return sorted((e for e in self.events() if e[0] == "TERM_BEGIN"), key=lambda e: e[2])

    def wait_begins(self, n, timeout):
        deadline = time.monotonic() + timeout
        while len(self.begins()) < n:
            if time.monotonic() > deadline:
                raise RuntimeError("%s: only %d terms, %d expected" % (self.label, len(self.begins()), n))
            time.sleep(0.005)

    def leader(self):
        """The peer whose latest term has begun and not ended (None if none)."""
        open_terms = {}
        for tag, token, _, p in self.events():
            if tag == "TERM_BEGIN":
                open_terms[token] = p
            elif tag == "TERM_END":
                open_terms.pop(token, None)
        if not open_terms:
            return None
        return open_terms[max(open_terms)]

    def run(self, n_close, n_kill):
        phases = []
        # Phase 1: changes forced by close (each term gives leadership up after a few writes).
        for kind in self.kinds:
            self.start(kind, 5)
        self.wait_begins(n_close + 1, 120)
        close_begins = self.begins()[: n_close + 1]
        ends = {e[1]: e[2] for e in self.events() if e[0] == "TERM_END"}
        for prev, nxt in zip(close_begins, close_begins[1:]):
            if prev[1] in ends:
                phases.append(("close", nxt[3].kind, (nxt[2] - ends[prev[1]]) / 1e6))
        for p in self.peers:
            p.kill()
        time.sleep(SESSION_MS / 1000 + 1)  # their sessions expire; their nodes go
        # Phase 2: changes forced by kill -9 (terms last until the leader is killed).
        first = len(self.begins())
        for kind in self.kinds:
            self.start(kind, 0)
        self.wait_begins(first + 1, 60)
        for i in range(n_kill):
            victim = None
            deadline = time.monotonic() + 30
            while victim is None:
                victim = self.leader()
                if victim is None:
                    if time.monotonic() > deadline:
                        raise RuntimeError("%s: no leader to kill" % self.label)
                    time.sleep(0.005)
            before = len(self.begins())
            killed = time.monotonic_ns()
            victim.kill()
            self.kills.append((killed, victim.name))
            self.wait_begins(before + 1, 60)
            nxt = self.begins()[before]
            phases.append(("kill", nxt[3].kind, (nxt[2] - killed) / 1e6))
            self.peers.remove(victim)
            self.start(victim.kind, 0)  # the machine comes back
            self.peers.append(victim)   # keep its output for the checks
        for p in self.peers:
            p.kill()
        return phases

    def check(self):
        """Violations of the election's safety, in words (empty: none)."""
        problems = []
        writes = sorted((e for e in self.events() if e[0] == "WRITE"), key=lambda e: e[2])
        top, writer = None, {}
        for _, token, mzxid, p in writes:
            if top is not None and token < top:
                problems.append("write at mzxid %d with term %d after term %d" % (mzxid, token, top))
            top = token if top is None else max(top, token)
            if writer.setdefault(token, p.name) != p.name:
                problems.append("term %d written by %s and %s" % (token, writer[token], p.name))
        tokens = [b[1] for b in self.begins()]
        if any(b <= a for a, b in zip(tokens, tokens[1:])):
            problems.append("terms did not strictly increase in the order they began")
        return problems, len(writes)


def pct(values, q):
    v = sorted(values)
    if not v:
        return float("nan")
    return v[min(len(v) - 1, int(round(q / 100.0 * (len(v) - 1))))]


def children(hosts, path):
    from kazoo.client import KazooClient
    zk = KazooClient(hosts=hosts)
    zk.start(timeout=15)
    try:
        return zk.get_children(path) if zk.exists(path) else []
    finally:
        zk.stop()


def report(results, args):
    rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip() or "?"
    w = ["## Leader election failover\n",
         "Run %s UTC at commit `%s`, peers from `%s`. " % (
             time.strftime("%Y-%m-%d %H:%M", time.gmtime()), rev, os.path.relpath(args.bin, ROOT)) +
         "`bench/election.py` (run by `bench/run.sh`): per path %d leadership changes, %d%% forced by "
         "kill -9 of the leader (the rest by the leader giving up: latch closed, selector function "
         "returned); every participant's session timeout %d ms; failover by the kind of the new "
         "leader, in ms. Kill failovers include the session timeout." % (
             args.changes, round(args.kill_share * 100), SESSION_MS),
         "",
         "| election | new leader | changes by close | p50 | p99 | changes by kill -9 | p50 | p99 |",
         "|---|---|---|---|---|---|---|---|"]
    for r in results:
        for kind in r["kinds"]:
            close = [ms for how, k, ms in r["changes"] if how == "close" and k == kind]
            kill = [ms for how, k, ms in r["changes"] if how == "kill" and k == kind]
            w.append("| %s | %s | %d | %.2f | %.2f | %d | %.0f | %.0f |" % (
                r["label"], kind, len(close), pct(close, 50), pct(close, 99), len(kill),
                pct(kill, 50), pct(kill, 99)))
    w.append("")
    for r in results:
        w.append("- %s: %d terms, %d accepted fenced writes, %s; nodes left after the sessions "
                 "ended: %d." % (r["label"], r["terms"], r["writes"],
                                 "no overlapping terms, terms strictly increasing" if not r["problems"]
                                 else "**VIOLATIONS: " + "; ".join(r["problems"][:5]) + "**",
                                 r["left"]))
    return "\n".join(w) + "\n"


def publish(text, dest):
    old = open(dest).read() if os.path.exists(dest) else ""
    if BEGIN in old and END in old:
        old = old[:old.index(BEGIN)] + old[old.index(END) + len(END):].lstrip("\n")
    with open(dest, "w") as f:
        f.write(old.rstrip("\n") + "\n\n" + BEGIN + "\n" + text + END + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", required=True)
    ap.add_argument("--bin", required=True, help="the build's bin/ (election_peer, CuratorLeaderPeer)")
    ap.add_argument("--changes", type=int, default=200, help="leadership changes per path")
    ap.add_argument("--kill-share", type=float, default=0.2, help="share of changes forced by kill -9")
    ap.add_argument("--out", default=None)
    ap.add_argument("--publish", default=None)
    args = ap.parse_args()
    base = "/zkbench-election-%d" % os.getpid()
    groups = [("LeaderLatch", ["ours-latch", "curator-latch", "ours-latch", "ours-latch", "ours-latch"]),
              ("LeaderSelector", ["ours-selector", "curator-selector", "ours-selector", "ours-selector",
                                  "ours-selector"]),
              ("Kazoo Election", ["ours-kazoo", "kazoo", "ours-kazoo", "ours-kazoo", "ours-kazoo"])]
    from kazoo.client import KazooClient
    zk = KazooClient(hosts=args.hosts)
    zk.start(timeout=15)
    results = []
    failed = False
    try:
        for i, (label, kinds) in enumerate(groups):
            path = "%s/e%d" % (base, i)
            zk.ensure_path(path)  # persistent: Kazoo 2.8 trips over a reaped container
            zk.ensure_path(path + "-state")
            n_kill = int(round(args.changes * args.kill_share))
            e = Election(args, label, path, kinds)
            try:
                changes = e.run(args.changes - n_kill, n_kill)
            finally:
                for p in e.peers:
                    p.kill()
            time.sleep(SESSION_MS / 1000 + 1)
            problems, writes = e.check()
            left = len(children(args.hosts, path))
            failed |= bool(problems) or left != 0
            names = sorted(set(k for k in kinds))
            results.append(dict(label=label, kinds=names, changes=changes, problems=problems,
                                writes=writes, terms=len(e.begins()), left=left))
            print("bench: election %s: %d changes, %d problems, %d nodes left" % (
                label, len(changes), len(problems), left), file=sys.stderr)
    finally:
        try:
            zk.delete(base, recursive=True)
        finally:
            zk.stop()
    text = report(results, args)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "election.md"), "w") as f:
            f.write(text)
        with open(os.path.join(args.out, "election.json"), "w") as f:
            json.dump(results, f)
    if args.publish:
        publish(text, args.publish)
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
