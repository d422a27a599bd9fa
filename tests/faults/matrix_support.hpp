// Shared plumbing of the fault matrix (tests/faults/*_matrix_test.cpp): one GoogleTest fixture per
// cell, run once per seed slot, with
//  - a seed that drives every choice (victim, timing, session timeout) and is printed for replay;
//  - the fault verbs of docker/ensemble, each undone by the fixture whatever the outcome;
//  - a watchdog: a cell that overruns its budget restores the ensemble and aborts (a hang fails);
//  - the global criteria: every call returns by its deadline with a typed error (CallLog), no watch
//    and no ephemeral node left under the cell's root once its clients are closed (wchp, dump).
//
// Every cell prints machine-readable lines that scripts/reliability-report.py turns into
// docs/reliability.md:
//   [ cell     ] id=F3 recipe=lock slot=1 seed=123 variant=2
//   [ fault    ] <what the cell injects>            [ criteria ] <what it asserts>
//   [ event    ] +1.234s <what happened>             [ measure  ] key=value ...
//
// Seeds: slot s of a cell uses seed = mix(base, cell, s), base = $ZKR_MATRIX_SEED (default fixed);
// ZKR_SEED=<seed> replays one printed seed exactly. variant() is (base + s) % 3, so the three slots
// always cover three different variants of the cell.
#pragma once

#include "support/checkers.hpp"
#include "support/ensemble.hpp"

#include <gtest/gtest.h>

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace zkt::matrix {

using Ms = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

/// What a cell injects and what it must show (printed, and copied into the report).
struct CellInfo {
  const char* id;     ///< "F1".."F12"
  const char* recipe; ///< "lock" | "election" | "counter"
  const char* fault;
  const char* criteria;
};

// --- Ensemble faults -----------------------------------------------------------------------------

/// The docker/ensemble verbs, remembering what they did so that restore() undoes it: heal, resume
/// the paused, start the killed, then wait for a serving quorum (`up` if that fails).
/// Thread safety: not thread-safe; one per cell.
class Faults {
public:
  explicit Faults(std::function<void(const std::string&)> log) : m_log(std::move(log)) {}
  ~Faults() { restore(); }
  Faults(const Faults&) = delete;
  Faults& operator=(const Faults&) = delete;

  void kill(int n);
  void start(int n);
  void pause(int n);
  void resume(int n);
  void isolate(int n);
  void heal();
  /// Number of the leader (waits up to `timeout` for one).
  int leader(Ms timeout = Ms(20000));
  /// Waits until every running server serves and one leads.
  void wait_healthy(Ms timeout = Ms(60000));
  /// Undoes every fault; never throws. Returns whether the ensemble is healthy afterwards.
  bool restore() noexcept;

private:
  std::function<void(const std::string&)> m_log;
  std::set<int> m_killed;
  std::set<int> m_paused;
  bool m_isolated = false;
};

/// Makes the ensemble healthy before a cell: `docker/ensemble status`, and `up` if degraded.
/// Returns a description of what it had to repair ("" if nothing).
std::string ensure_healthy();

/// Sessions of a cell log the C client's errors (broken connections are the point here) to stderr,
/// at most the first 20 lines per process: an election makes every client log hundreds, which
/// would push a failed cell's assertions out of CTest's captured output.
void quiet_log(zk::SessionOptions& o);

/// Number (1..3) of the server a session is connected to, 0 if none.
int server_of(const zk::Session& s);
/// Sum over the servers of the watches on paths under `prefix` (`wchp`), and the leader's
/// ephemeral nodes under `prefix` (`dump`).
std::size_t watches_under(const std::string& prefix);
std::size_t ephemerals_under(const std::string& prefix);
/// Total watch count of every server (`wchs`), for the record.
std::size_t total_watches();

// --- Calls and their deadlines -------------------------------------------------------------------

/// Every blocking call a cell makes, with the bound it must return by and how it ended.
/// Thread safety: all methods may be called from any thread.
class CallLog {
public:
  struct Call {
    std::string what;
    Ms bound;
    Ms took;
    std::string outcome; ///< "ok", an Errc name, or "untyped: <what()>"
    bool typed = true;
  };
  /// Runs fn() timed. Returns true if it returned; on zk::Error records the code, stores it in
  /// *error (if given) and returns false; any other exception is recorded as untyped, and so is a
  /// zk::Error carrying one of the C client's internal codes (runtime_inconsistency,
  /// system_error...), which the library should have classified.
  bool run(const std::string& what, Ms bound, const std::function<void()>& fn,
           zk::Errc* error = nullptr);
  /// EXPECTs: every call typed and within bound + slack. Prints a summary line.
  void expect_all_within(Ms slack = Ms(300)) const;
  [[nodiscard]] std::size_t size() const;

private:
  mutable std::mutex m_mutex;
  std::vector<Call> m_calls;
};

// --- Child processes -----------------------------------------------------------------------------

/// This test binary re-run as a worker (see matrix_worker.cpp), with pipes to its stdin and stdout
/// (stderr is inherited). Killed (SIGKILL, by pid) by the destructor if still running.
class Child {
public:
  explicit Child(const std::vector<std::string>& worker_args);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  /// Reads lines until one starts with `prefix`; returns it ("" on EOF or timeout). Every line
  /// read is kept in lines().
  std::string wait_for(const std::string& prefix, Ms timeout);
  /// Reads whatever is available within `timeout`.
  void drain(Ms timeout);
  [[nodiscard]] const std::vector<std::string>& lines() const { return m_lines; }
  void write_line(const std::string& line);
  void signal(int sig);
  /// Waits for exit; returns the exit code, 128+signal, or -1 (then it was killed) on timeout.
  int wait(Ms timeout);
  [[nodiscard]] pid_t pid() const { return m_pid; }

private:
  bool read_line(std::string& line, Clock::time_point deadline);
  pid_t m_pid = -1;
  int m_in = -1;
  int m_out = -1;
  std::string m_buffer;
  bool m_eof = false;
  std::vector<std::string> m_lines;
};

/// Entry point of the worker modes; main() calls it for `--matrix-worker ...`.
int worker_main(int argc, char** argv);

// --- The cell fixture ----------------------------------------------------------------------------

class Cell : public ::testing::TestWithParam<int> {
protected:
  /// Each cell's fixture returns its description.
  [[nodiscard]] virtual CellInfo info() const = 0;
  /// Budget of one run of the cell; the watchdog aborts after it (default 75 s).
  [[nodiscard]] virtual Ms budget() const { return Ms(75000); }

  void SetUp() override;
  void TearDown() override;
  /// Stops the cell's clients; TearDown calls it first (a failed assertion may have left them
  /// running), before the root is deleted.
  virtual void stop_clients() {}

  [[nodiscard]] std::uint64_t seed() const { return m_seed; }
  [[nodiscard]] int variant() const { return m_variant; }
  std::mt19937_64& rng() { return m_rng; }
  /// Uniform in [lo, hi].
  Ms between(Ms lo, Ms hi);
  /// One of `choices`, by the variant (so the three slots differ).
  template <class T> T by_variant(std::initializer_list<T> choices) const {
    return *(choices.begin() +
             static_cast<std::ptrdiff_t>(static_cast<std::size_t>(m_variant) % choices.size()));
  }

  /// "[ event    ] +1.234s text": a timeline line (thread-safe).
  void event(const std::string& text) const;
  /// "[ measure  ] text": numbers the report shows (thread-safe).
  void measure(const std::string& text) const;
  /// Seconds since SetUp, as "+1.234s".
  [[nodiscard]] std::string since_start() const;

  Faults& faults() { return *m_faults; }
  CallLog& calls() { return m_calls; }
  /// The cell's private root (created by a RootGuard with its own session).
  [[nodiscard]] const std::string& root() const { return m_root->path(); }
  zk::Session& admin() { return m_root->session(); }

  /// The global criteria, once the cell's clients are closed: restores the ensemble, then
  /// every call within its bound and typed, and within `settle` no watch and no ephemeral node left
  /// under root().
  void finish(Ms settle = Ms(15000));

private:
  std::uint64_t m_seed = 0;
  int m_variant = 0;
  std::mt19937_64 m_rng;
  Clock::time_point m_start;
  std::unique_ptr<Faults> m_faults;
  std::unique_ptr<RootGuard> m_root;
  CallLog m_calls;
  bool m_finished = false;
  std::size_t m_wchs_before = 0; // every server's `wchs` total at SetUp (shared ensemble: a record)

  std::mutex m_watchdog_mutex;
  std::condition_variable m_watchdog_cv;
  bool m_watchdog_stop = false;
  std::thread m_watchdog;
};

/// Instantiates a cell fixture for the three seed slots, named s0, s1, s2.
#define ZKR_MATRIX_SEEDS(Fixture)                                                                  \
  INSTANTIATE_TEST_SUITE_P(                                                                        \
      Seeds, Fixture, ::testing::Values(0, 1, 2),                                                  \
      [](const ::testing::TestParamInfo<int>& p) { return "s" + std::to_string(p.param); })

} // namespace zkt::matrix
