// The lock recipe's decision logic, with no I/O: lock node names (ours, Curator's, go-zookeeper's,
// Kazoo's), their order, whom a contender must wait for, and when a process hands the lock over to
// one of its own threads instead of releasing it. The ZooKeeper glue is in contender.cpp;
// everything here is covered by tests/unit/lock_protocol_test.cpp without a server.
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
  curator,    ///< `_c_<36-char UUID>-lock-<seq>` (Curator InterProcessMutex; also ours)
  go,         ///< `_c_<32 hex>-lock-<seq>` (go-zookeeper)
  kazoo,      ///< `<32 hex>__lock__<seq>` (Kazoo Lock / WriteLock)
  kazoo_read, ///< `<32 hex>__rlock__<seq>` (Kazoo ReadLock: ordered like an exclusive contender)
};

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
/// The name prefix we create under the lock path: `_c_<guid>-lock-` (Curator's protected form).
std::string node_prefix(std::string_view guid);
/// True if `child` is a node created with `guid` (by this process, in some attempt).
bool has_guid(std::string_view child, std::string_view guid);

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
Ordering order_children(const std::vector<std::string>& children);

/// The queue engine's decision (acquired, wait for a node, missing).
using Decision = core::QueueDecision;

/// What the contender owning `my_node` (created with `my_guid`) must do, given the listed children.
/// Only the head of the queue watches an unrecognised child, so a foreign node causes no herd.
Decision decide(const std::vector<std::string>& children, std::string_view my_node,
                std::string_view my_guid);

/// The child created with `guid` after a create whose reply was lost: the lowest in order, if any.
std::optional<std::string> find_own(const std::vector<std::string>& children,
                                    std::string_view guid);

/// The engine's rule for handing a hold to another thread of the process.
using core::hand_over_locally;

/// The exclusive lock as a policy of the queue engine: the functions above.
class ExclusivePolicy final : public core::QueuePolicy {
public:
  [[nodiscard]] std::string make_guid() const override;
  [[nodiscard]] std::string node_prefix(std::string_view guid) const override;
  [[nodiscard]] bool created_with(std::string_view child, std::string_view guid) const override;
  [[nodiscard]] std::optional<std::string> find_own(const std::vector<std::string>& children,
                                                    std::string_view guid) const override;
  [[nodiscard]] Decision decide(const std::vector<std::string>& children, std::string_view me,
                                std::string_view guid) const override;
  /// The one instance (the policy has no state).
  static const ExclusivePolicy& instance() noexcept;
};

} // namespace zk::detail::lock
