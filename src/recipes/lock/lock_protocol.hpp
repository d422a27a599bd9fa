// The decision logic of every exclusive queue (the lock, and the leader election's latch and
// selector), with no I/O: node names (ours, Curator's mutex and latch, go-zookeeper's, Kazoo's),
// their order, whom a contender must wait for, and which children of a path take part (a profile).
// The ZooKeeper glue is core's queue engine; everything here is covered by
// tests/unit/lock_protocol_test.cpp without a server.
#pragma once

#include "core/queue_policy.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zk::detail::lock {

/// Who wrote a lock node, judged by its name.
enum class NameForm {
  curator,       ///< `_c_<36-char UUID>-lock-<seq>` (Curator InterProcessMutex; also ours)
  go,            ///< `_c_<32 hex>-lock-<seq>` (go-zookeeper)
  kazoo,         ///< `<32 hex>__lock__<seq>` (Kazoo Lock / WriteLock)
  kazoo_read,    ///< `<32 hex>__rlock__<seq>` (Kazoo ReadLock: ordered like an exclusive contender)
  latch,         ///< `_c_<36-char UUID>-latch-<seq>` (Curator LeaderLatch; also our LeaderLatch)
  curator_write, ///< `_c_<36-char UUID>-__WRIT__<seq>` (Curator InterProcessReadWriteLock writer)
  curator_read,  ///< `_c_<36-char UUID>-__READ__<seq>` (its reader; also a downgraded writer's)
};

/// True for the forms of a read-write lock's readers (Curator's `__READ__`, Kazoo's `__rlock__`).
bool is_read_form(NameForm form);

/// Which children of a path take part in one queue, and the form of the node we create there.
struct Profile {
  const char* name;                 ///< for messages: "Curator LeaderLatch"
  NameForm ours;                    ///< the form of the nodes we create
  std::vector<NameForm> contenders; ///< the forms ordered in the queue (ours among them)
  /// What any other child does: block the head of the queue until it is deleted (the lock's
  /// rule), fail fast with Errc::foreign_node (recipes whose peers never mix on one path), or
  /// nothing (a counter's turns: its node's other children are its contention markers).
  enum class Foreign { blocks, fails, ignored } foreign;
};
/// DistributedLock: Curator's mutex form, also go-zookeeper's and Kazoo's (Lock, ReadLock) names;
/// anything else blocks the head.
const Profile& mutex_profile();
/// LeaderLatch: Curator's latch form only.
const Profile& latch_profile();
/// LeaderSelector, Curator profile: Curator's mutex form only (Curator's LeaderSelector is a
/// mutex).
const Profile& selector_profile();
/// LeaderSelector, Kazoo profile: Kazoo's Election (a Kazoo Lock) form only.
const Profile& kazoo_election_profile();
/// A DistributedCounter's turns (contention.hpp): our mutex form, under the counter's own node;
/// every other child is ignored.
const Profile& counter_turn_profile();

struct LockName {
  std::string name; ///< the child name as listed
  NameForm form;
  std::string guid;      ///< the protection id inside the name
  std::int32_t sequence; ///< the server's sequence number (the parent's int32 cversion)
};

/// Parses a child of a lock path; nullopt if it is none of the recognised forms.
std::optional<LockName> parse_lock_name(std::string_view child);

/// Parses a sequence suffix exactly as the server writes it (`%010d` of an int32).
std::optional<std::int32_t> parse_sequence(std::string_view text);
/// Formats a sequence number as the server does (`%010d`): "0000000042", "-2147483648".
std::string format_sequence(std::int32_t sequence);

/// A new random (version 4) UUID in its 36-character text form: the protection id of one attempt.
std::string make_guid();
/// The protection id of one attempt for nodes of `form`: a UUID, or 32 hex digits for Kazoo's.
std::string make_guid(NameForm form);
/// The name prefix we create under the lock path: `_c_<guid>-lock-` (Curator's protected form).
std::string node_prefix(std::string_view guid);
/// The name prefix of a node of `form` with `guid` (the server appends the sequence).
std::string node_prefix(NameForm form, std::string_view guid);
/// True if `child` is a node created with `guid` (by this process, in some attempt).
bool has_guid(std::string_view child, std::string_view guid);
bool has_guid(NameForm form, std::string_view child, std::string_view guid);

/// The children of a lock path in protocol order.
struct Ordering {
  std::vector<LockName> contenders;      ///< recognised names, first = holder
  std::vector<std::string> unrecognised; ///< every other child, sorted by name: they block the head
};

/// Orders recognised children by sequence number. The sequence is a signed 32-bit counter that
/// wraps from 2147483647 to -2147483648, so a plain numeric (or textual) sort is wrong across the
/// wrap: the order starts after the largest gap between neighbouring values on the 2^32 circle.
/// With fewer than 2^31 creates between the oldest and the newest live node (always, in practice)
/// this is the creation order, and every client that lists the same children computes the same
/// order.
/// Under a profile, only its contender forms are ordered; every other child is unrecognised.
/// Equal sequence numbers come only from a read-write lock's downgrade (a read node named with its
/// writer's sequence): the reader is ordered first, so the writer it replaces never blocks it.
Ordering order_children(const std::vector<std::string>& children,
                        const Profile& profile = mutex_profile());

/// The queue engine's decision (acquired, wait for a node, missing).
using Decision = core::QueueDecision;

/// What the contender owning `my_node` (created with `my_guid`) must do, given the listed children.
/// Only the head of the queue watches an unrecognised child, so a foreign node causes no herd.
/// Under a profile whose foreign children fail, any unrecognised child is Decision::Kind::foreign.
Decision decide(const std::vector<std::string>& children, std::string_view my_node,
                std::string_view my_guid, const Profile& profile = mutex_profile());

/// The child created with `guid` after a create whose reply was lost: the lowest in order, if any.
std::optional<std::string> find_own(const std::vector<std::string>& children, std::string_view guid,
                                    const Profile& profile = mutex_profile());

/// The engine's rule for handing a hold to another thread of the process.
using core::hand_over_locally;

/// An exclusive queue under one profile as a policy of the queue engine: the functions above.
class ExclusivePolicy final : public core::QueuePolicy {
public:
  explicit ExclusivePolicy(const Profile& profile) : m_profile(profile) {}
  [[nodiscard]] const char* name() const override { return m_profile.name; }
  [[nodiscard]] std::string make_guid() const override;
  [[nodiscard]] std::string node_prefix(std::string_view guid) const override;
  [[nodiscard]] bool created_with(std::string_view child, std::string_view guid) const override;
  [[nodiscard]] std::optional<std::string> find_own(const std::vector<std::string>& children,
                                                    std::string_view guid) const override;
  [[nodiscard]] Decision decide(const std::vector<std::string>& children, std::string_view me,
                                std::string_view guid) const override;
  /// An unrecognised predecessor, or a Kazoo-form one where Kazoo readers take part (the mutex),
  /// may be a read-write lock's writer that downgraded.
  [[nodiscard]] bool relist_after_delete(std::string_view predecessor) const override;
  [[nodiscard]] const Profile& profile() const noexcept { return m_profile; }
  /// The lock's policy (mutex_profile()).
  static const ExclusivePolicy& instance() noexcept;
  /// The one policy of each profile above.
  static const ExclusivePolicy& of(const Profile& profile) noexcept;

private:
  const Profile& m_profile;
};

} // namespace zk::detail::lock
