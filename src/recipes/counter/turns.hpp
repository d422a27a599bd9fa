// The turns of a contended counter. Under contention (contention.hpp) an update waits for this
// object's turn before it writes: a FIFO queue of ephemeral-sequential children of the counter's
// own node, on the queue engine with our lock's protocol. A turn lasts ContentionPolicy::turn;
// every update of this object may write in it, then it goes to the next process in line.
//
// Why: with optimistic writes only, a fair writer must read before it writes, and every writer that
// loses a race sends a doomed write, which ZooKeeper logs like any other (an error transaction).
// A turn's holder writes on its cached version, one conditional setData per increment with nobody
// racing it, so N writers together keep about one writer's rate, and each waits at most the
// turns of the others ahead of it.
//
// Turns only order writers; they never decide what is written. Every write stays a versioned
// compare-and-set judged as before, so an expired session, a deleted turn node or a writer that
// takes no turns (Curator, Kazoo, an older zkrecipes) costs a conflict, never a wrong count.
#pragma once

#include "core/gate.hpp"
#include "core/queue_engine.hpp"
#include "recipes/counter/contention.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace zk::detail::counter {

class Turns : public std::enable_shared_from_this<Turns> {
public:
  Turns(std::shared_ptr<core::Gate> gate, std::string path, const ContentionPolicy& policy);
  /// Ends a turn held or awaited. A held turn's node is deleted before it returns (on the callback
  /// thread: in the background); a turn still awaited is withdrawn in the background.
  ~Turns();
  Turns(const Turns&) = delete;
  Turns& operator=(const Turns&) = delete;
  Turns(Turns&&) = delete;
  Turns& operator=(Turns&&) = delete;

  enum class Answer {
    held, ///< our turn: write in it
    wait, ///< `wake` runs when that may have changed: ask again with the same `ticket`
    skip, ///< no turn to be had (a wait for one failed lately): write without it
  };
  /// For an update that wants to write in our turn. `ticket` is 0 at first; ask() sets it while
  /// the update waits (forget() it if the update ends first, as at its own deadline). A wait for
  /// a turn fails after ContentionPolicy::turn_wait.
  Answer ask(std::uint64_t& ticket, std::function<void()> wake);
  /// A write in our turn took `latency`: a turn lasts at least 8 of the fastest such writes.
  void wrote(std::chrono::nanoseconds latency);
  /// An update that waited ends without asking again.
  void forget(std::uint64_t ticket);
  /// Our children of the counter node: 1 while our turn node exists or is being created, else 0.
  [[nodiscard]] int own_nodes() const;

private:
  enum class State { idle, acquiring, held };
  struct Waiter {
    std::function<void()> wake;
    std::uint64_t generation;
  };
  using Wakes = std::vector<std::function<void()>>;

  void acquired(const std::optional<Error>& error, std::uint64_t grant);
  void expire(std::uint64_t grant);
  void lost();
  /// Ends the held turn (the lock is held).
  void release(std::unique_lock<std::mutex>& lk) noexcept;
  Wakes take_wakes();

  std::shared_ptr<core::Gate> m_gate;
  ContentionPolicy m_policy;
  core::Hold m_hold;

  std::atomic<std::int64_t> m_turn_fastest_ns{0}; ///< our fastest write in the current turn

  mutable std::mutex m_mutex; // all below
  State m_state = State::idle;
  std::uint64_t m_grant = 0;
  std::uint64_t m_ended = 0;            ///< waits for a turn that have ended
  bool m_last_failed = false;           ///< the latest of them failed
  std::int64_t m_link_ns = 0;           ///< the fastest write of our latest turn with a write
  Clock::time_point m_no_turns_until{}; ///< after a failed wait: no new one before
  std::uint64_t m_next_ticket = 0;
  std::map<std::uint64_t, Waiter> m_waiters;
};

} // namespace zk::detail::counter
