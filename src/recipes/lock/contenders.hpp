// The children of an exclusive queue's path with their data, in queue order: what
// DistributedLock::contenders and an election's participants() show. One listing and one pipelined
// round trip of reads.
#pragma once

#include <zkrecipes/distributed_lock.hpp>

#include "core/gate.hpp"
#include "recipes/lock/lock_protocol.hpp"

#include <string>
#include <vector>

namespace zk::detail::lock {

/// Every child of `path` (unrecognised ones first: under the lock's profile they block the head),
/// with its data, czxid and owner; `holder` marks the head if nothing unrecognised blocks it. Nodes
/// deleted between the listing and the reads are left out. Empty if the path does not exist.
std::vector<LockContender> list_contenders(core::Gate& gate, const std::string& path,
                                           const Profile& profile, Clock::time_point until);

} // namespace zk::detail::lock
