// The queue engine's policy: the pure decisions that make one recipe of the engine (the exclusive
// lock, the read-write lock's sides, the semaphore's leases, the leader election), as
// Curator's LockInternalsDriver makes its mutex, read-write lock and semaphore of one
// LockInternals. A policy does no I/O: given the children of the queue's path and our node, it says
// whether we hold, whom we wait for, or that our node is missing. Implementations are unit-tested
// alone.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zk::detail::core {

/// What the contender owning a node must do, given the listed children.
struct QueueDecision {
  enum class Kind {
    acquired, ///< we hold (our node is first by the policy's rule, nothing blocks us)
    wait,     ///< watch `watch` (our predecessor, or a foreign child blocking the head), or the
              ///< children (watch_children)
    missing,  ///< our node is not among the children (deleted, or expired with the session)
    foreign,  ///< children of another protocol are on the path (named in `unrecognised`): fail
  };
  Kind kind = Kind::missing;
  std::string watch;
  /// Wait for any change of the children instead of one node (a semaphore's waiter: any lease that
  /// goes may free a place).
  bool watch_children = false;
  /// We are at the head of the queue but unrecognised children block us (named in `unrecognised`).
  bool blocked = false;
  std::vector<std::string> unrecognised;
  /// Other children carrying our guid (a protected create applied twice): delete them.
  std::vector<std::string> stale_own;
};

/// Whether a thread releasing a hold hands it to a waiting thread of the same process (no
/// ZooKeeper traffic) instead of releasing it for everyone. Bounded so other processes are not
/// starved: at most `max_handoffs` handoffs in a row, and none once the process has held it for
/// `max_hold`.
bool hand_over_locally(std::size_t handoffs_done, std::chrono::milliseconds held_for,
                       std::size_t max_handoffs, std::chrono::milliseconds max_hold,
                       bool local_waiters);

class QueuePolicy {
public:
  QueuePolicy() = default;
  virtual ~QueuePolicy() = default;
  QueuePolicy(const QueuePolicy&) = delete;
  QueuePolicy& operator=(const QueuePolicy&) = delete;
  QueuePolicy(QueuePolicy&&) = delete;
  QueuePolicy& operator=(QueuePolicy&&) = delete;

  /// False if our node's name is complete without a sequence (Kazoo's semaphore lease): it is
  /// created ephemeral, not ephemeral-sequential, and a create that finds it existing found ours.
  [[nodiscard]] virtual bool sequential() const { return true; }
  /// What the queue is, for messages: "lock", "Curator LeaderLatch"…
  [[nodiscard]] virtual const char* name() const = 0;
  /// A fresh protection id for one attempt (the guid in our node's protected name).
  [[nodiscard]] virtual std::string make_guid() const = 0;
  /// The name we create under the queue's path for `guid` (the server appends the sequence).
  [[nodiscard]] virtual std::string node_prefix(std::string_view guid) const = 0;
  /// True if `child` was created with `guid` (by this process, in some attempt).
  [[nodiscard]] virtual bool created_with(std::string_view child, std::string_view guid) const = 0;
  /// Our child after a create whose reply was lost (the first in the queue's order), if any.
  [[nodiscard]] virtual std::optional<std::string>
  find_own(const std::vector<std::string>& children, std::string_view guid) const = 0;
  /// The decision for our node `me` (created with `guid`) among `children`.
  [[nodiscard]] virtual QueueDecision decide(const std::vector<std::string>& children,
                                             std::string_view me, std::string_view guid) const = 0;
  /// True if holders overlap (a read-write lock's readers): every thread of the process waiting on
  /// the queue shares our node's hold, and a thread arriving while it is held joins it (within the
  /// bounds of hand_over_locally, so that writers elsewhere are not starved).
  [[nodiscard]] virtual bool shared() const { return false; }
  /// True if the deletion of `predecessor` may come with a new node ordered before ours (a
  /// read-write lock's writer downgrading: its read node takes the writer's sequence), so the
  /// children must be listed again instead of concluding from the last listing.
  [[nodiscard]] virtual bool relist_after_delete(std::string_view /*predecessor*/) const {
    return false;
  }
};

} // namespace zk::detail::core
