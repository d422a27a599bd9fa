// The decision logic of the read-write lock, with no I/O: its two node forms per profile (Curator's
// InterProcessReadWriteLock, Kazoo's WriteLock/ReadLock), whom a writer or a reader waits for, and
// the name of a downgraded writer's read node. Names, their order across the sequence wrap and the
// protected create are lock_protocol's; the ZooKeeper glue is core's queue engine. Covered by
// tests/unit/rw_protocol_test.cpp without a server.
#pragma once

#include "recipes/lock/lock_protocol.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace zk::detail::rwlock {

enum class Side { write, read };

/// The node forms of one read-write lock. The two sides of a path always use one profile: a child
/// of any other form is Errc::foreign_node (Curator and Kazoo order each other's names differently,
/// so sharing a path with the other would be unsafe).
struct RwProfile {
  const char* name;
  lock::NameForm write;
  lock::NameForm read;
};
/// `_c_<uuid>-__WRIT__<seq>` / `_c_<uuid>-__READ__<seq>` (Curator InterProcessReadWriteLock).
const RwProfile& curator_profile();
/// `<hex32>__lock__<seq>` / `<hex32>__rlock__<seq>` (Kazoo WriteLock / ReadLock).
const RwProfile& kazoo_profile();

/// The queue of one side: both forms take part, ours is the side's, and any other child fails.
lock::Profile queue_profile(const RwProfile& profile, Side side);

/// What the contender owning `me` (a node of `side`, created with `guid`) must do:
/// a writer holds when its node is first of all children and watches the one just before it;
/// a reader holds when no writer is ahead of it and watches the nearest writer ahead (never a later
/// one, the kazoo#649 deadlock). Readers hold together.
lock::Decision decide(const std::vector<std::string>& children, std::string_view me,
                      std::string_view guid, const RwProfile& profile, Side side);

/// One side of a profile as a policy of the queue engine. The read side is shared: the threads of a
/// process reading one path hold one read node together.
class RwPolicy final : public core::QueuePolicy {
public:
  RwPolicy(const RwProfile& profile, Side side);
  static const RwPolicy& of(const RwProfile& profile, Side side) noexcept;

  [[nodiscard]] const char* name() const override { return m_name.c_str(); }
  [[nodiscard]] std::string make_guid() const override;
  [[nodiscard]] std::string node_prefix(std::string_view guid) const override;
  [[nodiscard]] bool created_with(std::string_view child, std::string_view guid) const override;
  [[nodiscard]] std::optional<std::string> find_own(const std::vector<std::string>& children,
                                                    std::string_view guid) const override;
  [[nodiscard]] lock::Decision decide(const std::vector<std::string>& children, std::string_view me,
                                      std::string_view guid) const override;
  [[nodiscard]] bool shared() const override { return m_side == Side::read; }
  /// A writer whose predecessor was a writer lists again: it may have downgraded (a read node with
  /// its sequence appears just before it goes).
  [[nodiscard]] bool relist_after_delete(std::string_view predecessor) const override;

  /// The read node that replaces our write node `write_node` in a downgrade: `guid` in the read
  /// form, with the writer's sequence, so it is ordered where the writer was (before every later
  /// writer; Curator 5.5's form, CURATOR-621). Throws Errc::invalid_argument for a name of no form.
  [[nodiscard]] std::string downgrade_name(std::string_view write_node,
                                           std::string_view guid) const;
  [[nodiscard]] const RwProfile& profile() const noexcept { return m_profile; }
  [[nodiscard]] Side side() const noexcept { return m_side; }

private:
  const RwProfile& m_profile;
  const Side m_side;
  const lock::Profile m_queue; ///< both forms take part, ours is the side's
  const std::string m_name;
};

} // namespace zk::detail::rwlock
