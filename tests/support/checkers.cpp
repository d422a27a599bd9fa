// Checkers: pure functions over recorded histories; every violation is explained with the records
// involved, times shown relative to the earliest record so that a message reads as a timeline.
#include "support/checkers.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>

namespace zkt {
namespace {

// "+1.234567s": a monotonic time relative to the start of the history.
std::string at(std::int64_t ns, std::int64_t origin) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "+%.6fs", static_cast<double>(ns - origin) / 1e9);
  return buf;
}

std::string describe(const HoldRecord& r, std::int64_t origin) {
  return "token " + std::to_string(r.token) + " (process " + std::to_string(r.process) +
         ", thread " + std::to_string(r.thread) + ", held " + at(r.enter_ns, origin) + " .. " +
         at(r.exit_ns, origin) + ")";
}

std::string describe(const CounterOp& op, std::int64_t origin) {
  std::string s = "increment by " + std::to_string(op.delta) + " (process " +
                  std::to_string(op.process) + ", " + at(op.invoke_ns, origin) + " .. " +
                  at(op.complete_ns, origin) + ", " + to_string(op.outcome);
  if (op.outcome == Outcome::ok) s += ", returned " + std::to_string(op.value);
  return s + ")";
}

template <class Record>
std::vector<Record> read_lines(std::istream& in, const std::string& tag,
                               Record (*parse)(std::istringstream&)) {
  std::vector<Record> out;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::istringstream fields(line);
    std::string word;
    if (!(fields >> word) || word[0] == '#' || word != tag) continue;
    Record r = parse(fields);
    std::string extra;
    if (fields.fail() || (fields >> extra))
      throw std::runtime_error("malformed " + tag + " record on line " + std::to_string(number) +
                               ": " + line);
    out.push_back(r);
  }
  return out;
}

HoldRecord parse_hold(std::istringstream& f) {
  HoldRecord r;
  f >> r.token >> r.process >> r.thread >> r.enter_ns >> r.exit_ns;
  return r;
}

CounterOp parse_op(std::istringstream& f) {
  CounterOp r;
  std::string outcome;
  f >> r.process >> r.invoke_ns >> r.complete_ns >> r.delta >> outcome >> r.value;
  if (outcome == "ok")
    r.outcome = Outcome::ok;
  else if (outcome == "failed")
    r.outcome = Outcome::failed;
  else if (outcome == "indeterminate")
    r.outcome = Outcome::indeterminate;
  else
    f.setstate(std::ios::failbit);
  return r;
}

template <class Record>
std::vector<Record> load(const std::vector<std::string>& paths,
                         std::vector<Record> (*read)(std::istream&)) {
  std::vector<Record> all;
  for (const auto& p : paths) {
    std::ifstream in(p);
    if (!in) throw std::runtime_error("cannot read " + p);
    auto some = read(in);
    all.insert(all.end(), some.begin(), some.end());
  }
  return all;
}

} // namespace

std::int64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}
std::int64_t this_process() {
  return static_cast<std::int64_t>(::getpid());
}
std::uint64_t this_thread() {
  return static_cast<std::uint64_t>(::syscall(SYS_gettid));
}

std::string CheckResult::explain() const {
  if (ok()) return "ok";
  std::string out = std::to_string(problems.size()) + " problem(s):";
  for (const auto& p : problems)
    out += "\n  - " + p;
  return out;
}

std::string to_line(const HoldRecord& r) {
  return (r.shared ? "read " : "hold ") + std::to_string(r.token) + " " +
         std::to_string(r.process) + " " + std::to_string(r.thread) + " " +
         std::to_string(r.enter_ns) + " " + std::to_string(r.exit_ns);
}

CheckResult check_mutual_exclusion(std::vector<HoldRecord> records) {
  CheckResult res;
  if (records.empty()) return res;
  std::sort(records.begin(), records.end(), [](const HoldRecord& a, const HoldRecord& b) {
    return a.enter_ns != b.enter_ns ? a.enter_ns < b.enter_ns : a.exit_ns < b.exit_ns;
  });
  const std::int64_t origin = records.front().enter_ns;
  std::size_t longest =
      0; // the earlier holder that stays longest: any later entry must wait for it
  std::size_t top_token = 0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const HoldRecord& r = records[i];
    if (r.exit_ns < r.enter_ns)
      res.problems.push_back("bad record: exits before it enters: " + describe(r, origin));
    if (i == 0) continue;
    const HoldRecord& p = records[longest];
    if (r.enter_ns < p.exit_ns)
      res.problems.push_back("overlap: " + describe(r, origin) + " entered " +
                             std::to_string((p.exit_ns - r.enter_ns) / 1000) + " us before " +
                             describe(p, origin) + " exited: two holders at once");
    const HoldRecord& t = records[top_token];
    if (r.token <= t.token)
      res.problems.push_back("token did not increase: " + describe(r, origin) + " entered after " +
                             describe(t, origin) +
                             " with a token that is not larger (stale fencing token)");
    if (r.exit_ns > p.exit_ns) longest = i;
    if (r.token > t.token) top_token = i;
  }
  return res;
}

// Two holds with one token in one process: threads passing the write side along, or a writer and
// the read hold it downgraded to (which keeps the writer's token).
bool local_handoff(const HoldRecord& a, const HoldRecord& b) {
  return a.token == b.token && a.process == b.process;
}

CheckResult check_read_write(const std::vector<HoldRecord>& records) {
  CheckResult res;
  if (records.empty()) return res;
  std::int64_t origin = records.front().enter_ns;
  for (const auto& r : records)
    origin = std::min(origin, r.enter_ns);
  for (std::size_t i = 0; i < records.size(); ++i) {
    const HoldRecord& w = records[i];
    if (w.exit_ns < w.enter_ns)
      res.problems.push_back("bad record: exits before it enters: " + describe(w, origin));
    if (w.shared) continue;
    for (std::size_t j = 0; j < records.size(); ++j) {
      const HoldRecord& o = records[j];
      if (j == i || (!o.shared && j < i)) continue; // each pair of writers once
      const char* other = o.shared ? "reader" : "writer";
      if (o.enter_ns < w.exit_ns && w.enter_ns < o.exit_ns) {
        res.problems.push_back("overlap: writer " + describe(w, origin) + " and " + other + " " +
                               describe(o, origin) + " held at once");
      } else if (!(local_handoff(w, o)) && (o.enter_ns >= w.exit_ns) != (o.token > w.token)) {
        res.problems.push_back("token order: writer " + describe(w, origin) + " and " + other +
                               " " + describe(o, origin) +
                               ": the later hold has the smaller token (stale fencing token)");
      }
    }
  }
  return res;
}

namespace {

// The largest number of `records` passing `counts` held at one moment (touching is no overlap),
// and a moment it was reached.
template <class Pred>
std::pair<std::size_t, std::int64_t> peak(const std::vector<HoldRecord>& records, Pred counts) {
  std::vector<std::pair<std::int64_t, int>> edges; // exits sort before entries at one instant
  for (const auto& r : records) {
    if (!counts(r)) continue;
    edges.emplace_back(r.enter_ns, 1);
    edges.emplace_back(r.exit_ns, -1);
  }
  std::sort(edges.begin(), edges.end());
  std::pair<std::size_t, std::int64_t> best{0, 0};
  std::int64_t now = 0;
  for (const auto& e : edges) {
    now += e.second;
    if (now > 0 && static_cast<std::size_t>(now) > best.first) best = {now, e.first};
  }
  return best;
}

} // namespace

std::size_t max_concurrent_readers(const std::vector<HoldRecord>& records) {
  return peak(records, [](const HoldRecord& r) { return r.shared; }).first;
}

std::size_t max_concurrent(const std::vector<HoldRecord>& records) {
  return peak(records, [](const HoldRecord&) { return true; }).first;
}

CheckResult check_semaphore(const std::vector<HoldRecord>& records, std::size_t max) {
  CheckResult res;
  const auto [most, at] = peak(records, [](const HoldRecord&) { return true; });
  if (most > max) {
    std::string who;
    for (const auto& r : records) {
      if (r.enter_ns <= at && at < r.exit_ns) {
        who += " [token " + std::to_string(r.token) + " process " + std::to_string(r.process) +
               " thread " + std::to_string(r.thread) + "]";
      }
    }
    res.problems.push_back(std::to_string(most) + " leases held at once (max " +
                           std::to_string(max) + ") at " + std::to_string(at) + " ns:" + who);
  }
  std::map<std::int64_t, const HoldRecord*> seen;
  for (const auto& r : records) {
    const auto [it, fresh] = seen.emplace(r.token, &r);
    if (!fresh) {
      res.problems.push_back("two leases share the token " + std::to_string(r.token) +
                             " (processes " + std::to_string(it->second->process) + " and " +
                             std::to_string(r.process) + "): one node held twice");
    }
  }
  return res;
}

CheckResult check_fenced_writes(std::vector<FencedWrite> writes) {
  CheckResult res;
  std::sort(writes.begin(), writes.end(),
            [](const auto& a, const auto& b) { return a.order < b.order; });
  std::int64_t top = std::numeric_limits<std::int64_t>::min();
  for (const auto& w : writes) {
    if (w.token < top)
      res.problems.push_back("stale token accepted: write at order " + std::to_string(w.order) +
                             " with token " + std::to_string(w.token) +
                             " after a write with token " + std::to_string(top));
    top = std::max(top, w.token);
  }
  return res;
}

std::optional<FencedWrite> parse_write(const std::string& line) {
  std::istringstream in(line);
  std::string tag;
  FencedWrite w;
  if (!(in >> tag >> w.token >> w.order >> w.writer) || tag != "WRITE") return std::nullopt;
  return w;
}

CheckResult check_terms(const std::vector<FencedWrite>& writes) {
  CheckResult res = check_fenced_writes(writes);
  std::map<std::int64_t, std::int64_t> writer_of;
  for (const auto& w : writes) {
    const auto [it, fresh] = writer_of.emplace(w.token, w.writer);
    if (!fresh && it->second != w.writer) {
      res.problems.push_back("term " + std::to_string(w.token) + " has writes from " +
                             std::to_string(it->second) + " and " + std::to_string(w.writer) +
                             ": two leaders with one token");
    }
  }
  return res;
}

const char* to_string(Outcome o) {
  switch (o) {
  case Outcome::ok:
    return "ok";
  case Outcome::failed:
    return "failed";
  case Outcome::indeterminate:
    return "indeterminate";
  }
  return "?";
}

std::string to_line(const CounterOp& r) {
  return "incr " + std::to_string(r.process) + " " + std::to_string(r.invoke_ns) + " " +
         std::to_string(r.complete_ns) + " " + std::to_string(r.delta) + " " +
         to_string(r.outcome) + " " + std::to_string(r.value);
}

CheckResult check_counter(const std::vector<CounterOp>& ops, std::int64_t final_value,
                          std::int64_t initial) {
  CheckResult res;
  std::int64_t origin = std::numeric_limits<std::int64_t>::max();
  for (const auto& op : ops)
    origin = std::min(origin, op.invoke_ns);
  std::vector<CounterOp> ok;
  std::vector<std::int64_t> maybe;
  std::int64_t acknowledged = 0;
  bool all_positive = true;
  for (const auto& op : ops) {
    all_positive = all_positive && op.delta > 0;
    if (op.complete_ns < op.invoke_ns)
      res.problems.push_back("bad record: completes before it is invoked: " + describe(op, origin));
    if (op.outcome == Outcome::ok) {
      ok.push_back(op);
      acknowledged += op.delta;
    } else if (op.outcome == Outcome::indeterminate) {
      maybe.push_back(op.delta);
    }
  }

  if (all_positive) {
    // Unique values: two acknowledged increments cannot both have produced the same value.
    std::map<std::int64_t, std::vector<const CounterOp*>> by_value;
    for (const auto& op : ok)
      by_value[op.value].push_back(&op);
    for (const auto& entry : by_value)
      if (entry.second.size() > 1) {
        std::string who;
        for (const auto* op : entry.second)
          who += "\n      " + describe(*op, origin);
        res.problems.push_back("value " + std::to_string(entry.first) + " returned by " +
                               std::to_string(entry.second.size()) +
                               " ok increments (counted once, " + "acknowledged twice):" + who);
      }
    for (const auto& op : ok) {
      if (op.value > final_value)
        res.problems.push_back("lost increment: " + describe(op, origin) +
                               " returned a value above the final " + std::to_string(final_value));
      if (op.value < initial + op.delta)
        res.problems.push_back("impossible value: " + describe(op, origin) + " is below initial " +
                               std::to_string(initial) + " + its delta");
    }
    // Real-time order: B invoked after A completed must see at least A's value + B's delta.
    std::vector<const CounterOp*> by_complete;
    for (const auto& op : ok)
      by_complete.push_back(&op);
    std::sort(by_complete.begin(), by_complete.end(),
              [](const auto* a, const auto* b) { return a->complete_ns < b->complete_ns; });
    std::vector<const CounterOp*> best(by_complete.size()); // op with the largest value so far
    for (std::size_t i = 0; i < by_complete.size(); ++i)
      best[i] =
          (i == 0 || by_complete[i]->value > best[i - 1]->value) ? by_complete[i] : best[i - 1];
    for (const auto& b : ok) {
      const auto before =
          std::lower_bound(by_complete.begin(), by_complete.end(), b.invoke_ns,
                           [](const auto* a, std::int64_t t) { return a->complete_ns < t; });
      if (before == by_complete.begin()) continue;
      const CounterOp* a = best[static_cast<std::size_t>(before - by_complete.begin()) - 1];
      if (b.value < a->value + b.delta)
        res.problems.push_back("real-time order violated: " + describe(b, origin) +
                               " was invoked after " + describe(*a, origin) +
                               " completed, yet its value is not past it");
    }
  }

  // final = initial + acknowledged + some subset of the indeterminate deltas.
  const std::int64_t base = initial + acknowledged;
  const std::int64_t target = final_value - base;
  std::int64_t lo = 0, hi = 0;
  for (const auto d : maybe)
    (d < 0 ? lo : hi) += d;
  bool reachable = target >= lo && target <= hi;
  // Subset sums, grouping equal deltas (n increments of +1 reach exactly 0..n in one step). Past
  // the work bound only the range check above stands.
  std::map<std::int64_t, std::size_t> groups;
  for (const auto d : maybe)
    ++groups[d];
  std::vector<std::int64_t> sums{0};
  bool exact = true;
  for (const auto& g : groups) {
    if (!reachable || sums.size() * (g.second + 1) > (1u << 20)) {
      exact = false;
      break;
    }
    std::vector<std::int64_t> next;
    next.reserve(sums.size() * (g.second + 1));
    for (const auto s : sums)
      for (std::size_t j = 0; j <= g.second; ++j)
        next.push_back(s + static_cast<std::int64_t>(j) * g.first);
    std::sort(next.begin(), next.end());
    next.erase(std::unique(next.begin(), next.end()), next.end());
    sums.swap(next);
  }
  if (reachable && exact) reachable = std::binary_search(sums.begin(), sums.end(), target);
  if (!reachable) {
    std::string why = "final value " + std::to_string(final_value) + " is not initial " +
                      std::to_string(initial) + " + ok increments " + std::to_string(acknowledged) +
                      " + a subset of " + std::to_string(maybe.size()) +
                      " indeterminate increments (they can add " + std::to_string(lo) + " .. " +
                      std::to_string(hi) + "); off by " + std::to_string(target);
    if (target < lo)
      why += ": an acknowledged increment was lost";
    else if (target > hi)
      why += ": more was applied than was invoked (an increment counted twice)";
    res.problems.push_back(why);
  }
  return res;
}

template <class Record> void History<Record>::add(const Record& r) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_records.push_back(r);
  if (!m_path.empty()) append_line(m_path, to_line(r));
}

template <class Record> std::vector<Record> History<Record>::records() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_records;
}

template class History<HoldRecord>;
template class History<CounterOp>;

void append_line(const std::string& path, const std::string& line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  const std::string text = line + "\n";
  const ssize_t n =
      ::write(fd, text.data(), text.size()); // one write: lines from processes never mix
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) throw std::runtime_error("cannot append to " + path);
}

std::vector<HoldRecord> read_holds(std::istream& in) {
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::istringstream holds(text);
  std::istringstream reads(text);
  auto out = read_lines<HoldRecord>(holds, "hold", parse_hold);
  for (auto& r : read_lines<HoldRecord>(reads, "read", parse_hold)) {
    r.shared = true;
    out.push_back(r);
  }
  return out;
}
std::vector<CounterOp> read_counter_ops(std::istream& in) {
  return read_lines<CounterOp>(in, "incr", parse_op);
}
std::vector<HoldRecord> load_holds(const std::vector<std::string>& paths) {
  return load(paths, read_holds);
}
std::vector<CounterOp> load_counter_ops(const std::vector<std::string>& paths) {
  return load(paths, read_counter_ops);
}

} // namespace zkt
