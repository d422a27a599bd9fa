// The lock recipe's decision logic, with no I/O: lock node names (ours, Curator's, go-zookeeper's,
// Kazoo's), their order, whom a contender must wait for, and when a process hands the lock over to
// one of its own threads instead of releasing it. The ZooKeeper glue is in contender.cpp;
// everything here is covered by tests/unit/lock_protocol_test.cpp without a server.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
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
/// has_guid as a predicate, for the janitor's delete_matching_in_background.
std::function<bool(std::string_view)> created_with(std::string guid);

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

struct Decision {
  enum class Kind {
    acquired, ///< our node is first and nothing unrecognised is present
    wait,     ///< watch `watch` (our predecessor, or an unrecognised child blocking the head)
    missing,  ///< our node is not among the children (deleted, or expired with the session)
  };
  Kind kind = Kind::missing;
  std::string watch;
  /// We are at the head of the queue but unrecognised children block us (named in `unrecognised`).
  bool blocked = false;
  std::vector<std::string> unrecognised;
  /// Other children carrying our guid (a protected create applied twice): delete them.
  std::vector<std::string> stale_own;
};

/// What the contender owning `my_node` (created with `my_guid`) must do, given the listed children.
/// Only the head of the queue watches an unrecognised child, so a foreign node causes no herd.
Decision decide(const std::vector<std::string>& children, std::string_view my_node,
                std::string_view my_guid);

/// The child created with `guid` after a create whose reply was lost: the lowest in order, if any.
std::optional<std::string> find_own(const std::vector<std::string>& children,
                                    std::string_view guid);

/// Whether a thread releasing the lock hands it to a waiting thread of the same process (no
/// ZooKeeper traffic) instead of releasing it for everyone. Bounded so other processes are not
/// starved: at most `max_handoffs` handoffs in a row, and none once the process has held it for
/// `max_hold`.
/// TEST ONLY: breaks the recovery of a create whose reply was lost (the node is forgotten and a
/// second one created, instead of finding the first by its GUID), so that the fault matrix can show
/// that its F7 cell catches an unprotected create (the negative control of docs/reliability.md).
/// Implemented in contender.cpp; nothing in the library calls it.
void break_protected_create_for_testing(bool broken) noexcept;

bool hand_over_locally(std::size_t handoffs_done, std::chrono::milliseconds held_for,
                       std::size_t max_handoffs, std::chrono::milliseconds max_hold,
                       bool local_waiters);

} // namespace zk::detail::lock
