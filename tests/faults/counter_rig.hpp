// A counter workload for the fault matrix: N clients, each with its own Session and
// DistributedCounter on one znode, adding random deltas (1..5) in a loop while a cell injects its
// fault. Every call is recorded as a zkt::CounterOp (invoke and complete on CLOCK_MONOTONIC;
// outcome ok with the value returned, indeterminate for Errc::indeterminate, failed for every
// other zk::Error: the counter's contract is that nothing else may have been applied) and goes
// through the cell's CallLog (deadline, typed error). check() reads the final value after a sync
// and runs zkt::check_counter: ok values unique and in real-time order, final = ok deltas + a
// subset of the indeterminate ones (no lost, no doubled update).
//
// Thread safety: control and query methods may be called from any thread while it runs.
#pragma once

#include "matrix_support.hpp"

#include <zkrecipes/distributed_counter.hpp>

#include <algorithm>

namespace zkt::matrix {

struct CounterRigOptions {
  std::string path;
  int clients = 3;
  Ms session_timeout{3000};
  Ms operation_timeout{2000};
  Ms deadline{2000}; ///< of each add
  Ms idle_max{20};   ///< pause between two adds: uniform in [0, idle_max]
  /// Per-client idle_max (missing entries: idle_max).
  std::vector<Ms> idle_max_of;
  /// Connect string of each client (missing entries: zkt::hosts()).
  std::vector<std::string> hosts;
  /// Clients that start parked (see park()).
  std::vector<int> parked;
};

class CounterRig {
public:
  struct Stamp {
    std::int64_t ns;
    std::string what;
  };

  CounterRig(CounterRigOptions options, CallLog& calls, std::uint64_t seed);
  ~CounterRig();
  CounterRig(const CounterRig&) = delete;
  CounterRig& operator=(const CounterRig&) = delete;

  /// Connects every client (before any fault) and starts their loops.
  void start();
  /// Ends the loops and closes the sessions. Idempotent.
  void stop();
  /// A parked client makes no calls until unparked.
  void park(int i, bool parked);
  /// Waits until parked client i has finished its call in progress.
  bool wait_idle(int i, Ms timeout);
  /// Waits until `n` ops completed ok (in total, or by client i).
  bool wait_ok(std::size_t n, Ms timeout);
  bool wait_ok_of(int i, std::size_t n, Ms timeout);
  /// Ops by client i (any outcome) invoked after `ns`, and those of them that were ok.
  [[nodiscard]] std::size_t ops_of_since(int i, std::int64_t ns) const;
  [[nodiscard]] std::size_t ok_of_since(int i, std::int64_t ns) const;
  [[nodiscard]] int size() const { return m_options.clients; }
  zk::Session& session(int i);
  [[nodiscard]] std::int64_t first_session(int i) const;
  [[nodiscard]] std::vector<Stamp> states(int i) const;
  [[nodiscard]] std::vector<CounterOp> history() const;
  [[nodiscard]] std::vector<CounterOp> history_of(int i) const;
  /// Client i's calls and session states since `ns`, one per line (for failure messages).
  [[nodiscard]] std::string describe_since(int i, std::int64_t ns) const;

  /// EXPECTs the counter's history (plus `extra`, e.g. from worker processes) against the final
  /// value. Returns the numbers for the report.
  std::string check(const std::vector<CounterOp>& extra = {});

private:
  struct Client;
  void run(Client& c);

  CounterRigOptions m_options;
  CallLog& m_calls;
  std::uint64_t m_seed;
  std::atomic<bool> m_stop{false};
  mutable std::mutex m_mutex;
  std::condition_variable m_cv;
  std::vector<std::unique_ptr<Client>> m_clients;
};

/// The fixture of the counter cells: a CounterRig under the cell's root, its history check, then
/// the global criteria.
class CounterCell : public Cell {
protected:
  CounterRigOptions rig_options(Ms session_timeout) {
    CounterRigOptions o;
    o.path = root() + "/counter";
    o.session_timeout = session_timeout;
    return o;
  }
  CounterRig& run(CounterRigOptions o) {
    m_rig = std::make_unique<CounterRig>(std::move(o), calls(), seed());
    m_rig->start();
    return *m_rig;
  }
  /// The history check, then the global criteria.
  void done(const std::vector<CounterOp>& extra = {}) {
    measure(m_rig->check(extra));
    m_rig.reset();
    finish();
  }
  /// A client connected to a follower (the seed picks among them), or -1.
  int client_on_follower(CounterRig& rig, int leader) {
    std::vector<int> on;
    for (int i = 0; i < rig.size(); ++i) {
      const int n = server_of(rig.session(i));
      if (n != 0 && n != leader) on.push_back(i);
    }
    return on.empty() ? -1 : on[rng()() % on.size()];
  }
  /// EXPECTs that every client completes `n` ok adds that began after `since`.
  void expect_progress_since(CounterRig& rig, std::int64_t since, std::size_t n, Ms timeout) {
    const auto deadline = Clock::now() + timeout;
    for (int i = 0; i < rig.size(); ++i) {
      EXPECT_TRUE(wait_until([&] { return rig.ok_of_since(i, since) >= n; },
                             std::chrono::duration_cast<Ms>(deadline - Clock::now())))
          << "client " << i << " made no progress after the fault";
    }
  }

  void stop_clients() override { m_rig.reset(); }

private:
  std::unique_ptr<CounterRig> m_rig;
};

#define ZKR_COUNTER_CELL(Name, Id, Fault, Criteria)                                                \
  class Name : public CounterCell {                                                                \
  protected:                                                                                       \
    CellInfo info() const override { return {Id, "counter", Fault, Criteria}; }                    \
  };                                                                                               \
  ZKR_MATRIX_SEEDS(Name)

} // namespace zkt::matrix
