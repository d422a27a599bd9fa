"""Turns bench/run.py's raw results into numbers: per-run digests (throughput, handoffs, requests per
cycle), the markdown report with medians, p99 and the issue's target ratios, and the PNG plots."""
import os
import re

IMPLS = ["raw", "ours", "curator", "kazoo"]
NAMES = {"raw": "raw C", "ours": "ours", "curator": "Curator 5.4", "kazoo": "Kazoo 2.8"}


# --- digests of one run (called by run.py as each run ends) ------------------------------------------
def digest_contention(kind, results, start, end, before, after):
    window = (end - start) / 1e9
    if kind in ("counter", "sharded"):
        # Calls are sequential in each process: call k completed at start + the sum of the first k+1
        # latencies. Throughput counts the increments completed within the window; every call
        # started in it (the one still running at its end too) counts in the latencies at its
        # whole length, and a call that gave up is a latency sample but no increment.
        done, waits, gave_up = [], [], 0
        for r in results:
            failed = set(r.get("gave_up", []))
            gave_up += len(failed)
            t, k = start, 0
            for idx, x in enumerate(r["lat"]):
                t += x
                if t > end:
                    break
                k += idx not in failed
            done.append(k)
            waits.append(max(r["lat"]) if r["lat"] else 0)
        ops = sum(r["ops"] for r in results)
        tries = sum(r["tries"] for r in results)
        lat = [x for r in results for x in r["lat"]]
        mean = sum(done) / len(done) if done else 0
        squares = sum(x * x for x in done)
        return {"throughput": sum(done) / window, "ops": ops, "per_proc": done,
                "retries": (tries - ops) / ops if ops else None, "lat": lat, "max_wait": waits,
                "gave_up": gave_up, "min_over_mean": min(done) / mean if mean else 0.0,
                "jain": sum(done) ** 2 / (len(done) * squares) if squares else 0.0}
    holds = []
    for proc, r in enumerate(results):
        h = r["holds"]
        holds += [(h[i], h[i + 1], proc) for i in range(0, len(h), 2)]
    holds.sort()
    in_window = [x for x in holds if start <= x[0] <= end]
    handoffs, violations = [], 0
    for a, b in zip(holds, holds[1:]):
        if b[0] < a[1] and kind != "read":  # readers' holds overlap
            violations += 1
        if a[2] != b[2] and a[0] >= start and b[0] <= end:
            handoffs.append(b[0] - a[1])

    per_proc = [sum(1 for x in in_window if x[2] == p) for p in range(len(results))]
    n = len(holds)
    return {"throughput": len(in_window) / window, "holds": n, "violations": violations,
            "handoff": handoffs if kind == "lock" else [],
            "req_cons": (after["cons"] - before["cons"]) / n if n else None,
            "req_mntr": (after["mntr"] - before["mntr"]) / n if n else None,
            "min_proc": min(per_proc) if per_proc else 0, "max_proc": max(per_proc) if per_proc else 0}


def callgrind_total(path):
    with open(path) as f:
        for line in f:
            m = re.match(r"(?:summary|totals):\s+(\d+)", line)
            if m:
                return int(m.group(1))
    raise ValueError("no totals in " + path)


# --- aggregation -----------------------------------------------------------------------------------
def pct(values, q):
    if not values:
        return None
    v = sorted(values)
    k = (len(v) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


class Results:
    def __init__(self, results):
        self.r = results
        self.rounds = [x for x in results["rounds"] if not x["warmup"]]

    def runs(self, scenario, impl, n=None):
        for rnd in self.rounds:
            for run in rnd["runs"]:
                if run["scenario"] == scenario and run["impl"] == impl and run["data"] is not None and \
                        (n is None or run["n"] == n):
                    yield run["data"]

    def pooled(self, scenario, impl, key, n=None):
        return [x for d in self.runs(scenario, impl, n) for x in d[key]]

    def per_round(self, scenario, impl, key, n=None):
        return [d[key] for d in self.runs(scenario, impl, n) if d.get(key) is not None]

    def probe(self, key):
        return [x for rnd in self.rounds if rnd.get("probe") for x in rnd["probe"].get(key, [])]

    def ceiling(self):
        return [rnd["probe"]["ceiling"] for rnd in self.rounds if rnd.get("probe")]

    def single_rate(self, impl):  # uncontended increments per second, per round
        return [1e9 * len(d["lat"]) / sum(d["lat"]) for d in self.runs("incr", impl) if d["lat"]]


def ms(ns):
    return "–" if ns is None else ("%.2f" % (ns / 1e6) if ns < 1e8 else "%.0f" % (ns / 1e6))


def lat_cell(values):
    return "–" if not values else "%s / %s" % (ms(pct(values, 50)), ms(pct(values, 99)))


def fairness(R, scenario, impl, n=None):
    """Increments per process per round: the least any process made in a round / the mean / the most."""
    runs = [d["per_proc"] for d in R.runs(scenario, impl, n) if d.get("per_proc")]
    if not runs:
        return "–"
    return "%d / %.0f / %d" % (min(min(p) for p in runs), sum(sum(p) / len(p) for p in runs) / len(runs),
                               max(max(p) for p in runs))


def lat3_cell(values):
    return "–" if not values else "%s / %s / %s" % (ms(pct(values, 50)), ms(pct(values, 99)), ms(max(values)))


def num(x, fmt="%.0f"):
    return "–" if x is None else fmt % x


def ratio(a, b):
    return None if a is None or not b else a / b


# --- the report ------------------------------------------------------------------------------------
def tables(res):
    R = Results(res)
    impls = res["meta"].get("impls", IMPLS)
    cfg = res["config"]
    procs = cfg["procs"]
    writers = cfg.get("writers", [procs])
    hand_n = 8 if 8 in cfg["contenders"] else cfg["contenders"][-1]
    w, r, n = R.probe("w"), R.probe("r"), R.probe("n")
    w50, n50 = pct(w, 50), pct(n, 50)
    out = []
    out.append("Primitives (raw C client): w = setData, r = getData, n = delete → another session's "
               "watch callback; ms p50 / p99 over %d samples; pipelined write ceiling in writes/s "
               "(median of rounds).\n" % len(w))
    out.append("| w | r | n | write ceiling | w, r with a host resolution delay¹ |\n|---|---|---|---|---|")
    out.append("| %s | %s | %s | %s | %s, %s |\n" % (lat_cell(w), lat_cell(r), lat_cell(n), num(pct(R.ceiling(), 50)),
                                                   lat_cell(R.probe("w_rd")), lat_cell(R.probe("r_rd"))))
    out.append("¹ `zoo_set_servers_resolution_delay(zh, 10000)`: by default the C client re-resolves its host "
               "list (getaddrinfo, srandom) every time its I/O thread wakes up.\n")

    head = "| scenario | " + " | ".join(NAMES.get(i, i) for i in impls) + " |"
    out.append("Scenarios: latencies in ms as p50 / p99 over all samples of the measured rounds; rates as "
               "the median over rounds (min–max). Requests per lock cycle: packets the servers received from "
               "the contending sessions (`cons`), in brackets from `mntr` zk_packets_received summed over "
               "the servers (every client of the ensemble counts there).\n")
    out.append(head + "\n|---|" + "---|" * len(impls))

    def row(label, cells):
        out.append("| %s | %s |" % (label, " | ".join(cells)))

    def rate(values):
        return "–" if not values else "%s (%s–%s)" % (num(pct(values, 50)), num(min(values)), num(max(values)))

    row("uncontended lock cycle", [lat_cell(R.pooled("cycle", i, "lat")) for i in impls])
    row("handoff, %d processes" % hand_n, [lat_cell(R.pooled("lock", i, "handoff", hand_n)) for i in impls])
    for c in cfg["contenders"]:
        row("lock cycles/s, %d processes" % c, [rate(R.per_round("lock", i, "throughput", c)) for i in impls])
    row("lock cycles/s, %d threads of one process" % procs,
        [rate(R.per_round("threads", i, "throughput")) for i in impls])
    row("… same, one session (node) per thread", [rate(R.per_round("threads-pernode", i, "throughput"))
                                                   if i not in ("raw", "curator", "kazoo") else "–" for i in impls])
    row("counter increment, uncontended", [lat_cell(R.pooled("incr", i, "lat")) for i in impls])
    row("counter increments/s, 1 client", [rate(R.single_rate(i)) for i in impls])
    def contention_rows(kind, c, shown, retries=True):
        # The rows of one counter scenario: latency, fairness, and (where the workers report their
        # attempts) retries. `shown(i)`: whether implementation i takes part.
        def cells(fn):
            return [fn(i) if shown(i) else "–" for i in impls]
        row("… latency p50 / p99 / max", cells(lambda i: lat3_cell(R.pooled(kind, i, "lat", c))))
        row("… each process's longest call: median / worst process",
            cells(lambda i: "–" if not R.pooled(kind, i, "max_wait", c) else "%s / %s" % (
                ms(pct(R.pooled(kind, i, "max_wait", c), 50)), ms(max(R.pooled(kind, i, "max_wait", c))))))
        row("… increments per process per round: least / mean / most",
            cells(lambda i: fairness(R, kind, i, c)))
        row("… Jain's fairness index, median (worst round)",
            cells(lambda i: "%s (%s)" % (num(pct(R.per_round(kind, i, "jain", c), 50), "%.2f"),
                                         num(min(R.per_round(kind, i, "jain", c), default=None), "%.2f"))))
        if retries:
            row("… retries per success; calls that gave up",
                cells(lambda i: "%s; %d" % (num(pct(R.per_round(kind, i, "retries", c), 50), "%.2f"),
                                            sum(R.per_round(kind, i, "gave_up", c)))))

    for c in writers:
        row("counter increments/s, %d processes" % c, [rate(R.per_round("counter", i, "throughput", c))
                                                       for i in impls])
        contention_rows("counter", c, lambda i: True)
    sharded_by = lambda i: i not in ("curator", "kazoo")
    row("ShardedCounter increments/s, %d processes" % procs,
        [rate(R.per_round("sharded", i, "throughput")) if sharded_by(i) else "–" for i in impls])
    contention_rows("sharded", None, sharded_by, retries=False)  # ours reports no attempts per add
    for c in cfg["contenders"]:
        row("ZooKeeper requests per lock cycle, %d processes" % c,
            ["%s (%s)" % (num(pct(R.per_round("lock", i, "req_cons", c), 50), "%.2f"),
                          num(pct(R.per_round("lock", i, "req_mntr", c), 50), "%.1f")) for i in impls])
    readers = cfg.get("readers", [])

    def peer(i, cell):
        return "–" if i == "raw" else cell

    for c in readers:  # each reader releases at once: the rate, not overlap, shows they do not queue
        row("read acquisitions/s, %d readers (processes)" % c,
            [peer(i, rate(R.per_round("read", i, "throughput", c))) for i in impls])
    row("semaphore acquire + release, uncontended", [peer(i, lat_cell(R.pooled("semcycle", i, "lat")))
                                                     for i in impls])
    wn = cfg.get("waiters")
    if wn:  # the asynchronous form: ours and variants only
        def own(i, cell):
            return cell if i not in ("raw", "curator", "kazoo") else "–"

        row("async lock cycle, uncontended", [own(i, lat_cell(R.pooled("acycle", i, "lat"))) for i in impls])
        row("lock cycles/s, %d async waits on one object, no thread each" % wn,
            [own(i, rate(R.per_round("waiters-async", i, "throughput", wn))) for i in impls])
        row("lock cycles/s, %d threads blocked on one object" % wn,
            [own(i, rate(R.per_round("waiters-threads", i, "throughput", wn))) for i in impls])
    cg = res.get("callgrind") or {}
    row("client instructions per lock cycle (callgrind)²",
        [num(cg.get(i), "%.0f") + (" (%s)" % num(cg.get("raw-rd")) if i == "raw" and cg.get("raw-rd") else "")
         if i not in ("curator", "kazoo") else "–" for i in impls])
    viol = sum(d["violations"] for i in impls for s in ("lock", "threads", "waiters-async", "waiters-threads")
               for d in R.runs(s, i))
    out.append("\n² Every thread of the client process, (Ir(N2) − Ir(N1)) / (N2 − N1) uncontended cycles; in "
               "brackets the raw client with the host resolution delay¹.\n")
    out.append("Mutual-exclusion check over every recorded hold: %d overlapping holds.\n" % viol)

    # --- targets: for ours and every variant (a patched build run as one more implementation) ---
    mine = [i for i in impls if i == "ours" or i not in IMPLS]

    def get(scenario, impl, key="lat", n=None):
        return pct(R.pooled(scenario, impl, key, n), 50)

    def spread(o):
        reqs = [pct(R.per_round("lock", o, "req_cons", c), 50) for c in cfg["contenders"]]
        reqs = [x for x in reqs if x is not None]
        if not reqs:
            return None
        mean = sum(reqs) / len(reqs)
        return max(abs(x / mean - 1) for x in reqs)

    cyc = {i: get("cycle", i) for i in impls}
    hand = {i: get("lock", i, "handoff", hand_n) for i in impls}
    inc = {i: get("incr", i) for i in impls}
    single = {i: pct(R.single_rate(i), 50) for i in impls}
    T = []

    def target(label, fn, limit, le=True, fmt="%.2f"):
        cells = []
        for o in mine:
            v = fn(o)
            ok = None if v is None else (v <= limit if le else v >= limit)
            cells.append("%s %s" % (num(v, fmt), "" if ok is None else ("met" if ok else "**missed**")))
        T.append("| %s | %s %s | %s |" % (label, "≤" if le else "≥", fmt % limit, " | ".join(cells)))

    def info(label, fn):
        T.append("| %s | (context) | %s |" % (label, " | ".join(num(fn(o), "%.2f") for o in mine)))

    target("uncontended lock cycle p50 / 2w", lambda o: ratio(cyc.get(o), 2 * w50 if w50 else None), 1.1)
    target("uncontended lock cycle p50, ours / Curator", lambda o: ratio(cyc.get(o), cyc.get("curator")), 0.8)
    target("uncontended lock cycle p50, ours / Curator (issue 15)",
           lambda o: ratio(cyc.get(o), cyc.get("curator")), 0.9)
    target("uncontended lock cycle p50, ours / Kazoo", lambda o: ratio(cyc.get(o), cyc.get("kazoo")), 0.8)
    info("uncontended lock cycle p50, ours / raw C", lambda o: ratio(cyc.get(o), cyc.get("raw")))
    target("handoff p50 (%d processes) / n" % hand_n, lambda o: ratio(hand.get(o), n50), 1.1)
    info("handoff p50, ours / raw C", lambda o: ratio(hand.get(o), hand.get("raw")))
    target("handoff p50, ours / Curator", lambda o: ratio(hand.get(o), hand.get("curator")), 0.8)
    target("handoff p50, ours / Kazoo", lambda o: ratio(hand.get(o), hand.get("kazoo")), 0.8)
    target("counter increment p50 / w", lambda o: ratio(inc.get(o), w50), 1.1)
    info("counter increment p50, ours / raw C", lambda o: ratio(inc.get(o), inc.get("raw")))
    target("counter increments/s, ours / Curator", lambda o: ratio(single.get(o), single.get("curator")), 1.5,
           False)
    target("counter increments/s, ours / Kazoo", lambda o: ratio(single.get(o), single.get("kazoo")), 1.5, False)

    def contended(o, key, n=procs):
        return R.per_round("counter", o, key, n)

    target("counter, %d processes: total / our single-client rate" % procs,
           lambda o: ratio(pct(contended(o, "throughput"), 50), single.get(o)), 0.8, False)
    target("counter, %d processes: total, ours / Curator" % procs,
           lambda o: ratio(pct(contended(o, "throughput"), 50), pct(contended("curator", "throughput"), 50)),
           1.5, False)
    target("counter, %d processes: retries per success" % procs, lambda o: pct(contended(o, "retries"), 50), 1.0)
    target("counter, %d processes: slowest process / mean, worst round" % procs,
           lambda o: min(contended(o, "min_over_mean"), default=None), 0.5, False)
    target("counter, %d processes: Jain's index, worst round" % procs,
           lambda o: min(contended(o, "jain"), default=None), 0.9, False)
    target("counter, %d processes: latency p99 (ms)" % procs,
           lambda o: (pct(R.pooled("counter", o, "lat", procs), 99) or 0) / 1e6 or None, 100, True, "%.1f")
    most = max(writers)
    target("counter, %d processes: fewest increments of a process in a round" % most,
           lambda o: min((min(p) for p in contended(o, "per_proc", most)), default=None), 1, False, "%.0f")
    target("counter, %d processes: calls that gave up" % most,
           lambda o: sum(contended(o, "gave_up", most)) if contended(o, "gave_up", most) else None, 0, True, "%.0f")
    target("ShardedCounter / DistributedCounter, %d processes, increments/s" % procs,
           lambda o: ratio(pct(R.per_round("sharded", o, "throughput"), 50),
                           pct(contended(o, "throughput"), 50)), 2.0, False)
    target("%d threads: shared lock / one node per thread" % procs,
           lambda o: ratio(pct(R.per_round("threads", o, "throughput"), 50),
                           pct(R.per_round("threads-pernode", o, "throughput"), 50)), 10, False, "%.1f")
    contended_counts = [c for c in cfg["contenders"] if c >= 4]
    target("requests per contended lock cycle, most of %s contenders" % ",".join(map(str, contended_counts)),
           lambda o: max((pct(R.per_round("lock", o, "req_cons", c), 50) or 0 for c in contended_counts),
                         default=None) or None, 5.1)
    target("requests per lock cycle, largest deviation from their mean (%s contenders)" %
           ",".join(map(str, cfg["contenders"])), spread, 0.10)
    target("client instructions per lock cycle, ours / raw C", lambda o: ratio(cg.get(o), cg.get("raw")), 1.3)
    if len(readers) > 1:
        target("read acquisitions/s, %d readers / 1 reader (readers do not serialise)" % readers[-1],
               lambda o: ratio(pct(R.per_round("read", o, "throughput", readers[-1]), 50),
                               pct(R.per_round("read", o, "throughput", readers[0]), 50)), 2.0, False)
    for peer_impl in ("curator", "kazoo"):
        target("read acquisitions/s, %d readers, ours / %s" % (readers[-1] if readers else 0, NAMES[peer_impl]),
               lambda o, p=peer_impl: ratio(pct(R.per_round("read", o, "throughput", readers[-1]), 50),
                                            pct(R.per_round("read", p, "throughput", readers[-1]), 50))
               if readers else None, 1.0, False)
        target("semaphore acquire + release p50, ours / %s" % NAMES[peer_impl],
               lambda o, p=peer_impl: ratio(get("semcycle", o), get("semcycle", p)), 1.0)
    if wn:
        target("async / blocking uncontended lock cycle p50", lambda o: ratio(get("acycle", o), cyc.get(o)), 1.05)
        target("%d async waits / %d blocked threads, lock cycles/s" % (wn, wn),
               lambda o: ratio(pct(R.per_round("waiters-async", o, "throughput", wn), 50),
                               pct(R.per_round("waiters-threads", o, "throughput", wn), 50)), 1.0, False)
    out.append("Targets (issues 6, 14, 15 and 16):\n\n| target | limit | %s |\n|---|---|%s" % (
        " | ".join(NAMES.get(o, o) for o in mine), "---|" * len(mine)))
    out += T
    return "\n".join(out) + "\n"


def write(res, out_dir):
    m = res["meta"]
    lines = ["# zkrecipes benchmark — %s\n" % m["date"],
             "Command: `%s` (mode %s, %d measured rounds after %d warm-up, %.0f s).  " % (
                 m["command"], m["mode"], res["config"]["rounds"], res["config"]["warmup"], m["duration_s"]),
             "Machine: %s cores (%s), %s memory, kernel %s; load average before %s, after %s.  " % (
                 m["nproc"], m["cpu"], m["memory"], m["kernel"], "/".join("%.2f" % x for x in m["load_before"]),
                 "/".join("%.2f" % x for x in m["load_after"])),
             "Ensemble: %s.\n" % ", ".join("%s %s" % kv for kv in m["modes"].items()),
             tables(res)]
    if res["errors"]:
        lines.append("Errors during the run:\n\n" + "\n".join("- " + e for e in res["errors"]) + "\n")
    text = "\n".join(lines)
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write(text)
    try:
        plots(res, out_dir)
    except ImportError:
        text += "\n(no plots: python3-matplotlib is not installed)\n"
    return text


KEEP = "<!-- Everything below this line is kept by bench/run.sh --publish. -->"


def publish(text, res, out_dir, dest):
    """Writes the report to `dest`, keeping the hand-written part below the KEEP marker."""
    kept = ""
    if os.path.exists(dest):
        with open(dest) as f:
            old = f.read()
        if KEEP in old:
            kept = old[old.index(KEEP):]
    os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
    with open(dest, "w") as f:
        f.write("<!-- The report below is written by bench/run.sh --publish; see bench/README.md. -->\n")
        f.write(text)
        f.write("\nPlots and raw data of this run: `%s/` (latency.png, throughput.png, counters.png, counter_contention.png, "
                "results.json, callgrind.*; not in git).\n\n" % os.path.relpath(
                    out_dir, os.path.dirname(os.path.dirname(os.path.abspath(dest)))))
        f.write(kept or KEEP + "\n")


# --- plots -----------------------------------------------------------------------------------------
def plots(res, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    R = Results(res)
    impls = res["meta"].get("impls", IMPLS)
    cfg = res["config"]
    hand_n = 8 if 8 in cfg["contenders"] else cfg["contenders"][-1]

    def cdf(ax, series, title):
        for label, values in series:
            if values:
                v = sorted(x / 1e6 for x in values)
                ax.plot(v, [(k + 1) / len(v) for k in range(len(v))], label=label)
        ax.set_xscale("log")
        ax.set_xlabel("ms")
        ax.set_ylabel("fraction ≤ x")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)

    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    cdf(axes[0][0], [(k, R.probe(k)) for k in ("w", "r", "n")], "primitives (raw C client)")
    cdf(axes[0][1], [(NAMES.get(i, i), R.pooled("cycle", i, "lat")) for i in impls], "uncontended lock cycle")
    cdf(axes[1][0], [(NAMES.get(i, i), R.pooled("lock", i, "handoff", hand_n)) for i in impls],
        "handoff, %d processes" % hand_n)
    cdf(axes[1][1], [(NAMES.get(i, i), R.pooled("incr", i, "lat")) for i in impls], "counter increment, uncontended")
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "latency.png"), dpi=100)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for k, i in enumerate(impls):
        style = dict(marker="os^Dvx*"[k % 7], linestyle=["-", "--", "-.", ":"][k % 4], label=NAMES.get(i, i))
        xs, med, lo, hi, req = [], [], [], [], []
        for c in cfg["contenders"]:
            v = R.per_round("lock", i, "throughput", c)
            if v:
                xs.append(c)
                med.append(pct(v, 50))
                lo.append(pct(v, 50) - min(v))
                hi.append(max(v) - pct(v, 50))
                req.append(pct(R.per_round("lock", i, "req_cons", c), 50))
        if xs:
            axes[0].errorbar(xs, med, yerr=[lo, hi], capsize=3, **style)
            axes[1].plot(xs, req, **style)
    axes[0].set_title("contended lock throughput (median, min–max over rounds)", fontsize=10)
    axes[0].set_ylabel("lock cycles/s")
    axes[1].set_title("ZooKeeper requests per lock cycle", fontsize=10)
    for ax in axes:
        ax.set_xlabel("contending processes")
        ax.set_xscale("log", base=2)
        ax.set_xticks(cfg["contenders"], [str(c) for c in cfg["contenders"]])
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "throughput.png"), dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 4.5))
    groups = [("1 client", lambda i: R.single_rate(i)),
              ("%d processes" % cfg["procs"], lambda i: R.per_round("counter", i, "throughput", cfg["procs"])),
              ("sharded, %d processes" % cfg["procs"], lambda i: R.per_round("sharded", i, "throughput"))]
    width = 0.2
    for k, i in enumerate(IMPLS):
        vals = [pct(fn(i), 50) or 0 for _, fn in groups]
        ax.bar([g + k * width for g in range(len(groups))], vals, width, label=NAMES.get(i, i))
    ax.set_xticks([g + (len(impls) - 1) * width / 2 for g in range(len(groups))], [g for g, _ in groups])
    ax.set_ylabel("increments/s (median over rounds)")
    ax.set_title("counters", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "counters.png"), dpi=100)
    plt.close(fig)

    # The counter under contention: latency percentiles and fairness against the number of writers.
    writers = cfg.get("writers", [cfg["procs"]])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for k, i in enumerate(impls):
        color = "C%d" % k
        xs = [c for c in writers if R.pooled("counter", i, "lat", c)]
        if not xs:
            continue
        for q, style in ((50, ":"), (99, "-"), (100, "--")):
            ys = [pct(R.pooled("counter", i, "lat", c), q) / 1e6 for c in xs]
            axes[0].plot(xs, ys, linestyle=style, marker="o", color=color,
                         label="%s p%d" % (NAMES.get(i, i), q) if q < 100 else "%s max" % NAMES.get(i, i))
        axes[1].plot(xs, [min(R.per_round("counter", i, "jain", c), default=0) for c in xs], marker="o",
                     color=color, label=NAMES.get(i, i))
    axes[0].set_yscale("log")
    axes[0].set_ylabel("ms")
    axes[0].set_title("increment latency (p50 dotted, p99 solid, max dashed)", fontsize=10)
    axes[1].set_ylabel("Jain's index, worst round")
    axes[1].set_ylim(0, 1.05)
    axes[1].set_title("fairness between writer processes", fontsize=10)
    for ax in axes:
        ax.set_xlabel("writer processes on one counter")
        ax.set_xscale("log", base=2)
        ax.set_xticks(writers, [str(c) for c in writers])
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "counter_contention.png"), dpi=100)
    plt.close(fig)
