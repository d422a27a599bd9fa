// The state behind a zk::DistributedCounter: its cached snapshot, its writer identity, the
// read-modify-write loop that turns the pure decisions (decisions.hpp) into session calls, and the
// combiner that batches concurrent deltas.
#pragma once

#include "core/completion.hpp"
#include "core/gate.hpp"
#include "recipes/counter/decisions.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

namespace zk::detail {

class CounterCore {
public:
  CounterCore(std::shared_ptr<core::Gate> session, std::string path, CounterOptions options);

  AddResult add(std::int64_t delta, Deadline deadline);
  std::int64_t get(Deadline deadline);
  CasResult compare_and_set(std::int64_t expected, std::int64_t desired, Deadline deadline);
  void set(std::int64_t value, Deadline deadline);

  const std::string& path() const noexcept { return m_path; }
  const CounterOptions& options() const noexcept { return m_options; }

  /// What one update wants to do with the value it sees. `fresh` says whether the snapshot was just
  /// read (true) or is the cache (false): a decision that depends on the exact value (a CAS that
  /// would answer false, an overflow) asks for a refresh before acting on a cached value.
  struct Decision {
    enum Kind { write, stop, refresh } kind = stop;
    std::int64_t value = 0;
  };
  using Decide = std::function<Decision(const counter::Snapshot&, bool fresh)>;
  struct Outcome {
    counter::Snapshot base; ///< the snapshot the applied write (or the stop) was based on
    std::int64_t after = 0; ///< the value written (base.value after a stop)
    int attempts = 0;       ///< writes sent
    int lost_replies = 0;   ///< writes whose reply was lost (each then proven)
    bool wrote = false;
  };
  /// Runs one versioned read-modify-write under the retry policy until `deadline`.
  Outcome update(const Decide& decide, Clock::time_point deadline);

private:
  struct Request {
    std::int64_t delta = 0;
    Clock::time_point deadline;
    bool lead = false;
    bool done = false;
    AddResult result;
    std::exception_ptr error;
  };

  AddResult add_alone(std::int64_t delta, Clock::time_point deadline);
  AddResult add_combined(std::int64_t delta, Clock::time_point deadline);
  void run_batch(const std::vector<Request*>& batch);

  /// One write on its way. Its answer arrives on the session's callback thread even after the
  /// caller stopped waiting for it; an answer that comes late is the best evidence about a "lost"
  /// reply.
  /// One send of a write: its reply, the new Stat or why it was refused.
  using Flight = core::Completion<Stat>;
  /// A write whose reply did not come: the write, what it was based on, and every send of it.
  struct Doubt {
    counter::PlannedWrite write;
    counter::Snapshot base;
    std::string cause;
    std::vector<std::shared_ptr<Flight>> sends;
  };

  counter::Snapshot read(Clock::time_point deadline);
  std::shared_ptr<Flight> start_write(const counter::PlannedWrite& w);
  counter::Snapshot written(const counter::PlannedWrite& w, const Stat& stat) const;
  /// Verdict on a doubt from a fresh read: late answers first, then the node's evidence.
  counter::Verdict judge(Doubt& doubt, const counter::Snapshot& now, Clock::time_point deadline);
  /// The deadline of one request: the call's, but no later than the session's operation timeout.
  Clock::time_point request_deadline(Clock::time_point deadline) const;
  std::optional<counter::Snapshot> cached() const;
  void remember(const counter::Snapshot& s);
  void forget();
  counter::Tag next_tag() noexcept;

  std::shared_ptr<core::Gate> m_session;
  std::string m_path;
  CounterOptions m_options;
  std::uint64_t m_writer;
  std::atomic<std::uint64_t> m_sequence{0};

  mutable std::mutex m_cache_mutex;
  std::optional<counter::Snapshot> m_cache;

  std::mutex m_combine_mutex; // the combiner's queue and leader flag
  std::condition_variable m_combine_cv;
  std::deque<Request*> m_queue;
  bool m_leader_active = false;
};

} // namespace zk::detail
