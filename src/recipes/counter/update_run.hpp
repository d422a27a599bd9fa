// One versioned read-modify-write of a counter, as a machine of steps: it decides what to send
// next and judges every answer (conditional writes, conflict retries with backoff, the contention
// marker, the proof of a write whose reply was lost), but it never waits. Its driver does: the
// blocking form on the caller's thread (CounterCore::update), the asynchronous one on the session's
// callback thread and its timers (async_update.cpp). So both forms run one protocol.
#pragma once

#include "recipes/counter/counter_core.hpp"

#include "core/retry.hpp"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace zk::detail {

class CounterCore::Run {
public:
  /// An update of `core` (which must outlive it) until `deadline`. `wake` runs whenever an answer
  /// lands, on the C client's thread or the session's callback thread: it must not call advance()
  /// there, only tell the driver.
  Run(CounterCore& core, Decide decide, Clock::time_point deadline, std::function<void()> wake);
  /// Leaves its place in the wait for a turn.
  ~Run();
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;
  Run(Run&&) = delete;
  Run& operator=(Run&&) = delete;

  /// Goes as far as it can without waiting: the outcome once the update is over, or nullopt while
  /// it waits (for an answer, which runs `wake`, or for a pause) until until() at the latest.
  /// Throws the update's zk::Error.
  std::optional<Outcome> advance();
  /// When advance() must be called again, whatever woke it meanwhile.
  [[nodiscard]] Clock::time_point until() const noexcept { return m_until; }
  /// The conditional writes sent so far (what the observer is told, also of an update that threw).
  [[nodiscard]] int writes() const noexcept { return m_backoff.attempts(); }
  /// No new request may leave: the next one that would is `why` instead (an indeterminate update
  /// if a write is in doubt). The answers to writes still out are awaited; no pause, yield or read
  /// behind it is. Call advance() next.
  void stop(const Error& why);
  /// What the update ends with if it must end now, stopped by `why`: Errc::indeterminate if a
  /// write is in doubt or still unanswered, else `why`.
  [[nodiscard]] Error abandoned(const Error& why) const;

private:
  enum class Phase {
    top,        ///< reads if there is no snapshot, proves a doubt, or plans the write
    reading,    ///< a read is out
    proving,    ///< waiting for the answers of every send of a write in doubt
    queued,     ///< contended: waiting for this object's turn (turns.hpp) before writing
    turn,       ///< waiting for our turn after a contended win, then sending the write
    writing,    ///< a write (and maybe a read behind it) is out
    behind,     ///< the write was answered; the read behind it is out
    parents,    ///< the creates of the node's missing ancestors are out
    announcing, ///< the create of our contention marker is out
    pause,      ///< the backoff before the next round
  };
  /// A send of a write (a Completion<Stat>) and the write it carries.
  struct Doubt {
    counter::PlannedWrite write;
    counter::Snapshot base;
    std::string cause;
    std::vector<std::shared_ptr<Flight>> sends;
  };

  /// advance() without its last word on errors.
  std::optional<Outcome> steps();
  // Each step returns true when it must wait, false to go on at once.
  bool top();
  bool reading();
  /// A read that failed or could not be sent: a retry, a proof given up, or the end of the call.
  bool read_failed(const Error& e);
  bool proving();
  bool plan();
  bool queued();
  bool turn();
  bool writing();
  bool written();
  bool parents();
  bool announcing();
  /// After a failed round: the backoff's pause, the last proof read, or the end of the call.
  bool pause_or_give_up();
  /// Throws what stop() asked for, if it did (advance() turns it into indeterminate when in doubt).
  void check_stop() const;
  [[nodiscard]] Error indeterminate(const std::string& why) const;
  [[nodiscard]] Error exhausted(const std::string& why) const;
  bool finish(const Outcome& outcome);

  CounterCore& m_core;
  Decide m_decide;
  Clock::time_point m_deadline;
  std::function<void()> m_wake;
  Backoff m_backoff;
  Phase m_phase = Phase::top;
  Clock::time_point m_until;
  std::optional<Outcome> m_outcome;
  std::optional<Error> m_stop;

  std::optional<counter::Snapshot> m_snap;
  bool m_fresh = false;
  std::optional<Doubt> m_doubt; // a write whose reply did not come, not judged yet
  std::string m_last_error = "none";
  bool m_proof_only =
      false; // out of attempts: only a proof of the doubtful write may still succeed
  int m_lost = 0;
  int m_conflicts = 0;

  // The round's write: planned, then out.
  std::optional<counter::PlannedWrite> m_write;
  counter::Snapshot m_base;
  bool m_resend = false;
  bool m_turn_taken = false;
  // This object's turn (turns.hpp): asked for while contended, held by this update once granted.
  std::shared_ptr<counter::Turns> m_turns;
  std::uint64_t m_ticket = 0; // our place in the wait for a turn
  bool m_in_turn = false;
  bool m_no_turn = false; // the wait for a turn failed: this update writes without one
  int m_own_sent = 0;     // our children of the node when the latest request left
  Clock::time_point m_sent;
  std::shared_ptr<Flight> m_flight;
  std::shared_ptr<ReadFlight> m_read;   // the round's read, or the read behind its write
  std::optional<Errc> m_code;           // the write's answer (deadline_exceeded: none in time)
  Stat m_stat;                          // its Stat, when ok
  std::chrono::nanoseconds m_latency{}; // from its send to its answer
  std::vector<std::shared_ptr<core::Completion<Created>>> m_creates; // ancestors, or the marker
  std::int64_t m_marker_session = 0;
  /// Whether our marker's create was answered first or given up on first (shared with its
  /// callback).
  enum class MarkerFate { pending, landed, given_up };
  std::shared_ptr<std::atomic<MarkerFate>> m_marker_fate;
};

} // namespace zk::detail
