// The state behind a zk::DistributedCounter: its cached snapshot, its writer identity, the
// competition for its node, the drivers of its read-modify-write protocol (update_run.hpp), and the
// combiner that batches concurrent deltas.
#pragma once

#include "core/async_completion.hpp"
#include "core/completion.hpp"
#include "core/gate.hpp"
#include "recipes/counter/contention.hpp"
#include "recipes/counter/decisions.hpp"
#include "recipes/counter/turns.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

namespace zk::detail {

class CounterCore : public std::enable_shared_from_this<CounterCore> {
public:
  CounterCore(std::shared_ptr<core::Gate> session, std::string path, CounterOptions options,
              const counter::ContentionPolicy& policy = {});
  ~CounterCore();
  CounterCore(const CounterCore&) = delete;
  CounterCore& operator=(const CounterCore&) = delete;
  CounterCore(CounterCore&&) = delete;
  CounterCore& operator=(CounterCore&&) = delete;

  AddResult add(std::int64_t delta, Deadline deadline);
  std::int64_t get(Deadline deadline);
  CasResult compare_and_set(std::int64_t expected, std::int64_t desired, Deadline deadline);
  /// add() and compare_and_set() without blocking (see update_async()); never combined.
  void async_add(std::int64_t delta, Deadline deadline, const CancelToken* cancel,
                 core::Decided<AddResult> done);
  void async_compare_and_set(std::int64_t expected, std::int64_t desired, Deadline deadline,
                             const CancelToken* cancel, core::Decided<CasResult> done);
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
  /// Runs one versioned read-modify-write under the retry policy until `deadline` (and tells the
  /// session's observer how it went).
  Outcome update(const Decide& decide, Clock::time_point deadline);

  /// update() without blocking: `done` gets the outcome or the update's error once, on the
  /// session's callback thread (never inside this call). The update keeps this core alive until
  /// then. `cancel` (may be null) stops it before its next request; a write already out is
  /// followed to its answer. Throws Errc::session_closed for a closed session.
  void update_async(Decide decide, Clock::time_point deadline, const CancelToken* cancel,
                    core::Decided<Outcome> done);

private:
  class Run;         // the protocol of one update (update_run.hpp)
  class AsyncUpdate; // its driver without a thread (async_update.cpp)
  /// The blocking driver; `writes` gets the writes sent by an update that throws.
  Outcome run_update(const Decide& decide, Clock::time_point deadline, int& writes);
  /// The decisions of add(delta) and of compare_and_set (which throws Errc::overflow at once for a
  /// `desired` that does not fit the codec).
  Decide adding(std::int64_t delta) const;
  Decide swapping(std::int64_t expected, std::int64_t desired) const;
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

  /// One send of a write: its reply, the new Stat or why it was refused. Its answer arrives even
  /// after the caller stopped waiting for it; an answer that comes late is the best evidence about
  /// a "lost" reply.
  using Flight = core::Completion<Stat>;
  /// A read; sent right behind a write while contended, its answer after a refusal is the fresh
  /// snapshot the retry needs.
  using ReadFlight = core::Completion<NodeData>;
  /// Sends a read or a write, answered on the C client's thread (no dispatcher hop, and our wins
  /// are noted there in the connection's order, whichever driver waits); `wake` runs there once the
  /// answer is stored, so it only passes the news on.
  std::shared_ptr<ReadFlight> start_read(std::function<void()> wake);
  std::shared_ptr<Flight> start_write(const counter::PlannedWrite& w, std::function<void()> wake);
  counter::Snapshot snapshot_of(const std::optional<NodeData>& node) const;
  // The competition for the node (contention.hpp).
  bool contended();
  /// Our children of the node now: our marker and our turn node (turns.hpp).
  int own_children();
  /// A reply's child count; `own_sent` is own_children() when its request left.
  void saw_children(std::int32_t children, int own_sent);
  const counter::ContentionPolicy& policy() const noexcept {
    return m_competition->contention.policy(); // fixed at construction
  }
  void saw_conflict();
  /// After `conflicts` conflicts in one call: whether to create our marker now (then `session` is
  /// the session it belongs to, and announced() must follow).
  bool claim_announce(int conflicts, std::int64_t& session);
  /// The marker created (or empty if none was); arms its withdrawal (arm_withdrawal).
  void announced(const std::string& marker, std::int64_t session);
  /// This object's turns (created on first use), or null if the policy takes none.
  std::shared_ptr<counter::Turns> turns();
  /// A contended win whose write took `latency`: the next write waits a little.
  void won(std::chrono::nanoseconds latency);
  /// When a write may leave after the last contended win.
  Clock::time_point turn_at();
  counter::Snapshot written(const counter::PlannedWrite& w, const Stat& stat) const;
  /// The deadline of one request: the call's, but no later than the session's operation timeout.
  Clock::time_point request_deadline(Clock::time_point deadline) const;
  std::optional<counter::Snapshot> cached() const;
  void remember(const counter::Snapshot& s);
  void forget();
  /// Whether a write of this object won after `base` was read: a refusal is then (at least) our
  /// own threads' doing.
  bool won_since(const counter::Snapshot& base) const;
  counter::Tag next_tag() noexcept;

  std::shared_ptr<core::Gate> m_session;
  std::string m_path;
  CounterOptions m_options;
  std::uint64_t m_writer;
  std::atomic<std::uint64_t> m_sequence{0};

  /// The competition for the node, shared with the timer that withdraws our marker once it has
  /// been quiet (the timer holds it weakly: a counter destroyed first deletes the marker itself).
  struct Competition {
    explicit Competition(const counter::ContentionPolicy& policy) : contention(policy) {}
    std::shared_ptr<core::Gate> gate;
    std::mutex mutex; // all below
    counter::Contention contention;
    std::string marker; // our marker's path (ephemeral, of session marker_session), or empty
    std::int64_t marker_session = 0;
    bool announcing = false;
    Clock::time_point not_before{};
    /// Our latest won write (czxid, version), noted as its reply lands, before any refusal that
    /// follows it on the connection.
    std::optional<std::pair<std::int64_t, std::int32_t>> own_win;
    void note_win(const Stat& stat);
  };
  /// Checks at `at` (on the callback thread) whether the marker may go; re-arms itself if not.
  static void arm_withdrawal(const std::shared_ptr<Competition>& c, Clock::time_point at);
  std::shared_ptr<Competition> m_competition;
  std::mutex m_turns_mutex;
  std::shared_ptr<counter::Turns> m_turns;

  mutable std::mutex m_cache_mutex;
  std::optional<counter::Snapshot> m_cache;

  std::mutex m_combine_mutex; // the combiner's queue and leader flag
  std::condition_variable m_combine_cv;
  std::deque<Request*> m_queue;
  bool m_leader_active = false;
};

} // namespace zk::detail
