// The decision logic of the counting semaphore, with no I/O: where its nodes go under each profile,
// the lease names, when a lease holds (every child of the lease path counts, ours included, against
// the maximum: a foreign child takes a place, as for Curator and Kazoo), and the codecs of the
// maximum stored in ZooKeeper. The ZooKeeper glue is core's queue engine (one engine per lease:
// each lease is a node of its own); everything here is covered by
// tests/unit/semaphore_protocol_test.cpp without a server.
#pragma once

#include <zkrecipes/semaphore.hpp>

#include "core/queue_policy.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zk::detail::semaphore {

/// Where a semaphore on `path` keeps its leases and its internal lock.
/// Curator (InterProcessSemaphoreV2): `<path>/leases` and `<path>/locks`.
/// Kazoo (Semaphore): `<path>` itself and the sibling `<path>-__lock__`.
struct Layout {
  std::string leases;
  std::string lock;
};
Layout layout(SemaphoreProfile profile, const std::string& path);

/// A lease's node under a profile, as a policy of the queue engine. `max` is read at every
/// decision (a SharedCount changes it while contenders wait).
class LeasePolicy final : public core::QueuePolicy {
public:
  LeasePolicy(SemaphoreProfile profile, std::shared_ptr<const std::atomic<std::int32_t>> max);
  [[nodiscard]] const char* name() const override;
  [[nodiscard]] bool sequential() const override;
  [[nodiscard]] std::string make_guid() const override;
  /// Curator: `_c_<guid>-lease-` (the server appends the sequence). Kazoo: `<guid>` (32 hex).
  [[nodiscard]] std::string node_prefix(std::string_view guid) const override;
  [[nodiscard]] bool created_with(std::string_view child, std::string_view guid) const override;
  [[nodiscard]] std::optional<std::string> find_own(const std::vector<std::string>& children,
                                                    std::string_view guid) const override;
  /// Held while the children, ours included and our stale duplicates excluded, are at most `max`;
  /// otherwise wait for any change of them.
  [[nodiscard]] core::QueueDecision decide(const std::vector<std::string>& children,
                                           std::string_view me,
                                           std::string_view guid) const override;

private:
  SemaphoreProfile m_profile;
  std::shared_ptr<const std::atomic<std::int32_t>> m_max;
};

/// A Curator SharedCount's value: exactly 4 bytes, a big-endian int32. Throws Errc::bad_data
/// naming `path` for anything else.
std::int32_t decode_shared_count(std::string_view data, std::string_view path);
/// The maximum a Kazoo Semaphore stores in its path's data: ASCII decimal digits. nullopt for data
/// that is not a number (Kazoo then skips its check: the node may serve another purpose); a number
/// beyond int32 saturates (it matches no maximum).
std::optional<std::int64_t> parse_kazoo_max(std::string_view data);

} // namespace zk::detail::semaphore
