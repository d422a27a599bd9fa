#!/usr/bin/python3
"""Runs the fault matrix (`ctest -L faults`) and generates docs/reliability.md from its JUnit output.

    scripts/reliability-report.py --build               # configure + build build/matrix, one run
    scripts/reliability-report.py --runs 3              # three runs in a row (each must pass)
    scripts/reliability-report.py --seed 7 --runs 3     # ZKR_MATRIX_SEED=7 for every run
    scripts/reliability-report.py --junit a.xml b.xml   # no run: report on saved JUnit files
    scripts/reliability-report.py --runs 3 --negative-control  # + the lock F7 cell against a
                                                        # deliberately broken lock (it must fail)

Every fact in the report comes from the test run: each cell prints its id, recipe, seed, fault and
criteria (`[ cell ]`, `[ fault ]`, `[ criteria ]` lines, see tests/faults/matrix_support.hpp) and
its measurements (`[ measure ]`); CTest's JUnit file carries that output, the status and the time.
The only thing written here is which cells must exist (F1-F10 and F12 for the lock and the leader
election, F1-F10 for the counter; testing.md has no F11), so that a missing cell is reported as
missing.
"""
import argparse
import datetime
import os
import re
import shlex
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CELLS = ["F%d" % i for i in range(1, 11)] + ["F12"]
RECIPES = ("lock", "election", "rwlock", "semaphore", "counter")
EXPECTED = ({(r, c) for r in ("lock", "election", "rwlock", "semaphore") for c in CELLS} |
            {("counter", c) for c in CELLS if c != "F12"})
SEEDS_PER_CELL = 3
RUN_BUDGET_S = 25 * 60
LINE = re.compile(r"^\[ (\w+)\s*\] (.*)$")


def parse_output(text):
    """The cell's own lines: id, recipe, seed, ..., fault, criteria, measures, events."""
    cell = {"measures": [], "events": [], "failures": []}
    for raw in text.splitlines():
        m = LINE.match(raw.strip())
        if m:
            tag, rest = m.group(1), m.group(2)
            if tag == "cell":
                cell.update(dict(kv.split("=", 1) for kv in rest.split() if "=" in kv))
            elif tag in ("fault", "criteria", "replay"):
                cell[tag] = rest
            elif tag == "measure":
                cell["measures"].append(rest)
            elif tag in ("event", "watchdog"):
                cell["events"].append(rest)
            continue
        if ": Failure" in raw:
            cell["failures"].append(raw.strip())
    return cell


def failure_details(text, limit=6):
    """The assertion messages of a failed test (GoogleTest prints them after 'Failure')."""
    out, lines = [], text.splitlines()
    for i, l in enumerate(lines):
        if ": Failure" in l:
            block = [l.strip()] + [x.strip() for x in lines[i + 1:i + 5]
                                   if x.strip() and not x.startswith("[")]
            out.append(" / ".join(block))
    return out[:limit]


def read_junit(path):
    tree = ET.parse(path)
    cases = []
    for tc in tree.iter("testcase"):
        name = tc.get("name", "")
        status = tc.get("status", "")
        if tc.find("failure") is not None or status == "fail":
            result = "fail"
        elif tc.find("skipped") is not None or status in ("notrun", "disabled"):
            result = "not run"
        else:
            result = "pass"
        out = tc.findtext("system-out") or ""
        case = {"name": name, "result": result, "time": float(tc.get("time", "0") or 0),
                "output": out}
        case.update(parse_output(out))
        if result == "fail":
            case["details"] = failure_details(out)
        cases.append(case)
    return cases


def run_ctest(build, junit, seed, extra, env_extra=None, select=("-L", "faults")):
    env = dict(os.environ)
    if seed is not None:
        env["ZKR_MATRIX_SEED"] = str(seed)
    env.update(env_extra or {})
    cmd = ["ctest", "--test-dir", build] + list(select) + ["--output-junit", junit,
           "--test-output-size-passed", "1000000", "--test-output-size-failed", "4000000"] + extra
    print("+ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    t0 = time.monotonic()
    rc = subprocess.call(cmd, env=env)
    return rc, time.monotonic() - t0


def git(*args):
    try:
        return subprocess.check_output(["git", "-C", ROOT] + list(args), text=True,
                                       stderr=subprocess.DEVNULL).strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def fmt_s(seconds):
    return "%dm%02ds" % (int(seconds) // 60, int(seconds) % 60) if seconds >= 60 else "%.1fs" % seconds


def cells_of(cases):
    by = {}
    for c in cases:
        if "id" in c and "recipe" in c:
            by.setdefault((c["recipe"], c["id"]), []).append(c)
    for v in by.values():
        v.sort(key=lambda c: int(c.get("slot", "0")))
    return by


NEGATIVE_ENV = {"ZKR_TEST_BREAK_PROTECTED_CREATE": "1"}
NEGATIVE_SELECT = ("-R", r"^faults_lock\.Seeds/LockF7\.")


def render_negative(neg, w):
    cases = [c for c in neg["cases"] if c.get("id") == "F7"]
    caught = sum(c["result"] == "fail" for c in cases)
    w.append("## Negative control: a deliberately broken lock\n")
    w.append("The lock F7 cell run again with `ZKR_TEST_BREAK_PROTECTED_CREATE=1`, a test-only switch "
             "read by the fault matrix binaries (tests/faults/matrix_main.cpp), which turn on a seam in the queue engine (src/core/queue_engine.cpp) that makes the lock forget a node whose create reply was "
             "lost and create another (protected create disabled). The cell must fail.\n")
    w.append("**Verdict: %s** (%d of %d seeds failed)\n" % (
        "the F7 cell catches the broken lock" if cases and caught == len(cases) else
        "THE F7 CELL DID NOT CATCH THE BROKEN LOCK", caught, len(cases)))
    w.append("| slot | seed | result | duration | first assertion that failed |")
    w.append("|---|---|---|---|---|")
    for c in cases:
        first = c.get("details", ["-"])[0] if c.get("details") else "-"
        w.append("| s%s | %s | %s | %s | `%s` |" % (c.get("slot"), c.get("seed"), c["result"],
                                                   fmt_s(c["time"]), first.replace("`", "'")
                                                   .replace("|", "\\|")))
    w.append("")


def render(runs, command, out_path, negative=None):
    last = runs[-1]
    by = cells_of(last["cases"])
    w = []
    w.append("# Reliability report: the fault matrix\n")
    w.append("Generated by `scripts/reliability-report.py` from the JUnit output of `ctest -L faults`; "
             "do not edit by hand. Regenerate with:\n")
    w.append("```\n%s\n```\n" % command)
    w.append("- Generated: %s UTC, commit `%s`%s" % (
        datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S"), git("rev-parse", "--short", "HEAD"),
        " (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""))
    w.append("- Fault matrix: testing.md's F1-F10 and F12 for the lock, the leader election (the lock's "
             "cells and checks with LeaderLatch contenders: a hold is a term), the read-write lock (the "
             "same cells, each hold a write or a read, under the read-write checker) and the semaphore "
             "(the same cells, a hold is a lease, at most 2 at once under the semaphore checker), F1-F10 for "
             "the counter (F12, a killed client process, is for holders only; **testing.md defines no "
             "F11**, so there is "
             "no F11 cell). Each cell runs once per seed slot (s0, s1, s2); a slot's seed is derived "
             "from `ZKR_MATRIX_SEED` and the cell, and its variant (session timeout, victim choice) "
             "differs between the three slots. Each cell also asserts the global criteria: every call "
             "returns by its deadline (plus 300 ms) with a typed error (a zk::Error whose code the "
             "library classified, not a raw C client code); once its clients are closed, no watch "
             "(`wchp` on every server) and no ephemeral node (`dump` on the leader) is left under the "
             "cell's root (the ensemble is shared, so the `wchs` totals are recorded, not asserted); "
             "the ensemble is restored (heal / resume / start) whatever the outcome; a watchdog "
             "aborts a cell that hangs.\n")
    w.append("## Runs\n")
    w.append("| run | wall time | tests | passed | failed | not run | cells present | ctest exit | verdict |")
    w.append("|---|---|---|---|---|---|---|---|---|")
    for i, r in enumerate(runs, 1):
        cases = r["cases"]
        present = {k for k, v in cells_of(cases).items() if len(v) >= SEEDS_PER_CELL}
        passed = sum(c["result"] == "pass" for c in cases)
        failed = sum(c["result"] == "fail" for c in cases)
        notrun = sum(c["result"] == "not run" for c in cases)
        ok = (failed == 0 and notrun == 0 and EXPECTED <= present and r.get("rc", 0) == 0 and
              (r["wall"] is None or r["wall"] < RUN_BUDGET_S))
        w.append("| %d | %s | %d | %d | %d | %d | %d/%d | %s | %s |" % (
            i, fmt_s(r["wall"]) if r["wall"] is not None else "(from %s)" % os.path.basename(r["source"]),
            len(cases), passed, failed, notrun, len(EXPECTED & present), len(EXPECTED),
            r.get("rc", "-"), "**pass**" if ok else "**FAIL**"))
    if any(r["wall"] is not None for r in runs):
        w.append("\nA run passes when every test passed, every cell is present with %d seeds, and it "
                 "took less than %d minutes." % (SEEDS_PER_CELL, RUN_BUDGET_S // 60))
    missing = sorted(EXPECTED - set(by), key=lambda k: (k[0], int(k[1][1:])))
    if missing:
        w.append("\n**Missing cells in the last run:** " + ", ".join("%s %s" % (r, c) for r, c in missing))
    w.append("\n## Matrix (last run)\n")
    w.append("| fault | " + " | ".join(RECIPES) + " |")
    w.append("|---" * (len(RECIPES) + 1) + "|")
    for cid in CELLS + ["F11"]:
        row = ["**%s**" % cid]
        for recipe in RECIPES:
            if cid == "F11":
                row.append("not defined in testing.md")
                continue
            if (recipe, cid) not in EXPECTED:
                row.append("— (holders only)")
                continue
            cs = by.get((recipe, cid), [])
            if not cs:
                row.append("**MISSING**")
                continue
            n_pass = sum(c["result"] == "pass" for c in cs)
            row.append("%s %d/%d (%s)" % ("pass" if n_pass == len(cs) else "**FAIL**", n_pass, len(cs),
                                          ", ".join(fmt_s(c["time"]) for c in cs)))
        w.append("| " + " | ".join(row) + " |")
    w.append("\n## Cells (last run)\n")
    for recipe in RECIPES:
        for cid in CELLS:
            cs = by.get((recipe, cid))
            if not cs:
                continue
            w.append("### %s %s — %s\n" % (cid, recipe, cs[0]["name"].split("/")[1].split(".")[1]
                                           if "/" in cs[0]["name"] else cs[0]["name"]))
            w.append("- **Fault:** %s" % cs[0].get("fault", "?"))
            w.append("- **Criteria:** %s; plus the global criteria" % cs[0].get("criteria", "?"))
            history = []
            for r in runs[:-1]:
                prev = cells_of(r["cases"]).get((recipe, cid), [])
                history.append("pass" if prev and all(c["result"] == "pass" for c in prev) else
                               ("missing" if not prev else "FAIL"))
            if history:
                w.append("- **Earlier runs:** " + ", ".join(history))
            w.append("")
            w.append("| slot | seed | variant | result | duration | measurements |")
            w.append("|---|---|---|---|---|---|")
            for c in cs:
                meas = "<br>".join(m.replace("|", "\\|") for m in c["measures"])
                res = c["result"] if c["result"] != "fail" else "**FAIL**"
                w.append("| s%s | %s | %s | %s | %s | %s |" % (c.get("slot", "?"), c.get("seed", "?"),
                                                             c.get("variant", "?"), res,
                                                             fmt_s(c["time"]), meas))
            fails = [c for c in cs if c["result"] == "fail"]
            for c in fails:
                w.append("\nFailure of s%s (replay: `%s`):" % (c.get("slot"), c.get("replay", "")))
                for d in c.get("details", []):
                    w.append("- `%s`" % d.replace("`", "'"))
            w.append("")
    if negative is not None:
        render_negative(negative, w)
    others = [c for c in last["cases"] if "id" not in c]
    if others:
        w.append("## Other tests under the `faults` label (last run)\n")
        w.append("| test | result | duration |")
        w.append("|---|---|---|")
        for c in others:
            w.append("| %s | %s | %s |" % (c["name"], c["result"] if c["result"] != "fail" else "**FAIL**",
                                           fmt_s(c["time"])))
        w.append("")
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "w") as f:
        f.write("\n".join(w).rstrip() + "\n")
    print("wrote " + out_path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build", "matrix"))
    ap.add_argument("--runs", type=int, default=1, help="consecutive runs of `ctest -L faults`")
    ap.add_argument("--seed", type=int, help="ZKR_MATRIX_SEED for the runs (default: the tests' own)")
    ap.add_argument("--build", action="store_true",
                    help="configure (if needed) and build the fault tests first")
    ap.add_argument("--junit", nargs="+", help="report on these JUnit files instead of running")
    ap.add_argument("--negative-control", action="store_true",
                    help="also run the lock F7 cell with protected create disabled (it must fail)")
    ap.add_argument("--negative-junit", help="report this saved JUnit file as the negative control")
    ap.add_argument("--output", default=os.path.join(ROOT, "docs", "reliability.md"))
    ap.add_argument("ctest_args", nargs="*", help="after --: extra ctest arguments")
    a = ap.parse_args()
    a.build_dir = os.path.abspath(a.build_dir)  # ctest writes --output-junit relative to the test dir
    command = "scripts/reliability-report.py " + " ".join(shlex.quote(x) for x in sys.argv[1:])
    runs = []
    if a.junit:
        for path in a.junit:
            runs.append({"cases": read_junit(path), "wall": None, "source": path})
    else:
        if a.build:
            if not os.path.exists(os.path.join(a.build_dir, "CMakeCache.txt")):
                subprocess.check_call(["cmake", "-S", ROOT, "-B", a.build_dir,
                                       "-DCMAKE_BUILD_TYPE=Debug"])
            subprocess.check_call(["cmake", "--build", a.build_dir, "-j2", "--target",
                                   "faults_session", "faults_lock", "faults_counter"])
        out_dir = os.path.join(a.build_dir, "reliability")
        os.makedirs(out_dir, exist_ok=True)
        for i in range(1, a.runs + 1):
            junit = os.path.join(out_dir, "run-%d.xml" % i)
            rc, wall = run_ctest(a.build_dir, junit, a.seed, a.ctest_args)
            runs.append({"cases": read_junit(junit), "wall": wall, "rc": rc, "source": junit})
            print("run %d: ctest exit %d in %s" % (i, rc, fmt_s(wall)), flush=True)
    negative = None
    if a.negative_junit:
        negative = {"cases": read_junit(a.negative_junit)}
    elif a.negative_control and not a.junit:
        junit = os.path.join(a.build_dir, "reliability", "negative-control.xml")
        run_ctest(a.build_dir, junit, a.seed, [], NEGATIVE_ENV, NEGATIVE_SELECT)
        negative = {"cases": read_junit(junit)}
    render(runs, command, a.output, negative)
    bad = any(r.get("rc", 0) != 0 or any(c["result"] != "pass" for c in r["cases"]) for r in runs)
    if negative is not None:
        neg = [c for c in negative["cases"] if c.get("id") == "F7"]
        bad = bad or not neg or any(c["result"] != "fail" for c in neg)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
